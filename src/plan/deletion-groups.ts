import type { DeleteEntry } from "./plan-schema.js";

/**
 * Splits one repository's planned deletions into groups that stand or fall together: a subject with
 * its referrers, an index with its children (transitively). Each group keeps the plan's order, and
 * groups come in the order of their first member. Pure.
 */
export function deletionGroups(entries: readonly DeleteEntry[]): DeleteEntry[][] {
  const parent = new Map<string, string>(entries.map((e) => [e.digest, e.digest]));
  const root = (d: string): string => {
    let r = d;
    while (parent.get(r) !== r) r = parent.get(r) as string;
    // Path compression keeps long chains (nested indexes, referrer chains) near-linear.
    let c = d;
    while (parent.get(c) !== r) {
      const next = parent.get(c) as string;
      parent.set(c, r);
      c = next;
    }
    return r;
  };
  const join = (a: string, b: string) => {
    if (!parent.has(a) || !parent.has(b)) return;
    const ra = root(a);
    const rb = root(b);
    if (ra !== rb) parent.set(rb, ra);
  };
  for (const e of entries) {
    if (e.subject) join(e.digest, e.subject);
    for (const c of e.children ?? []) join(e.digest, c);
  }
  const groups = new Map<string, DeleteEntry[]>();
  for (const e of entries) {
    const r = root(e.digest);
    const g = groups.get(r);
    if (g) g.push(e);
    else groups.set(r, [e]);
  }
  return [...groups.values()];
}

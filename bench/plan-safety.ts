import type { Plan } from "../src/plan/plan-schema.js";
import type { Synthetic } from "./synthetic-inventory.js";

/**
 * Safety invariant 1 and the deletion order, checked against the generator's own graph (not the
 * planner's): nothing in use, no index listing something in use, no child of a kept index and no
 * referrer of a kept subject is in delete[]; a deleted subject precedes its referrers and a deleted
 * index its children. Returns what is wrong, one line each; empty when the plan is safe.
 */
export function checkPlanSafety(synthetic: Synthetic, plan: Plan): string[] {
  const problems: string[] = [];
  const position = new Map<string, number>();
  plan.delete.forEach((d, i) => {
    position.set(`${d.repository}@${d.digest}`, i);
  });
  for (const repo of synthetic.inventory.repositories) {
    const at = (digest: string) => position.get(`${repo.name}@${digest}`);
    const used = synthetic.inUse.get(repo.name) ?? new Set();
    for (const digest of used)
      if (at(digest) !== undefined) problems.push(`${repo.name}@${digest}: in use, deleted`);
    for (const m of repo.manifests) {
      const self = at(m.digest);
      for (const child of m.children) {
        const c = at(child);
        if (used.has(child) && self !== undefined)
          problems.push(`${repo.name}@${m.digest}: lists in-use ${child}, deleted`);
        if (self === undefined && c !== undefined)
          problems.push(`${repo.name}@${child}: child of kept index, deleted`);
        if (self !== undefined && c !== undefined && c < self)
          problems.push(`${repo.name}@${child}: deleted before its index`);
      }
      if (m.subject) {
        const s = at(m.subject);
        if (s === undefined && self !== undefined)
          problems.push(`${repo.name}@${m.digest}: referrer of kept subject, deleted`);
        if (s !== undefined && self !== undefined && self < s)
          problems.push(`${repo.name}@${m.digest}: deleted before its subject`);
      }
    }
  }
  return problems;
}

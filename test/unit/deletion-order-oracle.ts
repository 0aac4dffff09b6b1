import type { ManifestNode } from "../../src/inventory/graph.js";
import type { Digest } from "../../src/oci/digest.js";

/**
 * The deletion order as it was before issue 13 (re-sorting the ready list after every item): kept
 * verbatim as the oracle the faster implementation must agree with on every graph.
 */
export function oracleDeletionOrder(nodes: readonly ManifestNode[]): Digest[] {
  const inSet = new Map(nodes.map((n) => [n.digest, n]));
  const before = new Map<Digest, Set<Digest>>(); // digest -> what must be deleted before it
  const after = new Map<Digest, Digest[]>();
  const edge = (first: Digest, then: Digest) => {
    if (first === then || !inSet.has(first) || !inSet.has(then)) return;
    const set = before.get(then) ?? new Set();
    if (set.has(first)) return;
    set.add(first);
    before.set(then, set);
    after.set(first, [...(after.get(first) ?? []), then]);
  };
  for (const n of nodes) {
    if (n.subject) edge(n.subject, n.digest);
    for (const c of n.children) edge(n.digest, c);
  }
  const byAge = (a: Digest, b: Digest) => {
    const na = inSet.get(a) as ManifestNode;
    const nb = inSet.get(b) as ManifestNode;
    return (na.created ?? "").localeCompare(nb.created ?? "") || a.localeCompare(b);
  };
  const ready = nodes
    .filter((n) => !before.get(n.digest)?.size)
    .map((n) => n.digest)
    .sort(byAge);
  const order: Digest[] = [];
  const done = new Set<Digest>();
  while (ready.length > 0) {
    const d = ready.shift() as Digest;
    order.push(d);
    done.add(d);
    const released: Digest[] = [];
    for (const next of after.get(d) ?? []) {
      const waiting = before.get(next);
      waiting?.delete(d);
      if (!waiting?.size && !done.has(next)) released.push(next);
    }
    ready.push(...released);
    ready.sort(byAge);
  }
  for (const n of nodes) if (!done.has(n.digest)) order.push(n.digest);
  return order;
}

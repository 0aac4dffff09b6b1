import type { ManifestNode } from "../inventory/graph.js";
import type { Digest } from "../oci/digest.js";

/**
 * Orders the manifests of one repository for deletion so that a run stopped (or a deletion failed)
 * at any point leaves only garbage: a subject before its referrers (an orphan signature is garbage
 * the next run removes; a kept image that lost its signature can stop pods where signatures are
 * enforced) and an index before its children (so no index ever lists a missing child). Among
 * equals, oldest first. Content addressing makes cycles impossible,
 * but a malformed graph must not hang us, so leftovers are appended.
 */
export function deletionOrder(nodes: readonly ManifestNode[]): Digest[] {
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

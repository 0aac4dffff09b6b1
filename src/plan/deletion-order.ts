import type { ManifestNode } from "../inventory/graph.js";
import type { Digest } from "../oci/digest.js";

/**
 * Orders the manifests of one repository for deletion so that a run stopped (or a deletion failed)
 * at any point leaves only garbage: a subject before its referrers (an orphan signature is garbage
 * the next run removes; a kept image that lost its signature can stop pods where signatures are
 * enforced) and an index before its children (so no index ever lists a missing child). Among
 * equals, oldest first. Content addressing makes cycles impossible,
 * but a malformed graph must not hang us, so leftovers are appended.
 *
 * Kahn's topological sort with a binary heap for the ready set: O(n log n + edges). Every node's
 * rank in the age order is computed by one sort up front, so the heap compares integers and the
 * order is exactly that of the comparator (oldest, then digest).
 */
export function deletionOrder(input: readonly ManifestNode[]): Digest[] {
  // One node per digest (the last listed, as a map would keep it): a digest is deleted once.
  const slot = new Map<Digest, number>();
  const nodes: ManifestNode[] = [];
  for (const n of input) {
    const at = slot.get(n.digest);
    if (at === undefined) {
      slot.set(n.digest, nodes.length);
      nodes.push(n);
    } else nodes[at] = n;
  }
  const count = nodes.length;
  const waiting = new Int32Array(count);
  const after: number[][] = Array.from({ length: count }, () => []);
  const seen = new Set<number>();
  const edge = (first: Digest, then: Digest) => {
    const a = slot.get(first);
    const b = slot.get(then);
    if (a === undefined || b === undefined || a === b) return;
    const key = a * count + b;
    if (seen.has(key)) return;
    seen.add(key);
    waiting[b] = (waiting[b] as number) + 1;
    (after[a] as number[]).push(b);
  };
  for (const n of nodes) {
    if (n.subject) edge(n.subject, n.digest);
    for (const c of n.children) edge(n.digest, c);
  }
  const node = (i: number) => nodes[i] as ManifestNode;
  const byAge = (a: number, b: number) =>
    (node(a).created ?? "").localeCompare(node(b).created ?? "") ||
    node(a).digest.localeCompare(node(b).digest);
  const rank = new Int32Array(count);
  const sorted = Array.from({ length: count }, (_, i) => i).sort(byAge);
  for (let r = 0; r < count; r++) rank[sorted[r] as number] = r;
  const ready = new MinHeap(rank);
  for (let i = 0; i < count; i++) if (waiting[i] === 0) ready.push(i);
  const order: Digest[] = [];
  const done = new Uint8Array(count);
  while (ready.size > 0) {
    const i = ready.pop();
    order.push(node(i).digest);
    done[i] = 1;
    for (const next of after[i] as number[]) {
      waiting[next] = (waiting[next] as number) - 1;
      if (waiting[next] === 0) ready.push(next);
    }
  }
  for (let i = 0; i < count; i++) if (!done[i]) order.push(node(i).digest);
  return order;
}

/** Indexes into `rank`, smallest rank on top. */
class MinHeap {
  private readonly items: number[] = [];
  constructor(private readonly rank: Int32Array) {}

  get size(): number {
    return this.items.length;
  }

  push(item: number): void {
    const { items, rank } = this;
    let at = items.length;
    items.push(item);
    while (at > 0) {
      const up = (at - 1) >> 1;
      const parent = items[up] as number;
      if ((rank[parent] as number) <= (rank[item] as number)) break;
      items[at] = parent;
      at = up;
    }
    items[at] = item;
  }

  pop(): number {
    const { items, rank } = this;
    const top = items[0] as number;
    const last = items.pop() as number;
    if (items.length === 0) return top;
    let at = 0;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child =
        right < items.length &&
        (rank[items[right] as number] as number) < (rank[items[left] as number] as number)
          ? right
          : left;
      if ((rank[items[child] as number] as number) >= (rank[last] as number)) break;
      items[at] = items[child] as number;
      at = child;
    }
    items[at] = last;
    return top;
  }
}

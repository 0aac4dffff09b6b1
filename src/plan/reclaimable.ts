import type { ManifestNode } from "../inventory/graph.js";

/**
 * Bytes freed once the deleted manifests are garbage-collected: every distinct blob (manifest
 * bodies, configs, layers) they hold that no kept manifest also holds. Shared layers count once,
 * and not at all while something kept still needs them.
 */
export function reclaimableBytes(deleted: readonly ManifestNode[], kept: readonly ManifestNode[]): number {
  const stillNeeded = new Set<string>();
  for (const n of kept) {
    stillNeeded.add(n.digest);
    for (const b of n.blobs) stillNeeded.add(b.digest);
  }
  const freed = new Map<string, number>();
  for (const n of deleted) {
    if (!stillNeeded.has(n.digest)) freed.set(n.digest, n.manifestSize);
    for (const b of n.blobs) if (!stillNeeded.has(b.digest)) freed.set(b.digest, b.size);
  }
  let total = 0;
  for (const size of freed.values()) total += size;
  return total;
}

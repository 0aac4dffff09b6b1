import type { ManifestNode } from "../inventory/graph.js";

/**
 * Bytes freed once the deleted manifests are garbage-collected: every distinct blob (manifest
 * bodies, configs, layers) they hold that no kept manifest also holds. Shared layers count once,
 * and not at all while something kept still needs them.
 */
export function reclaimableBytes(deleted: readonly ManifestNode[], kept: readonly ManifestNode[]): number {
  // One set for both sides: what a kept manifest holds, then each freed blob as it is counted.
  // A digest names its bytes, so its first size is its size.
  const seen = new Set<string>();
  for (const n of kept) {
    seen.add(n.digest);
    for (const b of n.blobs) seen.add(b.digest);
  }
  let total = 0;
  for (const n of deleted) {
    if (!seen.has(n.digest)) {
      seen.add(n.digest);
      total += n.manifestSize;
    }
    for (const b of n.blobs) {
      if (seen.has(b.digest)) continue;
      seen.add(b.digest);
      total += b.size;
    }
  }
  return total;
}

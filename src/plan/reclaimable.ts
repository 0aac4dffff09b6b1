import type { ManifestNode } from "../inventory/graph.js";

/**
 * Bytes freed once the deleted manifests are garbage-collected: every distinct blob (manifest
 * bodies, configs, layers) they hold that no kept manifest also holds. Shared layers count once,
 * and not at all while something kept still needs them.
 *
 * Most blobs of a plan occur once (a manifest's own body, its config, its top layer), and a set of
 * every distinct digest was, at a million manifests, about 57 MB (plus its table while it grows) at the very moment the plan's heap
 * is largest. So a first pass counts occurrences per hash slot (two bits each, saturating at
 * "many"): a digest whose slot was hit once occurs once, and needs no set. Only the rest (shared
 * layers, and the few that share a slot by chance) go through one. The result is exact whatever the
 * hash does: a collision only sends a digest the slower way.
 */
export function reclaimableBytes(deleted: readonly ManifestNode[], kept: readonly ManifestNode[]): number {
  const counts = new SlotCounts(occurrences(deleted) + occurrences(kept));
  for (const n of kept) counts.addAll(n);
  for (const n of deleted) counts.addAll(n);
  // A digest is sized once: its first size is its size.
  const seen = new Set<string>();
  for (const n of kept) {
    if (!counts.once(n.digest)) seen.add(n.digest);
    for (const b of n.blobs) if (!counts.once(b.digest)) seen.add(b.digest);
  }
  const fresh = (digest: string): boolean => {
    if (counts.once(digest)) return true;
    if (seen.has(digest)) return false;
    seen.add(digest);
    return true;
  };
  let total = 0;
  for (const n of deleted) {
    if (fresh(n.digest)) total += n.manifestSize;
    for (const b of n.blobs) if (fresh(b.digest)) total += b.size;
  }
  return total;
}

function occurrences(nodes: readonly ManifestNode[]): number {
  let count = 0;
  for (const n of nodes) count += 1 + n.blobs.length;
  return count;
}

/** Two-bit saturating counters (0, 1, many) per hash slot, about sixteen slots per occurrence. */
class SlotCounts {
  private readonly words: Uint32Array;
  private readonly mask: number;

  constructor(occurrences: number) {
    let slots = 1 << 10;
    // 2^26 slots are 16 MB: beyond that, more slots save less set than they cost.
    while (slots < occurrences * 16 && slots < 1 << 26) slots *= 2;
    this.words = new Uint32Array(slots / 16);
    this.mask = slots - 1;
  }

  addAll(n: ManifestNode): void {
    this.add(n.digest);
    for (const b of n.blobs) this.add(b.digest);
  }

  /** True when this digest's slot was counted exactly once: no other occurrence can be this digest. */
  once(digest: string): boolean {
    const slot = this.slot(digest);
    return ((this.words[slot >>> 4] as number) >>> ((slot & 15) * 2)) % 4 === 1;
  }

  private add(digest: string): void {
    const slot = this.slot(digest);
    const word = slot >>> 4;
    const shift = (slot & 15) * 2;
    const value = this.words[word] as number;
    if (((value >>> shift) & 3) < 2) this.words[word] = value + (1 << shift);
  }

  /** FNV-1a of the digest's last sixteen characters: the hex of a digest is as random as it gets. */
  private slot(digest: string): number {
    let h = 0x811c9dc5;
    for (let i = Math.max(0, digest.length - 16); i < digest.length; i++) {
      h = Math.imul(h ^ digest.charCodeAt(i), 0x01000193);
    }
    return (h ^ (h >>> 15)) & this.mask;
  }
}

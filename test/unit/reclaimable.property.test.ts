/**
 * reclaimableBytes counts occurrences per hash slot and looks only digests that may repeat up in a
 * set (issue 13: a set of every digest was most of the plan's peak). Whatever the hash does, the
 * figure must be what one set of every digest gives.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ManifestNode } from "../../src/inventory/graph.js";
import { type Digest, sha256Digest } from "../../src/oci/digest.js";
import { reclaimableBytes } from "../../src/plan/reclaimable.js";
import { image } from "./builders.js";

/** The definition: every distinct blob of the deleted that nothing kept holds, sized once. */
function oracle(deleted: readonly ManifestNode[], kept: readonly ManifestNode[]): number {
  const seen = new Set<string>();
  for (const n of kept) for (const d of [n.digest, ...n.blobs.map((b) => b.digest)]) seen.add(d);
  let total = 0;
  for (const n of deleted) {
    for (const [d, size] of [
      [n.digest, n.manifestSize] as const,
      ...n.blobs.map((b) => [b.digest, b.size] as const),
    ]) {
      if (seen.has(d)) continue;
      seen.add(d);
      total += size;
    }
  }
  return total;
}

/** Digests from a pool, so that manifests and blobs repeat, within and across the two sides. */
const digest = (pool: number) => fc.integer({ min: 0, max: pool }).map((i) => sha256Digest(`blob ${i}`));
const node = (pool: number) =>
  fc.record({
    digest: digest(pool),
    manifestSize: fc.integer({ min: 0, max: 1000 }),
    blobs: fc.array(fc.record({ digest: digest(pool), size: fc.integer({ min: 0, max: 1_000_000 }) }), {
      maxLength: 5,
    }),
  });
const toNode = (n: { digest: Digest; manifestSize: number; blobs: { digest: Digest; size: number }[] }) =>
  ({ ...image("x"), ...n }) as ManifestNode;

describe("reclaimableBytes, against one set of every digest", () => {
  it("agrees on graphs where manifests and blobs repeat", () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 400 })
          .chain((pool) =>
            fc.tuple(fc.array(node(pool), { maxLength: 60 }), fc.array(node(pool), { maxLength: 30 })),
          ),
        ([deleted, kept]) => {
          const d = deleted.map(toNode);
          const k = kept.map(toNode);
          expect(reclaimableBytes(d, k)).toBe(oracle(d, k));
        },
      ),
    );
  });

  it("agrees when thousands of digests share hash slots by chance, and on digests that are not sha256", () => {
    const deleted: ManifestNode[] = [];
    const kept: ManifestNode[] = [];
    for (let i = 0; i < 20_000; i++) {
      const blobs = [
        { digest: sha256Digest(`config ${i}`), size: i },
        { digest: sha256Digest(`shared ${i % 97}`), size: 7 },
        { digest: (i % 3 === 0 ? `odd:${i % 500}` : sha256Digest(`layer ${i}`)) as Digest, size: 3 * i },
      ];
      const n = { ...image(`m${i}`), digest: sha256Digest(`manifest ${i % 15_000}`), manifestSize: i, blobs };
      (i % 7 === 0 ? kept : deleted).push(n);
    }
    expect(reclaimableBytes(deleted, kept)).toBe(oracle(deleted, kept));
  });
});

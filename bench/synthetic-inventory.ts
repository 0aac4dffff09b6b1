/**
 * A synthetic inventory shaped like issue 13's measurements: repositories of images where 10% of
 * the manifests sit in multi-arch indexes, 5% are referrers (cosign tags or a `subject`), layers
 * are shared within a repository and across the registry, and 1% of the manifests are named by a
 * usage (half by tag, half by digest, a third of those a platform child). Deterministic: one seed
 * gives the same inventory and usages, so two runs plan the same thing.
 */
import type { BlobRef, Inventory, ManifestNode, RepositoryInventory } from "../src/inventory/graph.js";
import type { Digest } from "../src/oci/digest.js";
import { MediaType } from "../src/oci/media-types.js";
import type { Usage } from "../src/usage/usage.js";

export const SYNTHETIC_REGISTRY = "bench.example.com";
export const SYNTHETIC_NOW = new Date("2025-06-01T00:00:00.000Z");
const DAY = 86_400_000;
const HEX = Buffer.from("0123456789abcdef", "latin1");

export interface SyntheticShape {
  readonly manifests: number;
  readonly repositories?: number;
  readonly seed?: number;
}

export interface Synthetic {
  readonly inventory: Inventory;
  readonly usages: Usage[];
  /** Digests the usages name, resolved by the generator itself (tags as it assigned them). */
  readonly inUse: ReadonlyMap<string, ReadonlySet<Digest>>;
}

/** mulberry32: small, fast and good enough to shape data. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function syntheticInventory(shape: SyntheticShape): Synthetic {
  const rand = random(shape.seed ?? 13);
  const repositoryCount = Math.max(1, Math.min(shape.repositories ?? 1000, Math.floor(shape.manifests / 10)));
  // Written into one buffer and decoded once: a template of eight pieces would be a rope of
  // sixteen strings per digest, several times the memory of the flat string a scan parses.
  const digestBytes = Buffer.from("sha256:".padEnd(71, "0"), "latin1");
  const digest = (): Digest => {
    for (let i = 0; i < 8; i++) {
      const word = Math.floor(rand() * 4294967296);
      for (let j = 0; j < 8; j++) digestBytes[14 + 8 * i - j] = HEX[(word >>> (4 * j)) & 15] as number;
    }
    return digestBytes.toString("latin1") as Digest;
  };
  const globalLayers: BlobRef[] = Array.from({ length: 200 }, () => ({ digest: digest(), size: 30_000_000 }));
  const created = () => new Date(SYNTHETIC_NOW.getTime() - Math.floor(rand() * 365 * DAY)).toISOString();
  const repositories: RepositoryInventory[] = [];
  const usages: Usage[] = [];
  const inUse = new Map<string, Set<Digest>>();
  let made = 0;
  for (let r = 0; r < repositoryCount; r++) {
    const name = `team-${r % 40}/service-${r}`;
    const target = Math.round(((r + 1) * shape.manifests) / repositoryCount) - made;
    const repoLayers: BlobRef[] = Array.from({ length: 8 }, () => ({
      digest: digest(),
      size: 1_000_000 + Math.floor(rand() * 9_000_000),
    }));
    const manifests: ManifestNode[] = [];
    const images: ManifestNode[] = [];
    const image = (tags: string[], platform?: string): ManifestNode => {
      const blobs: BlobRef[] = [
        { digest: digest(), size: 1500 },
        globalLayers[Math.floor(rand() * globalLayers.length)] as BlobRef,
        repoLayers[Math.floor(rand() * repoLayers.length)] as BlobRef,
        { digest: digest(), size: 100_000 + Math.floor(rand() * 5_000_000) },
      ];
      const manifestSize = 1000;
      return {
        digest: digest(),
        mediaType: MediaType.ociManifest,
        tags,
        manifestSize,
        blobs,
        children: [],
        created: created(),
        ageSource: "config",
        ...(platform ? { platform } : {}),
        sizeBytes: manifestSize + blobs.reduce((s, b) => s + b.size, 0),
      };
    };
    let tagNo = 0;
    while (manifests.length < target) {
      const left = target - manifests.length;
      const roll = rand();
      if (roll < 0.1 / 3 && left >= 3) {
        const children = [image([], "linux/amd64"), image([], "linux/arm64")];
        const idx: ManifestNode = {
          digest: digest(),
          mediaType: MediaType.ociIndex,
          tags: [`v${++tagNo}`],
          manifestSize: 700,
          blobs: [],
          children: children.map((c) => c.digest),
          created: children[0]?.created as string,
          ageSource: "child",
          sizeBytes: 700 + children.reduce((s, c) => s + c.sizeBytes, 0),
        };
        manifests.push(idx, ...children);
        images.push(idx);
      } else if (roll < 0.1 / 3 + 0.05 && images.length > 0) {
        const subject = images[Math.floor(rand() * images.length)] as ManifestNode;
        const cosign = rand() < 0.5;
        manifests.push({
          digest: digest(),
          mediaType: MediaType.ociManifest,
          artifactType: "application/vnd.dev.cosign.artifact.sig.v1+json",
          tags: cosign ? [`${subject.digest.replace(":", "-")}.sig`] : [],
          manifestSize: 400,
          blobs: [{ digest: digest(), size: 250 }],
          children: [],
          subject: subject.digest,
          created: created(),
          ageSource: "config",
          sizeBytes: 650,
        });
      } else {
        const tags = rand() < 0.8 ? [`v${++tagNo}`] : [];
        if (tags.length > 0 && rand() < 0.1) tags.push(`build-${tagNo}`);
        const img = image(tags);
        manifests.push(img);
        images.push(img);
      }
    }
    made += manifests.length;
    repositories.push({ name, manifests });
    const used = new Set<Digest>();
    inUse.set(name, used);
    for (const m of manifests) {
      if (rand() >= 0.01 || m.subject) continue;
      const tag = m.tags[0];
      const byTag = tag !== undefined && rand() < 0.5;
      const raw = byTag
        ? `${SYNTHETIC_REGISTRY}/${name}:${tag}`
        : `${SYNTHETIC_REGISTRY}/${name}@${m.digest}`;
      usages.push({
        reference: byTag
          ? { host: SYNTHETIC_REGISTRY, repository: name, tag }
          : { host: SYNTHETIC_REGISTRY, repository: name, digest: m.digest },
        raw,
        source: `bench usage ${usages.length + 1}`,
      });
      used.add(m.digest);
    }
  }
  return {
    inventory: {
      registry: SYNTHETIC_REGISTRY,
      listsUntagged: true,
      scannedAt: SYNTHETIC_NOW.toISOString(),
      repositories,
    },
    usages,
    inUse,
  };
}

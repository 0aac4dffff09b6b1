import PQueue from "p-queue";
import { type BuiltManifest, buildImage, buildIndex, pushManifest } from "../src/fixtures/image-factory.js";
import type { Digest } from "../src/oci/digest.js";
import { parseRegistryUrl } from "../src/oci/reference.js";
import { DistributionRegistry } from "../src/registry/distribution.js";
import { HttpTransport } from "../src/registry/transport.js";

const HOUR = 3_600_000;
const YEAR = 365 * 24 * HOUR;
/** Tags per multi-arch repository that point at an index (amd64 + arm64) rather than an image. */
const INDEX_TAGS_PER_MULTI_ARCH_REPO = 4;
/** A few base layers shared by every image, as images built FROM the same base share them. */
const BASE_LAYERS = ["debian:bookworm-slim rootfs", "alpine:3.20 rootfs", "distroless/static rootfs"];

export interface SeedOptions {
  readonly repos: number;
  readonly perRepo: number;
  /** Images pushed at once (and requests in flight). */
  readonly pushConcurrency: number;
  readonly now?: Date;
}

export interface SeedResult {
  readonly repositories: readonly string[];
  /** Tags pushed: one per image (or per index). */
  readonly tags: number;
  /** Manifests in the registry: images, indexes and their children. */
  readonly manifests: number;
  readonly indexes: number;
  readonly multiArchRepos: number;
  readonly ms: number;
  readonly requests: number;
  readonly retries: number;
}

interface Push {
  readonly repository: string;
  readonly tag: string;
  readonly built: BuiltManifest;
}

export function repositoryName(r: number): string {
  return `team${r % 5}/service-${String(r).padStart(3, "0")}`;
}

function isMultiArch(r: number): boolean {
  return r % 10 === 0;
}

/** Every push the seed makes, built in memory (deterministic apart from `now`). */
export function planSeed(opts: SeedOptions): Push[] {
  const now = (opts.now ?? new Date()).getTime();
  const pushes: Push[] = [];
  for (let r = 0; r < opts.repos; r++) {
    const repository = repositoryName(r);
    const format = r % 3 === 1 ? "docker" : "oci";
    for (let j = 0; j < opts.perRepo; j++) {
      const tag = `1.${Math.floor(j / 10)}.${j % 10}`;
      // Spread over the last year, newer tags newer, repositories offset by a few hours.
      const created = new Date(now - YEAR + ((j + 0.5) / opts.perRepo) * YEAR - (r % 24) * HOUR);
      const base = BASE_LAYERS[(r + j) % BASE_LAYERS.length] as string;
      const image = (architecture: string) =>
        buildImage({
          seed: `${repository}:${tag} ${architecture}`,
          created,
          format,
          architecture,
          // One or two small layers: every image has a shared base, every other one an app layer too.
          layers: j % 2 === 0 ? [base, `app ${repository} ${tag} ${architecture}`] : [base],
        });
      const built =
        isMultiArch(r) && j < INDEX_TAGS_PER_MULTI_ARCH_REPO
          ? buildIndex([image("amd64"), image("arm64")], format)
          : image("amd64");
      pushes.push({ repository, tag, built });
    }
  }
  return pushes;
}

/** Blobs used by more than one push within a repository, e.g. the shared base layers. */
function sharedBlobs(pushes: readonly Push[]): Map<string, Map<Digest, Buffer>> {
  const seen = new Map<string, Map<Digest, { bytes: Buffer; uses: number }>>();
  const visit = (repository: string, built: BuiltManifest) => {
    const repo = seen.get(repository) ?? new Map<Digest, { bytes: Buffer; uses: number }>();
    seen.set(repository, repo);
    for (const [digest, bytes] of built.blobs) {
      const entry = repo.get(digest);
      if (entry) entry.uses++;
      else repo.set(digest, { bytes, uses: 1 });
    }
    for (const child of built.children) visit(repository, child);
  };
  for (const p of pushes) visit(p.repository, p.built);
  return new Map(
    [...seen].map(([repo, blobs]) => [
      repo,
      new Map([...blobs].filter(([, b]) => b.uses > 1).map(([d, b]) => [d, b.bytes] as [Digest, Buffer])),
    ]),
  );
}

export async function seedRegistry(url: string, opts: SeedOptions): Promise<SeedResult> {
  const started = performance.now();
  const pushes = planSeed(opts);
  const transport = new HttpTransport({ insecure: true, concurrency: opts.pushConcurrency });
  const registry = new DistributionRegistry(parseRegistryUrl(url, true), transport);
  const queue = new PQueue({ concurrency: opts.pushConcurrency });
  try {
    // distribution's filesystem driver races when one repository receives the same blob twice at
    // once (the repository's link file is rewritten in place and a concurrent reader may see it
    // empty: "DIGEST_INVALID" on the manifest PUT). So shared blobs go first, once per repository;
    // the image pushes then find them with a HEAD.
    await Promise.all(
      [...sharedBlobs(pushes)].flatMap(([repository, blobs]) =>
        [...blobs].map(([digest, bytes]) => queue.add(() => registry.putBlob(repository, digest, bytes))),
      ),
    );
    await Promise.all(
      pushes.map((p) => queue.add(() => pushManifest(registry, p.repository, p.built, [p.tag]))),
    );
  } finally {
    await transport.close();
  }
  const indexes = pushes.filter((p) => p.built.children.length > 0).length;
  return {
    repositories: [...new Set(pushes.map((p) => p.repository))],
    tags: pushes.length,
    manifests: pushes.reduce((n, p) => n + 1 + p.built.children.length, 0),
    indexes,
    multiArchRepos: new Set(pushes.filter((p) => p.built.children.length > 0).map((p) => p.repository)).size,
    ms: performance.now() - started,
    requests: transport.stats.requests,
    retries: transport.stats.retries,
  };
}

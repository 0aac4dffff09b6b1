import { type Digest, subjectOfReferrerTag } from "../oci/digest.js";
import {
  configCreated,
  configLabel,
  type Descriptor,
  type Manifest,
  parseRegistryManifest,
} from "../oci/manifest.js";
import { isImageConfigMediaType } from "../oci/media-types.js";
import type { ManifestResponse, RegistryReader } from "../registry/types.js";
import type { ContentCache } from "./content-cache.js";
import {
  type AgeSource,
  Interner,
  type Inventory,
  type ManifestNode,
  type OwnerSource,
  ownerSourceKey,
  type RepositoryInventory,
} from "./graph.js";
import { RepositoryPacer } from "./repository-pacer.js";

export interface ScanOptions {
  readonly cache: ContentCache;
  /** Only repositories this accepts are scanned in depth. */
  readonly includeRepository?: (name: string) => boolean;
  /** Repositories open at once, at most (default 16); fewer while their requests keep the transport busy. */
  readonly repositoryConcurrency?: number;
  /**
   * Requests the transport runs at once (default 8): another repository is opened only while
   * fewer than this many are in flight or queued.
   */
  readonly requestConcurrency?: number;
  /** Shared by the repositories of one scan: once one got an answer, the others skip the probe. */
  readonly referrersApi?: { answered: boolean };
  /**
   * Where a repository leaves its cache write for the scan to wait for, so that the repository's
   * working set is let go while its pack is still being written; absent: it waits itself.
   */
  readonly cacheWrites?: Promise<void>[];
  readonly onManifest?: () => void;
  readonly now?: () => Date;
  /**
   * Tags of a repository to read directly even when its listing does not name them: the in-use
   * ones. A listing alone never decides that an in-use tag is gone; only a 404 for it does.
   */
  readonly verifyTags?: (repository: string) => Iterable<string>;
  /** Where manifests name their owner; absent: nodes carry no owner. */
  readonly owner?: OwnerSource;
  /** Shared by the repositories of one scan, so that a digest is one string however often it is named. */
  readonly interner?: Interner;
}

/** Configs bigger than this are not worth a download for one timestamp. */
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

export async function scanRegistry(registry: RegistryReader, options: ScanOptions): Promise<Inventory> {
  const pacer = new RepositoryPacer(options.repositoryConcurrency ?? 16, options.requestConcurrency ?? 8);
  const pending: Promise<RepositoryInventory>[] = [];
  // What the repositories of one scan share: one string per digest, one answer from the referrers API.
  const shared = {
    ...options,
    interner: options.interner ?? new Interner(),
    referrersApi: options.referrersApi ?? { answered: false },
    cacheWrites: [] as Promise<void>[],
  };
  try {
    for await (const name of registry.repositories()) {
      if (options.includeRepository && !options.includeRepository(name)) continue;
      await pacer.slot();
      // A repository failed: the scan fails with it, and no more are opened.
      if (pacer.stopped) break;
      const reader = pacer.reader(registry);
      const work = scanRepository(reader, name, shared);
      work.then(
        () => pacer.done(true, reader),
        () => pacer.done(false, reader),
      );
      pending.push(work);
    }
  } catch (error) {
    // The catalog failed, and so does the scan: what was started must not reject unobserved.
    for (const work of pending) work.catch(() => {});
    throw error;
  }
  const repositories = (await Promise.all(pending)).sort((a, b) => a.name.localeCompare(b.name));
  // A scan is done once what it learnt is on disk (a write that fails only costs a future miss).
  await Promise.all(shared.cacheWrites);
  return {
    registry: registry.host,
    listsUntagged: registry.listsUntagged,
    scannedAt: (options.now?.() ?? new Date()).toISOString(),
    repositories,
  };
}

interface Loaded {
  readonly manifest: Manifest;
  readonly size: number;
}

/** Reads one repository: every tag, the manifests they reach, index children and referrers. */
export async function scanRepository(
  registry: RegistryReader,
  repository: string,
  options: ScanOptions,
): Promise<RepositoryInventory> {
  const { cache } = options;
  const interner = options.interner ?? new Interner();
  const ownerKey = ownerSourceKey(options.owner);
  const bodies = await cache.repository(registry.host, repository);
  const { state } = bodies;
  // A node cached under another owner key (or none) is derived again from the cached bodies:
  // its owner would be stale.
  const known = {
    ...state,
    nodes: new Map([...state.nodes].filter(([, c]) => c.ownerKey === ownerKey)),
  };
  const childPlatformsOf = new Map<Digest, [Digest, string][]>();
  const tagDigests = new Map<string, Digest>();
  const manifests = new Map<Digest, Promise<Loaded>>();
  const nodes = new Map<Digest, Promise<ManifestNode>>();
  const platforms = new Map<Digest, string>();
  const warnings: string[] = [];
  /** Tags asked for by verifyTags that the registry answered 404 for. */
  const missingTags: string[] = [];

  /**
   * An index child the registry no longer has (distribution's `garbage-collect -m` removes children
   * of tagged indexes) is reported and left out, rather than making the whole scan fail.
   */
  const loadChild = (parent: Digest, digest: Digest): Promise<ManifestNode | undefined> =>
    loadNode(digest).catch((error: unknown) => {
      if (!(error instanceof MissingManifestError)) throw error;
      nodes.delete(digest);
      const warning = `${repository}@${parent} lists ${digest}, which the registry no longer has (the index cannot be pulled for that platform)`;
      if (!warnings.includes(warning)) warnings.push(warning);
      return undefined;
    });

  const loadManifest = (digest: Digest, fetched?: ManifestResponse): Promise<Loaded> => {
    let p = manifests.get(digest);
    if (!p) {
      p = (async () => {
        let res = fetched;
        const cached = res ? undefined : bodies.get(digest);
        if (!res && !cached) {
          res = await registry.getManifest(repository, digest);
          if (!res)
            throw new MissingManifestError(
              `${repository}@${digest} is listed but the registry has no such manifest`,
            );
        }
        if (res) bodies.put(digest, res.body);
        const body = (res?.body ?? cached) as Buffer;
        const manifest =
          res?.manifest ??
          parseRegistryManifest(body, undefined, `${repository}@${digest} on ${registry.host}`);
        return { manifest, size: body.byteLength };
      })();
      manifests.set(digest, p);
    }
    return p;
  };

  // Where the registry lists its manifests with push times (ACR), that listing gives the tags and
  // the ages: no request per tag, and no config download just for a timestamp.
  const meta = await registry.registryMetadata?.(repository);

  /** The config body, when it is needed (for `created` where the registry gives no time, or for an owner label). */
  const readConfig = async (config: Descriptor): Promise<Buffer | undefined> => {
    const wanted = !meta || (options.owner !== undefined && "label" in options.owner);
    if (!wanted) return undefined;
    if (!isImageConfigMediaType(config.mediaType) || config.size > MAX_CONFIG_BYTES) return undefined;
    let body = bodies.get(config.digest);
    if (!body) {
      body = await registry.getBlob(repository, config.digest);
      bodies.put(config.digest, body);
    }
    return body;
  };

  const ownerOf = (manifest: Manifest, config: Buffer | undefined): string | undefined => {
    const source = options.owner;
    if (!source) return undefined;
    if ("annotation" in source) return manifest.annotations?.[source.annotation] || undefined;
    return config ? configLabel(config, source.label) : undefined;
  };

  const loadNode = (digest: Digest): Promise<ManifestNode> => {
    let p = nodes.get(digest);
    if (!p) {
      p = (async () => {
        const cached = known.nodes.get(digest);
        if (cached) {
          for (const [child, platform] of cached.childPlatforms ?? []) platforms.set(child, platform);
          if (cached.childPlatforms)
            childPlatformsOf.set(digest, [...cached.childPlatforms] as [Digest, string][]);
          await Promise.all(cached.node.children.map((c) => loadChild(digest, c)));
          options.onManifest?.();
          return cached.node;
        }
        const { manifest, size } = await loadManifest(digest);
        options.onManifest?.();
        if (manifest.kind === "image") {
          const config = await readConfig(manifest.config);
          const created = config && !meta ? configCreated(config) : undefined;
          const blobs = [manifest.config, ...manifest.layers].map((d) => ({
            digest: d.digest,
            size: d.size,
          }));
          return node(digest, manifest, size, {
            blobs,
            children: [],
            created,
            ageSource: created ? "config" : "unknown",
            sizeBytes: size + blobs.reduce((sum, b) => sum + b.size, 0),
            owner: ownerOf(manifest, config),
          });
        }
        const childPlatforms: [Digest, string][] = [];
        for (const child of manifest.manifests) {
          if (child.platform) {
            const { os, architecture, variant } = child.platform;
            const platform = [os, architecture, variant].filter(Boolean).join("/");
            platforms.set(child.digest, platform);
            childPlatforms.push([child.digest, platform]);
          }
        }
        childPlatformsOf.set(digest, childPlatforms);
        const children = (
          await Promise.all(manifest.manifests.map((d) => loadChild(digest, d.digest)))
        ).filter((c): c is ManifestNode => c !== undefined);
        const newest = children
          .map((c) => c.created)
          .filter((c): c is string => c !== undefined)
          .sort()
          .at(-1);
        return node(digest, manifest, size, {
          blobs: [],
          children: manifest.manifests.map((d) => d.digest),
          created: newest ? new Date(newest) : undefined,
          ageSource: newest ? "child" : "unknown",
          sizeBytes: size + children.reduce((sum, c) => sum + c.sizeBytes, 0),
          owner: ownerOf(manifest, undefined),
        });
      })();
      nodes.set(digest, p);
    }
    return p;
  };

  // A HEAD's Docker-Content-Digest alone never decides: every tag is read with one GET and its body
  // hashed (getManifest refuses a body that does not match). Warm scans save the configs, the index
  // children and the parsing, not this request.
  const resolveTag = async (tag: string, listed: boolean): Promise<void> => {
    const res = await registry.getManifest(repository, tag);
    if (!res) {
      if (!listed) missingTags.push(tag);
      return;
    }
    if (!listed) {
      warnings.push(
        `${repository}:${tag} is in use and exists, but the registry's tag list does not name it (the listing is incomplete); it is protected`,
      );
    }
    tagDigests.set(tag, res.digest);
    // The body just read is the manifest: parse it rather than fetch it again (unless already known).
    if (!known.nodes.has(res.digest)) await loadManifest(res.digest, res);
    await loadNode(res.digest);
  };

  const listed = new Set<string>();
  if (meta) {
    for (const [digest, m] of meta) for (const tag of m.tags) tagDigests.set(tag, digest);
    for (const tag of tagDigests.keys()) listed.add(tag);
    // The metadata listing is the registry's word; the tags that protect are read directly too.
    await Promise.all([
      ...[...meta.keys()].map((digest) => loadNode(digest)),
      // A 404 for a tag the listing names leaves the listing's word standing: it protects more, not less.
      ...[...(options.verifyTags?.(repository) ?? [])].map((tag) => resolveTag(tag, listed.has(tag))),
    ]);
  } else {
    const tagWork: Promise<void>[] = [];
    try {
      for await (const tag of registry.tags(repository)) {
        listed.add(tag);
        tagWork.push(resolveTag(tag, true));
      }
    } catch (error) {
      // The listing failed, and so does the scan: the reads already started must not reject unobserved.
      for (const work of tagWork) work.catch(() => {});
      throw error;
    }
    for (const tag of options.verifyTags?.(repository) ?? []) {
      if (!listed.has(tag)) tagWork.push(resolveTag(tag, false));
    }
    const untaggedWork: Promise<ManifestNode>[] = [];
    for await (const digest of registry.untagged(repository)) untaggedWork.push(loadNode(digest));
    await Promise.all([...tagWork, ...untaggedWork]);
  }

  await discoverReferrers(registry, repository, nodes, loadNode, options.referrersApi ?? { answered: false });

  const tagsOf = new Map<Digest, string[]>();
  for (const [tag, digest] of tagDigests) tagsOf.set(digest, [...(tagsOf.get(digest) ?? []), tag]);
  const all = await Promise.all(nodes.values());
  // A warm scan of an unchanged repository rewrites nothing (a file write per repository showed as
  // a tenth of a warm scan's CPU).
  const unchanged =
    known.nodes.size === state.nodes.size &&
    all.length === state.nodes.size &&
    all.every((n) => known.nodes.get(n.digest)?.node === n) &&
    sameTags(tagDigests, state.tags);
  const written = bodies.close(
    unchanged
      ? undefined
      : {
          tags: tagDigests,
          nodes: new Map(
            all.map((n) => [
              n.digest,
              {
                node: n,
                ...(childPlatformsOf.has(n.digest) ? { childPlatforms: childPlatformsOf.get(n.digest) } : {}),
                ...(ownerKey ? { ownerKey } : {}),
              },
            ]),
          ),
        },
  );
  if (options.cacheWrites) options.cacheWrites.push(written);
  else await written;

  return {
    name: repository,
    ...(warnings.length ? { warnings } : {}),
    ...(missingTags.length ? { missingTags: missingTags.sort() } : {}),
    manifests: all
      .map((n) => {
        const tags = (tagsOf.get(n.digest) ?? []).sort();
        const subject = n.subject ?? tags.map((t) => subjectOfReferrerTag(t)?.subject).find(Boolean);
        const platform = platforms.get(n.digest);
        // The registry's own time and lock win; the lock is never taken from the cache (it changes).
        const own = meta?.get(n.digest);
        const registryFacts = own
          ? {
              ...(own.created ? { created: own.created, ageSource: "registry" as const } : {}),
              ...(own.updated ? { updated: own.updated } : {}),
              ...(own.locked ? { locked: true } : {}),
              ...(own.lockedTags?.length ? { lockedTags: own.lockedTags } : {}),
              ...(own.lastPulled ? { lastPulled: own.lastPulled } : {}),
            }
          : {};
        return interner.node({
          ...n,
          tags,
          ...(subject ? { subject } : {}),
          ...(platform ? { platform } : {}),
          ...registryFacts,
        });
      })
      .sort((a, b) => a.digest.localeCompare(b.digest)),
  };
}

function sameTags(a: ReadonlyMap<string, Digest>, b: ReadonlyMap<string, Digest>): boolean {
  if (a.size !== b.size) return false;
  for (const [tag, digest] of a) if (b.get(tag) !== digest) return false;
  return true;
}

/**
 * Where the registry has the referrers API, asks it for every manifest's referrers (repeatedly,
 * since referrers can have referrers). Without it, referrers are found through their
 * `sha256-<hex>` tags, which the tag list already brought in.
 */
async function discoverReferrers(
  registry: RegistryReader,
  repository: string,
  nodes: Map<Digest, Promise<ManifestNode>>,
  loadNode: (digest: Digest) => Promise<ManifestNode>,
  referrersApi: { answered: boolean },
): Promise<void> {
  const asked = new Set<Digest>();
  for (;;) {
    const todo = [...nodes.keys()].filter((d) => !asked.has(d));
    if (todo.length === 0) return;
    for (const d of todo) asked.add(d);
    let found: (readonly Descriptor[] | undefined)[];
    if (referrersApi.answered) {
      found = await Promise.all(todo.map((d) => registry.referrers(repository, d)));
    } else {
      // Probe with one subject first: on a registry without the API that is the only request spent.
      // Once one answered, the other repositories skip this round trip (it held their last requests).
      const [first, ...rest] = todo as [Digest, ...Digest[]];
      const firstFound = await registry.referrers(repository, first);
      if (firstFound === undefined) return;
      referrersApi.answered = true;
      found = [firstFound, ...(await Promise.all(rest.map((d) => registry.referrers(repository, d))))];
    }
    await Promise.all(found.flatMap((descs) => (descs ?? []).map((d) => loadNode(d.digest))));
  }
}

function node(
  digest: Digest,
  manifest: Manifest,
  manifestSize: number,
  rest: {
    blobs: ManifestNode["blobs"];
    children: readonly Digest[];
    created: Date | undefined;
    ageSource: AgeSource;
    sizeBytes: number;
    owner?: string | undefined;
  },
): ManifestNode {
  return {
    digest,
    mediaType: manifest.mediaType,
    ...(manifest.artifactType ? { artifactType: manifest.artifactType } : {}),
    tags: [],
    manifestSize,
    blobs: rest.blobs,
    children: rest.children,
    ...(manifest.subject ? { subject: manifest.subject.digest } : {}),
    ...(rest.created ? { created: rest.created.toISOString() } : {}),
    ageSource: rest.ageSource,
    sizeBytes: rest.sizeBytes,
    ...(rest.owner ? { owner: rest.owner } : {}),
  };
}

/** A manifest a listing named that the registry does not have. */
export class MissingManifestError extends Error {
  override name = "MissingManifestError";
}

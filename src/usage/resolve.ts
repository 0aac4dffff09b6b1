import type { Inventory, RepositoryInventory } from "../inventory/graph.js";
import type { Digest } from "../oci/digest.js";
import { canonicalHost, formatReference } from "../oci/reference.js";
import type { ImageRecord, Usage } from "./usage.js";

/** In-use digests per repository, each with who uses it. */
export type InUseIndex = ReadonlyMap<string, ReadonlyMap<Digest, readonly Usage[]>>;

export interface Resolution {
  readonly inUse: InUseIndex;
  /** References to this registry that could not be tied to a manifest (a workload that will fail to pull). */
  readonly warnings: readonly string[];
  /** How many references named other registries and were set aside. */
  readonly otherRegistries: number;
  /** Those references, in the order found, with who uses them. */
  readonly setAside: readonly Usage[];
  /** Repositories of this registry that at least one reference names. */
  readonly usedRepositories: ReadonlySet<string>;
}

/**
 * Ties references to digests, using the tag map the scan read (that is, at plan time). Hosts are
 * compared exactly after canonicalisation, never by substring: `notmyacr.azurecr.io` is not
 * `myacr.azurecr.io`. A repository outside the scan cannot lose anything, so it is not resolved.
 */
export function resolveUsages(
  inventory: Inventory,
  usages: readonly Usage[],
  aliases: readonly string[] = [],
): Resolution {
  const hosts = new Set([inventory.registry, ...aliases].map(canonicalHost));
  const byRepository = new Map(inventory.repositories.map((r) => [r.name, r]));
  const inUse = new Map<string, Map<Digest, Usage[]>>();
  const warnings: string[] = [];
  const setAside: Usage[] = [];
  const usedRepositories = new Set<string>();
  const add = (repository: string, digest: Digest, usage: Usage) => {
    const repo = inUse.get(repository) ?? new Map<Digest, Usage[]>();
    inUse.set(repository, repo);
    const list = repo.get(digest);
    if (list) list.push(usage);
    else repo.set(digest, [usage]);
  };
  const tagsOf = tagMaps();
  for (const usage of usages) {
    const ref = usage.reference;
    if (!hosts.has(canonicalHost(ref.host))) {
      setAside.push(usage);
      continue;
    }
    usedRepositories.add(ref.repository);
    if (ref.digest) {
      add(ref.repository, ref.digest, usage);
      continue;
    }
    const repo = byRepository.get(ref.repository);
    if (!repo) continue;
    const target = ref.tag === undefined ? undefined : tagsOf(repo).get(ref.tag);
    if (target) add(ref.repository, target, usage);
    else
      warnings.push(
        `${formatReference(ref)} (${usage.source}) names a tag the registry does not have: that workload cannot pull it`,
      );
  }
  return { inUse, warnings, otherRegistries: setAside.length, setAside, usedRepositories };
}

/** Database records per repository and digest (tags tied to digests as the scan read them). */
export type RecordIndex = ReadonlyMap<string, ReadonlyMap<Digest, readonly ImageRecord[]>>;

/** Ties records to digests as resolveUsages ties references; records of other registries are ignored. */
export function resolveRecords(
  inventory: Inventory,
  records: readonly ImageRecord[],
  aliases: readonly string[] = [],
): RecordIndex {
  const hosts = new Set([inventory.registry, ...aliases].map(canonicalHost));
  const byRepository = new Map(inventory.repositories.map((r) => [r.name, r]));
  const tagsOf = tagMaps();
  const out = new Map<string, Map<Digest, ImageRecord[]>>();
  for (const record of records) {
    const ref = record.reference;
    if (!hosts.has(canonicalHost(ref.host))) continue;
    const repo = byRepository.get(ref.repository);
    const digest = ref.digest ?? (repo && ref.tag !== undefined ? tagsOf(repo).get(ref.tag) : undefined);
    if (!digest) continue;
    const perRepo = out.get(ref.repository) ?? new Map<Digest, ImageRecord[]>();
    out.set(ref.repository, perRepo);
    const list = perRepo.get(digest);
    if (list) list.push(record);
    else perRepo.set(digest, [record]);
  }
  return out;
}

/**
 * Tag -> digest per repository, built on first use: one pass over a repository instead of one
 * search per reference. A tag on two manifests (a malformed listing) names the first, as a search would.
 */
function tagMaps(): (repo: RepositoryInventory) => ReadonlyMap<string, Digest> {
  const maps = new Map<RepositoryInventory, Map<string, Digest>>();
  return (repo) => {
    let map = maps.get(repo);
    if (!map) {
      map = new Map();
      for (const m of repo.manifests) for (const t of m.tags) if (!map.has(t)) map.set(t, m.digest);
      maps.set(repo, map);
    }
    return map;
  };
}

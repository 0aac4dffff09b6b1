import { throwIfAborted } from "../errors.js";
import type { Inventory, OwnerSource } from "../inventory/graph.js";
import { scanRegistry } from "../inventory/scan.js";
import { parseRepositoryFilter, repositorySelected } from "../policy/filter.js";
import { inShard, type Shard } from "../policy/shard.js";
import { inUseTagsByRepository } from "../usage/in-use-tags.js";
import type { Usage } from "../usage/usage.js";
import type { RunOptions } from "./events.js";
import type { OpenedRegistry } from "./open-registry.js";

export interface ScanOptions extends RunOptions {
  /** `REPO_REGEX[:TAG_REGEX]` (acr purge syntax); only repositories some filter matches are read. Default: all. */
  readonly filters?: readonly string[];
  /** Or any test of a repository's name (filters are ignored when this is given). */
  readonly repositories?: (name: string) => boolean;
  /**
   * The in-use references: each of their tags in this registry is read directly, so a listing that
   * leaves one out cannot make its image look unused.
   */
  readonly usages?: readonly Usage[];
  /** Other names references use for this registry (a private endpoint, a pull-through name). */
  readonly aliases?: readonly string[];
  readonly now?: () => Date;
  /** Where manifests name their owner (an annotation, or a config label): plan entries carry it. */
  readonly owner?: OwnerSource;
  /**
   * Only the repositories of this shard (first 4 bytes of sha256(name) mod count) are read, on top
   * of the filters: N runs with shards 0..N-1 read each repository exactly once between them.
   */
  readonly shard?: Shard;
}

/**
 * Reads the registry into an Inventory: every repository (or those the filters select), every tag
 * (a GET, hashed), the manifests they reach, index children and referrers. Listings that cannot be
 * completed and bodies that do not match their digest fail the scan.
 */
export async function scan(opened: OpenedRegistry, options: ScanOptions = {}): Promise<Inventory> {
  const filters = (options.filters ?? []).map(parseRepositoryFilter);
  const { signal } = options;
  throwIfAborted(signal, "scan");
  const registry =
    signal && opened.registry.withSignal ? opened.registry.withSignal(signal) : opened.registry;
  const inUseTags = inUseTagsByRepository(options.usages ?? [], registry.host, options.aliases);
  let manifests = 0;
  const selected = options.repositories
    ? options.repositories
    : filters.length
      ? (name: string) => repositorySelected(filters, name)
      : undefined;
  const { shard } = options;
  const includeRepository =
    shard && shard.count > 1
      ? (name: string) => inShard(shard, name) && (selected?.(name) ?? true)
      : selected;
  return scanRegistry(registry, {
    cache: opened.cache,
    ...(opened.concurrency ? { requestConcurrency: opened.concurrency } : {}),
    ...(includeRepository ? { includeRepository } : {}),
    verifyTags: (repository) => inUseTags.get(repository) ?? [],
    onManifest: () => {
      throwIfAborted(signal, "scan");
      options.onEvent?.({ type: "scanned", manifests: ++manifests });
    },
    ...(options.now ? { now: options.now } : {}),
    ...(options.owner ? { owner: options.owner } : {}),
  });
}

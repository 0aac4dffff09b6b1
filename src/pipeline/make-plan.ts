import type { Inventory, OwnerSource } from "../inventory/graph.js";
import { NO_USAGE_SOURCES_WARNING } from "../plan/no-usage-sources.js";
import type { Plan } from "../plan/plan-schema.js";
import { repositorySelected } from "../policy/filter.js";
import type { PurgePolicy } from "../policy/purge-policy.js";
import type { Shard } from "../policy/shard.js";
import type { Resolution } from "../usage/resolve.js";
import type { ImageRecord, Usage } from "../usage/usage.js";
import type { RunOptions } from "./events.js";
import type { OpenedRegistry } from "./open-registry.js";
import { asPurgePolicy, type PolicySpec, planWithResolution } from "./plan.js";
import { lookUpPullRequests, type PullRequestSpec } from "./pull-requests.js";
import { scan } from "./scan.js";
import { type LoadUsagesOptions, loadUsageFindings, type SourceSpec } from "./usages.js";

export interface MakePlanOptions extends RunOptions {
  readonly registry: OpenedRegistry;
  /** What is in use; none at all is allowed, and the plan then warns that nothing is protected. */
  readonly sources: readonly SourceSpec[];
  /** How the sources are loaded (Azure settings, standard input, timeout). */
  readonly usage?: Omit<LoadUsagesOptions, "signal" | "onEvent">;
  readonly policy: PurgePolicy | PolicySpec;
  readonly aliases?: readonly string[];
  /** Delete the images of closed pull requests (their statuses are looked up after the scan). */
  readonly pullRequests?: PullRequestSpec;
  /** The sources as the plan records them, for apply to read again. */
  readonly usageSpec?: Plan["usage"];
  readonly now?: () => Date;
  /** Where manifests name their owner when no usage source does. */
  readonly owner?: OwnerSource;
  /** Plan only this shard's repositories (see ScanOptions.shard); the plan records it. */
  readonly shard?: Shard;
}

export interface MadePlan {
  readonly plan: Plan;
  readonly inventory: Inventory;
  readonly usages: readonly Usage[];
  /** Database records that keep nothing (owners, targets, clean-ups). */
  readonly records: readonly ImageRecord[];
  readonly resolution: Resolution;
}

/**
 * Usage first (a required source that fails stops the run before any registry work), then the
 * scan (reading every in-use tag directly), then the pure plan.
 */
export async function makePlan(options: MakePlanOptions): Promise<MadePlan> {
  const { signal, onEvent } = options;
  const run = { ...(signal ? { signal } : {}), ...(onEvent ? { onEvent } : {}) };
  const policy = asPurgePolicy(options.policy);
  if (options.sources.length === 0) onEvent?.({ type: "warning", message: NO_USAGE_SOURCES_WARNING });
  // A policy as written names the window that pull-record sources (acrPullLogs) read.
  const pulledWithin =
    "protectPulledWithin" in options.policy ? options.policy.protectPulledWithin : undefined;
  const { usages, records, targeting } = await loadUsageFindings(options.sources, {
    ...(pulledWithin ? { pulledWithin } : {}),
    ...options.usage,
    ...run,
  });
  const inventory = await scan(options.registry, {
    ...run,
    repositories: (name) => repositorySelected(policy.filters, name),
    usages,
    ...(options.aliases ? { aliases: options.aliases } : {}),
    ...(options.owner ? { owner: options.owner } : {}),
    ...(options.shard ? { shard: options.shard } : {}),
  });
  const withPullRequests = options.pullRequests
    ? {
        ...policy,
        pullRequests: await lookUpPullRequests(
          inventory,
          // --untagged deletes what untagging leaves untagged, as untaggedAfterUntag does.
          {
            ...options.pullRequests,
            deleteLeftUntagged: options.pullRequests.deleteLeftUntagged || policy.untagged,
          },
          run,
        ),
      }
    : policy;
  const { plan, resolution } = planWithResolution({
    inventory,
    usages,
    policy: withPullRequests,
    now: options.now?.() ?? new Date(),
    ...(options.aliases ? { aliases: options.aliases } : {}),
    registryUrl: options.registry.url,
    registryType: options.registry.type === "oci-layout" ? "distribution" : options.registry.type,
    ...(options.usageSpec ? { usage: options.usageSpec } : {}),
    sourceCount: options.sources.length,
    records,
    targeting,
  });
  const sharded = options.shard
    ? { ...plan, shard: { index: options.shard.index, count: options.shard.count } }
    : plan;
  return { plan: sharded, inventory, usages, records, resolution };
}

import { UsageError } from "../errors.js";
import type { Inventory } from "../inventory/graph.js";
import type { Digest } from "../oci/digest.js";
import { buildPlan } from "../plan/build-plan.js";
import { NO_USAGE_SOURCES_WARNING } from "../plan/no-usage-sources.js";
import type { Plan } from "../plan/plan-schema.js";
import { recordCleanups } from "../plan/record-cleanups.js";
import { parseAgo, parseDuration } from "../policy/duration.js";
import { parseFilter, parseProtectTag } from "../policy/filter.js";
import type { PurgePolicy } from "../policy/purge-policy.js";
import { type RecordIndex, type Resolution, resolveRecords, resolveUsages } from "../usage/resolve.js";
import type { ImageRecord, Usage } from "../usage/usage.js";

/** A policy as a caller writes it: acr purge's words, parsed by `purgePolicy`. */
export interface PolicySpec {
  /** `REPO_REGEX:TAG_REGEX`, repository anchored, tag not (as acr purge). */
  readonly filters: readonly string[];
  /** `30d`, `1d12h`, `90m`: only manifests older than this. */
  readonly ago?: string;
  /** Keep the newest N distinct digests that would otherwise be deleted, per repository. */
  readonly keep?: number;
  readonly untagged?: boolean;
  /** acr purge --untagged-only: only untagged manifests; no filter means every repository. */
  readonly untaggedOnly?: boolean;
  /** What --ago and --keep read: created (default) or updated (ACR's lastUpdateTime, as acr purge). */
  readonly ageFrom?: "created" | "updated";
  readonly scope?: "all" | "used-repositories";
  /** `30d`: keep what the registry says was pulled within this long (ECR records pulls). */
  readonly protectPulledWithin?: string;
  /** Tag regexes (matched whole, the filters' dialect): a manifest carrying a tag one matches stays. */
  readonly protectTags?: readonly string[];
}

/** A PurgePolicy from its written form; a filter or duration that does not parse is a UsageError. */
export function purgePolicy(spec: PolicySpec): PurgePolicy & { readonly ago?: string } {
  const agoMs = spec.ago === undefined ? undefined : parseAgo(spec.ago);
  if (spec.ago !== undefined && agoMs === undefined) {
    throw new UsageError(
      `--ago ${JSON.stringify(spec.ago)} is not a duration (examples: 30d, 1d12h, 90m, -1d for any age)`,
    );
  }
  const pulledMs =
    spec.protectPulledWithin === undefined ? undefined : parseDuration(spec.protectPulledWithin);
  if (spec.protectPulledWithin !== undefined && !pulledMs) {
    throw new UsageError(
      `--protect-pulled-within ${JSON.stringify(spec.protectPulledWithin)} is not a duration (examples: 30d, 12h)`,
    );
  }
  if (spec.untagged && spec.untaggedOnly) {
    throw new UsageError(
      "--untagged and --untagged-only contradict each other: give one (acr purge refuses both too)",
    );
  }
  if (spec.ageFrom !== undefined && spec.ageFrom !== "created" && spec.ageFrom !== "updated") {
    throw new UsageError(`--age-from ${JSON.stringify(spec.ageFrom)}: use created or updated`);
  }
  const filters = spec.filters.length === 0 && spec.untaggedOnly ? [".*:.*"] : spec.filters;
  return {
    ...(pulledMs ? { protectPulledWithinMs: pulledMs } : {}),
    filters: filters.map(parseFilter),
    ...(agoMs !== undefined ? { agoMs, ago: spec.ago } : {}),
    ...(spec.keep !== undefined ? { keep: spec.keep } : {}),
    untagged: spec.untagged ?? false,
    ...(spec.untaggedOnly ? { untaggedOnly: true } : {}),
    ...(spec.ageFrom ? { ageFrom: spec.ageFrom } : {}),
    ...(spec.scope ? { scope: spec.scope } : {}),
    ...(spec.protectTags?.length ? { protectTags: spec.protectTags.map(parseProtectTag) } : {}),
  };
}

export interface PlanInput {
  readonly inventory: Inventory;
  readonly usages: readonly Usage[];
  /** Parsed (`purgePolicy(...)`) or as written. */
  readonly policy: PurgePolicy | PolicySpec;
  readonly now: Date;
  /** Other names references use for this registry. */
  readonly aliases?: readonly string[];
  /** Recorded in the plan so that `apply` reaches the registry and re-reads the sources the same way. */
  readonly registryUrl?: string;
  readonly registryType?: Plan["registryType"];
  readonly usage?: Plan["usage"];
  /** How many usage sources were read: with none, the plan says loudly that nothing is protected. */
  readonly sourceCount?: number;
  /** Database records that keep nothing: owners, `--object-ids` targets, clean-ups after deletion. */
  readonly records?: readonly ImageRecord[];
  /** Only targeted records' images may go (a source was given `--object-ids`), even if none matched. */
  readonly targeting?: boolean;
}

/**
 * The decision, for every manifest of an inventory, with every reason: what to delete, in a safe
 * order, and what to keep. Pure and synchronous: a cached or synthetic Inventory plans the same
 * as a live one.
 */
export function plan(input: PlanInput): Plan {
  return planWithResolution(input).plan;
}

/** plan(), and how the in-use references were tied to digests (for reports of who uses what). */
export function planWithResolution(input: PlanInput): { plan: Plan; resolution: Resolution } {
  const records = resolveRecords(input.inventory, input.records ?? [], input.aliases ?? []);
  const policy = withTargets(asPurgePolicy(input.policy), input.targeting === true, records);
  const resolution = resolveUsages(input.inventory, input.usages, input.aliases ?? []);
  const ago = "ago" in policy && typeof policy.ago === "string" ? policy.ago : agoText(policy.agoMs);
  const result = buildPlan({
    inventory: input.inventory,
    policy,
    resolution,
    records,
    now: input.now,
    ...(input.usages.some((u) => u.pulledAt !== undefined) ? { pullRecords: true } : {}),
    ...(input.registryUrl ? { registryUrl: input.registryUrl } : {}),
    ...(input.registryType ? { registryType: input.registryType } : {}),
    ...(input.usage ? { usage: input.usage } : {}),
    options: {
      filters: policy.filters.map((f) => f.text),
      ago,
      keep: policy.keep ?? null,
      untagged: policy.untagged,
      ...(policy.untaggedOnly ? { untaggedOnly: true } : {}),
      ...(policy.ageFrom ? { ageFrom: policy.ageFrom } : {}),
      ...(policy.protectTags?.length ? { protectTags: policy.protectTags.map((p) => p.source) } : {}),
    },
  });
  if (input.sourceCount === 0) result.warnings.unshift(NO_USAGE_SOURCES_WARNING);
  const cleanups = recordCleanups(records, result.delete);
  return { plan: cleanups.length ? { ...result, recordCleanups: cleanups } : result, resolution };
}

/** With targeting, only digests a targeted record names may go; none targeted means nothing may go. */
function withTargets(policy: PurgePolicy, targeting: boolean, records: RecordIndex): PurgePolicy {
  if (!targeting) return policy;
  const digests = new Map<string, Set<Digest>>();
  for (const [repository, byDigest] of records) {
    for (const [digest, list] of byDigest) {
      if (!list.some((r) => r.targeted)) continue;
      const set = digests.get(repository) ?? new Set<Digest>();
      digests.set(repository, set);
      set.add(digest);
    }
  }
  return { ...policy, targets: { label: "--object-ids", digests } };
}

/**
 * A policy as given, parsed if it is still written out. Written filters are strings; a written
 * `ago` without `agoMs` is a spec even when it has no filters.
 */
export function asPurgePolicy(policy: PurgePolicy | PolicySpec): PurgePolicy {
  const written =
    policy.filters.some((f) => typeof f === "string") ||
    (typeof (policy as PolicySpec).ago === "string" && !("agoMs" in policy)) ||
    // --untagged-only may come without filters; a parsed policy always has them.
    (policy.filters.length === 0 && policy.untaggedOnly === true) ||
    (policy.protectTags ?? []).some((p) => typeof p === "string");
  return written ? purgePolicy(policy as PolicySpec) : (policy as PurgePolicy);
}

/** A PurgePolicy built by hand carries milliseconds; the plan records a duration acr purge would accept. */
function agoText(ms: number | undefined): string | null {
  if (ms === undefined) return null;
  return ms % 86_400_000 === 0 ? `${ms / 86_400_000}d` : `${Math.round(ms / 60_000)}m`;
}

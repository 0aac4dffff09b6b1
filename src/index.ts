/**
 * regsweep as a library: the same pipeline the CLI runs. Open a registry, load what is in use,
 * scan, plan (pure), write and read plans, apply them with backup, journal and re-check, restore.
 * Every call takes an options object with `signal` (cancel) and `onEvent` (warnings, progress).
 */
export type { ItemResult, ItemStatus } from "./apply/execute-plan.js";
export type {
  DeleteSetting,
  GarbageCollection,
  InClusterRegistry,
  InClusterRegistrySettings,
} from "./apply/in-cluster-registry.js";
export type { Config, PullRequestRuleConfig, UsageSourceConfig } from "./config/config-schema.js";
export {
  AbortedError,
  ExitCode,
  exitCodeOf,
  RegistryError,
  UsageError,
  UsageSourceError,
} from "./errors.js";
export type {
  AgeSource,
  BlobRef,
  Inventory,
  ManifestNode,
  OwnerSource,
  RepositoryInventory,
} from "./inventory/graph.js";
export type { Digest } from "./oci/digest.js";
export { type ImageReference, parseReference } from "./oci/reference.js";
export {
  type ApplyCounts,
  type ApplyOptions,
  type ApplyResult,
  apply,
  type InClusterOutcome,
  planId,
} from "./pipeline/apply.js";
export type { OnEvent, PipelineEvent, RunOptions } from "./pipeline/events.js";
export { importAcrPurge } from "./pipeline/import-acr-purge.js";
export { importAksCleanup } from "./pipeline/import-aks-cleanup.js";
export { type ImportedConfig, type ImportNote, importedYaml } from "./pipeline/imported-config.js";
export { type MadePlan, type MakePlanOptions, makePlan } from "./pipeline/make-plan.js";
export {
  type OpenedRegistry,
  type OpenRegistryOptions,
  openRegistry,
  type RegistryType,
} from "./pipeline/open-registry.js";
export { type PlanInput, type PolicySpec, plan, purgePolicy } from "./pipeline/plan.js";
export { readPlan, writePlan } from "./pipeline/plan-file.js";
export { lookUpPullRequests, type PullRequestSpec } from "./pipeline/pull-requests.js";
export { type RestoreOptions, type RestoreResult, restore } from "./pipeline/restore.js";
export { type ScanOptions, scan } from "./pipeline/scan.js";
export {
  type LoadUsagesOptions,
  loadUsageFindings,
  loadUsages,
  type ReferenceList,
  type SourceSpec,
  type UsageFindings,
  usageSources,
} from "./pipeline/usages.js";
export type { DeleteEntry, KeepEntry, Plan } from "./plan/plan-schema.js";
export type { Filter, FilterPattern } from "./policy/filter.js";
export type { PullRequestLookup, PullRequestRule } from "./policy/pull-request-rule.js";
export type { PurgePolicy } from "./policy/purge-policy.js";
export { parseShard, type Shard, shardOfRepository } from "./policy/shard.js";
export {
  defaultDeleteWhen,
  makePullRequestProvider,
  type PullRequestCredentials,
} from "./pullrequest/make-provider.js";
export type { PullRequestProvider, PullRequestStatus } from "./pullrequest/provider.js";
export { formatPlanCommands } from "./report/plan-commands.js";
export { type SizeReport, sizeReport } from "./report/size-report.js";
export { mongoRecordCleaner, type RecordCleaner } from "./usage/record-cleaner.js";
export type { Findings, ImageRecord, RecordCleanup, Usage, UsageSource } from "./usage/usage.js";

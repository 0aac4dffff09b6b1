import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { writeAudit } from "../apply/audit.js";
import type { BackupTarget } from "../apply/backup/backup-target.js";
import { type ExecuteOutcome, executePlan, type ItemResult, type ItemStatus } from "../apply/execute-plan.js";
import {
  DELETE_ENABLED_VAR,
  type GarbageCollection,
  type InClusterRegistry,
  InClusterRegistryError,
} from "../apply/in-cluster-registry.js";
import { Journal } from "../apply/journal.js";
import { liveInUse } from "../apply/live-usage.js";
import { newlyProtected } from "../apply/recheck.js";
import { AbortedError, UsageError } from "../errors.js";
import { canonicalHost } from "../oci/reference.js";
import type { Plan } from "../plan/plan-schema.js";
import type { RecordCleaner } from "../usage/record-cleaner.js";
import type { Usage } from "../usage/usage.js";
import type { RunOptions } from "./events.js";
import type { OpenedRegistry } from "./open-registry.js";
import { type LoadUsagesOptions, loadUsages, type SourceSpec } from "./usages.js";

export interface ApplyOptions extends RunOptions {
  readonly registry: OpenedRegistry;
  /** The journal (JSON lines, fsynced); by convention next to the plan file, `plan.json.journal`. */
  readonly journalPath: string;
  /** Continue the run the journal records; without it an existing journal is refused. */
  readonly resume?: boolean;
  /** With resume: attempt again what the journal records as failed. */
  readonly retryFailed?: boolean;
  /** `dir:PATH`, `oci-archive:PATH.tar` or `s3://bucket/prefix`: every manifest is copied and verified first. */
  readonly backup?: string;
  readonly s3Endpoint?: string;
  /** Usage sources read again right before deleting; absent: no usage re-check. */
  readonly recheck?: readonly SourceSpec[];
  /** How the re-check loads its sources (Azure settings, standard input, timeout). */
  readonly usage?: Omit<LoadUsagesOptions, "signal" | "onEvent">;
  /** Other names references use for this registry. */
  readonly aliases?: readonly string[];
  /**
   * Carries out the plan's database clean-ups (`recordCleanups`), each once all its images are
   * deleted; without it a plan that has some fails before deleting anything.
   */
  readonly cleanRecord?: RecordCleaner;
  /** Repositories worked on at once (default 4). */
  readonly concurrency?: number;
  /**
   * The registry runs in Kubernetes (registry.kubernetes): deletes are enabled on its workload only
   * while this run deletes, then it is garbage-collected, and the previous setting always restored.
   */
  readonly inClusterRegistry?: InClusterRegistry;
  /** How long the restore may take once the run was cancelled (default 60 s): it never uses the aborted signal. */
  readonly restoreTimeoutMs?: number;
  /** Write an audit record of this run there. */
  readonly audit?: {
    readonly dir: string;
    readonly command: string;
    /** The options as given, already free of secrets. */
    readonly configuration: Record<string, unknown>;
    readonly startedAt?: Date;
    readonly identity?: Record<string, unknown>;
  };
}

export type ApplyCounts = Record<ItemStatus, number> & { readonly fromJournal: number };

/** What apply did to an in-cluster registry's workload. */
export interface InClusterOutcome {
  readonly workload: string;
  /** REGISTRY_STORAGE_DELETE_ENABLED before this run (or the run the journal records); absent: no env entry. */
  readonly previous?: string;
  readonly alreadyEnabled: boolean;
  readonly enabled: boolean;
  readonly restored: boolean;
  readonly garbageCollection?: GarbageCollection & { readonly ok: boolean };
}

export interface ApplyResult {
  readonly results: readonly ItemResult[];
  readonly inClusterRegistry?: InClusterOutcome;
  readonly counts: ApplyCounts;
  readonly journalPath: string;
  readonly auditPath?: string;
}

/** A plan's identity, so a journal is never resumed against another plan. */
export function planId(plan: Plan): string {
  // The bytes of JSON.stringify(plan.delete), fed entry by entry: the same id as ever, and no
  // string a million-manifest plan would overflow.
  const hash = createHash("sha256").update("[");
  plan.delete.forEach((entry, i) => {
    hash.update(i === 0 ? JSON.stringify(entry) : `,${JSON.stringify(entry)}`);
  });
  return hash.update("]").update(plan.createdAt).digest("hex").slice(0, 16);
}

/** Refuses (UsageError) a plan already applied or interrupted unless resuming: before anyone is asked to confirm. */
export function assertNotApplied(journalPath: string, resume: boolean): void {
  if (existsSync(journalPath) && !resume) {
    throw new UsageError(
      `${journalPath} exists: this plan was already applied (or interrupted). Resume with --resume, or make a new plan.`,
    );
  }
}

/**
 * The dangerous half: re-read usage, back up, delete through the executor with a journal, and
 * write the audit record. Aborting `signal` stops starting new deletions; those in flight finish
 * and are journaled, the journal says `interrupted`, the audit is written, and the call rejects
 * with AbortedError — what Ctrl+C does. Per-item outcomes arrive as `item` events and in the result.
 */
export async function apply(plan: Plan, options: ApplyOptions): Promise<ApplyResult> {
  const startedAt = options.audit?.startedAt ?? new Date();
  const { signal, onEvent } = options;
  const cluster = options.inClusterRegistry;
  let clusterOutcome: InClusterOutcome | undefined;
  const writeTheAudit = async (results: readonly ItemResult[], error?: string) =>
    options.audit
      ? writeAudit(options.audit.dir, {
          mode: "apply",
          command: options.audit.command,
          plan,
          results,
          startedAt,
          finishedAt: new Date(),
          configuration: options.audit.configuration,
          ...(options.audit.identity ? { identity: options.audit.identity } : {}),
          ...(error ? { error } : {}),
          ...(clusterOutcome ? { inClusterRegistry: auditOf(clusterOutcome) } : {}),
        })
      : undefined;
  if (plan.delete.length === 0 && !plan.untag?.length) {
    const auditPath = await writeTheAudit([]);
    return {
      results: [],
      counts: countsOf([]),
      journalPath: options.journalPath,
      ...(auditPath ? { auditPath } : {}),
    };
  }
  assertNotApplied(options.journalPath, options.resume ?? false);
  if (plan.recordCleanups?.length && !options.cleanRecord) {
    throw new UsageError(
      `the plan changes ${plan.recordCleanups.length} database record(s) after deleting: give apply a cleanRecord (the CLI uses the configuration's MongoDB sources)`,
    );
  }
  const journal = Journal.open(options.journalPath, planId(plan), options.resume ?? false, {
    retryFailed: options.retryFailed ?? false,
    onWarning: (message) => onEvent?.({ type: "warning", message }),
  });
  const repositories = new Set([...plan.delete, ...(plan.untag ?? [])].map((d) => d.repository));
  let target: BackupTarget | undefined;
  let outcome: ExecuteOutcome = { results: [], interrupted: false };
  // Collected as they come, so that a run stopped by an error still audits what it did.
  const done: ItemResult[] = [];
  let error: Error | undefined;
  const note = (message: string) => onEvent?.({ type: "in-cluster-registry", message });
  // What to restore the workload to; from the journal when an earlier run enabled deletes and died.
  let restoreTo = cluster ? journal.pendingRestore : undefined;
  const pendingWork =
    plan.delete.some((d) => !journal.isFinished(d.repository, d.digest)) ||
    (plan.untag ?? []).some((u) => !journal.isFinished(u.repository, u.digest, u.tag));
  if (cluster) {
    clusterOutcome = {
      workload: cluster.description,
      ...(restoreTo?.previous !== undefined ? { previous: restoreTo.previous } : {}),
      alreadyEnabled: false,
      enabled: false,
      restored: false,
    };
  }
  let gcFailure: Error | undefined;
  try {
    if (cluster && clusterOutcome && pendingWork) {
      const setting = await cluster.readDeleteSetting(signal);
      if (setting.value !== "true") {
        if (!restoreTo) {
          // Journaled before the patch: whatever happens next, --resume knows what to put back.
          journal.append({
            at: new Date().toISOString(),
            step: "registry-deletes-enabled",
            previous: setting.value ?? null,
            detail: `registry deletes enabled on ${cluster.description} (previous: ${setting.value === undefined ? "absent" : JSON.stringify(setting.value)})`,
          });
          restoreTo = { previous: setting.value };
          clusterOutcome = {
            ...clusterOutcome,
            ...(setting.value !== undefined ? { previous: setting.value } : {}),
          };
        }
        await cluster.setDeleteSetting("true", signal);
        clusterOutcome = { ...clusterOutcome, enabled: true };
        note(`${cluster.description}: ${DELETE_ENABLED_VAR}=true; waiting for its pods`);
        await cluster.waitReady(signal);
      } else if (!restoreTo) {
        clusterOutcome = { ...clusterOutcome, alreadyEnabled: true };
        note(`${cluster.description}: deletes already enabled; left as they are`);
      }
      // The pods are ready, but the registry behind its service may still be starting.
      await waitForRegistry(options.registry, cluster.settings.readyTimeoutMs, signal, cluster.description);
    }
    let heldBack = new Map<string, string>();
    let tagsInUse = new Map<string, string>();
    if (options.recheck) {
      // Usage may have changed since the plan: read it again, fail closed as at plan time, and
      // read each in-use reference from the registry as it is now.
      const usages = await loadUsages(options.recheck, {
        ...options.usage,
        ...(signal ? { signal } : {}),
        ...(onEvent ? { onEvent } : {}),
      });
      heldBack = newlyProtected(
        plan.delete,
        await liveInUse(options.registry.registry, usages, repositories, options.aliases ?? []),
      );
      tagsInUse = usedTags(options.registry.registry.host, usages, options.aliases ?? []);
    }
    if (options.backup) {
      const { openBackupTarget } = await import("../apply/backup/backup-target.js");
      target = await openBackupTarget(
        options.backup,
        options.s3Endpoint ? { s3Endpoint: options.s3Endpoint, s3ForcePathStyle: true } : {},
      );
    }
    outcome = await executePlan(plan, options.registry.registry, {
      ...(options.concurrency ? { concurrency: options.concurrency } : {}),
      journal,
      heldBack,
      tagsInUse,
      ...(signal ? { stopSignal: signal } : {}),
      ...(target ? { backup: target } : {}),
      onResult: (result) => {
        done.push(result);
        onEvent?.({ type: "item", result });
      },
    });
    await target?.close();
    if (cluster && clusterOutcome && cluster.settings.garbageCollect && pendingWork && !outcome.interrupted) {
      note(`${cluster.description}: running ${"registry garbage-collect"} ${cluster.settings.configPath}`);
      const gc = await cluster.garbageCollect(signal);
      const ok = gc.exitCode === 0;
      clusterOutcome = { ...clusterOutcome, garbageCollection: { ...gc, ok } };
      journal.append({
        at: new Date().toISOString(),
        step: "garbage-collected",
        detail: `${gc.command.join(" ")} in pod ${gc.pod}: exit ${gc.exitCode}`,
      });
      onEvent?.({ type: "garbage-collected", workload: cluster.description, result: { ...gc, ok } });
      if (!ok) {
        const why = lastLine(gc.stderr) ?? lastLine(gc.stdout) ?? "no output";
        gcFailure = new InClusterRegistryError(
          `garbage-collect in pod ${gc.pod} of ${cluster.description} exited ${gc.exitCode} (${why}); the deletions stand, but their blobs still use disk: run kubectl -n ${cluster.settings.namespace} exec ${gc.pod} -- ${gc.command.join(" ")} when nothing pushes`,
        );
      }
    }
    if (!outcome.interrupted && options.cleanRecord) {
      await cleanRecords(plan, done, journal, options.cleanRecord, signal, onEvent);
    }
  } catch (e) {
    error =
      signal?.aborted && !(e instanceof AbortedError)
        ? new AbortedError("apply: cancelled", { cause: e })
        : (e as Error);
  } finally {
    if (cluster && clusterOutcome && restoreTo) {
      const failure = await restoreDeletes(
        cluster,
        restoreTo.previous,
        signal,
        options.restoreTimeoutMs ?? 60_000,
        note,
      );
      if (failure) {
        onEvent?.({ type: "warning", message: failure.message });
        error ??= failure;
      } else {
        journal.append({
          at: new Date().toISOString(),
          step: "registry-deletes-restored",
          detail: `${cluster.description}: ${restoreTo.previous === undefined ? `${DELETE_ENABLED_VAR} removed` : `${DELETE_ENABLED_VAR}=${restoreTo.previous}`}`,
        });
        clusterOutcome = { ...clusterOutcome, restored: true };
      }
    }
    error ??= gcFailure;
    journal.append({
      at: new Date().toISOString(),
      step: outcome.interrupted || error ? "interrupted" : "end",
      ...(error ? { detail: error.message } : {}),
    });
    journal.close();
  }
  const interrupted = outcome.interrupted || error instanceof AbortedError;
  const auditPath = await writeTheAudit(done, error?.message ?? (interrupted ? "interrupted" : undefined));
  const result: ApplyResult = {
    results: done,
    ...(clusterOutcome ? { inClusterRegistry: clusterOutcome } : {}),
    counts: countsOf(done),
    journalPath: options.journalPath,
    ...(auditPath ? { auditPath } : {}),
  };
  onEvent?.({ type: "applied", result, interrupted });
  if (error) throw error;
  if (interrupted)
    throw new AbortedError(`apply: cancelled; continue with --resume (journal ${options.journalPath})`);
  return result;
}

/**
 * Each planned clean-up whose images were all deleted (by this run or an earlier one), once:
 * the journal records it, so --resume never repeats it. A record is changed only after its images
 * are gone, so a run that stops leaves at worst a record naming a missing image, never the reverse.
 */
async function cleanRecords(
  plan: Plan,
  results: readonly ItemResult[],
  journal: Journal,
  cleanRecord: RecordCleaner,
  signal: AbortSignal | undefined,
  onEvent: RunOptions["onEvent"],
): Promise<void> {
  const gone = new Set(
    results
      .filter((r) => !r.tag && (r.status === "deleted" || r.status === "already-gone"))
      .map((r) => `${r.repository}@${r.digest}`),
  );
  for (const cleanup of plan.recordCleanups ?? []) {
    if (journal.cleanedRecords.has(cleanup.record)) continue;
    const missing = cleanup.images.filter((i) => !gone.has(`${i.repository}@${i.digest}`));
    if (missing.length) {
      onEvent?.({
        type: "warning",
        message: `${cleanup.record}: left as it is, ${missing.map((i) => `${i.repository}@${i.digest}`).join(", ")} was not deleted`,
      });
      continue;
    }
    if (signal?.aborted) throw new AbortedError("apply: cancelled before the database clean-ups");
    const done = await cleanRecord(cleanup, signal);
    journal.append({
      at: new Date().toISOString(),
      step: "record-cleaned",
      record: cleanup.record,
      detail: done,
    });
    onEvent?.({ type: "record", record: cleanup.record, change: cleanup.change, outcome: done });
  }
}

function countsOf(results: readonly ItemResult[]): ApplyCounts {
  const counts = { deleted: 0, untagged: 0, "already-gone": 0, skipped: 0, failed: 0, fromJournal: 0 };
  for (const r of results) {
    counts[r.status]++;
    if (r.fromJournal) counts.fromJournal++;
  }
  return counts;
}

/** `repo:tag` → who uses it, for every tag reference of this registry: such tags are never removed. */
function usedTags(host: string, usages: readonly Usage[], aliases: readonly string[]): Map<string, string> {
  const hosts = new Set([host, ...aliases].map(canonicalHost));
  const used = new Map<string, string>();
  for (const u of usages) {
    const ref = u.reference;
    if (ref.tag === undefined || !hosts.has(canonicalHost(ref.host))) continue;
    used.set(`${ref.repository}:${ref.tag}`, `now in use: ${u.source}`);
  }
  return used;
}

/**
 * Puts REGISTRY_STORAGE_DELETE_ENABLED back as it was. It runs after a cancel too, so it has its
 * own timeout instead of the run's signal; once the spec is restored, waiting for the pods is
 * skipped when the run was cancelled. Returns the failure, never throws.
 */
async function restoreDeletes(
  cluster: InClusterRegistry,
  previous: string | undefined,
  signal: AbortSignal | undefined,
  timeoutMs: number,
  note: (message: string) => void,
): Promise<Error | undefined> {
  const { namespace, kind, name } = cluster.settings;
  const setting = previous === undefined ? `${DELETE_ENABLED_VAR}-` : `${DELETE_ENABLED_VAR}=${previous}`;
  try {
    await cluster.setDeleteSetting(previous, AbortSignal.timeout(timeoutMs));
  } catch (error) {
    return new InClusterRegistryError(
      `could not restore ${DELETE_ENABLED_VAR} on ${cluster.description} (${(error as Error).message}): deletes stay enabled until you run apply --resume, or kubectl -n ${namespace} set env ${kind}/${name} ${setting}`,
      { cause: error },
    );
  }
  note(
    `${cluster.description}: ${previous === undefined ? `${DELETE_ENABLED_VAR} removed` : `${DELETE_ENABLED_VAR}=${previous}`} again`,
  );
  if (signal?.aborted) return undefined;
  try {
    await cluster.waitReady(signal);
  } catch (error) {
    if (error instanceof AbortedError) return undefined;
    return error as Error;
  }
  return undefined;
}

/** Until the registry answers /v2/ again after its pods rolled; bounded by the ready timeout. */
async function waitForRegistry(
  opened: OpenedRegistry,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  workload: string,
): Promise<void> {
  const registry = opened.registry as { ping?: () => Promise<void> };
  if (!registry.ping) return;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    if (signal?.aborted) throw new AbortedError("apply: cancelled while waiting for the registry");
    try {
      await registry.ping();
      return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new InClusterRegistryError(
        `${opened.registry.host} did not answer /v2/ within ${Math.round(timeoutMs / 1000)} s after ${workload} rolled (${(last as Error).message}): check its pods and service`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function lastLine(text: string): string | undefined {
  return text.trim().split("\n").at(-1)?.slice(0, 300) || undefined;
}

function auditOf(o: InClusterOutcome): Record<string, unknown> {
  const gc = o.garbageCollection;
  return {
    workload: o.workload,
    previous: o.previous ?? null,
    alreadyEnabled: o.alreadyEnabled,
    enabled: o.enabled,
    restored: o.restored,
    ...(gc
      ? {
          garbageCollection: {
            pod: gc.pod,
            command: gc.command,
            exitCode: gc.exitCode,
            ok: gc.ok,
            stderrTail: gc.stderr.slice(-2000),
          },
        }
      : {}),
  };
}

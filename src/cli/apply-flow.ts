import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { writeAudit } from "../apply/audit.js";
import type { BackupTarget } from "../apply/backup/backup-target.js";
import { type ExecuteOutcome, executePlan, type ItemResult } from "../apply/execute-plan.js";
import { Journal, JournalError } from "../apply/journal.js";
import { liveInUse } from "../apply/live-usage.js";
import { newlyProtected } from "../apply/recheck.js";
import type { Plan } from "../plan/plan-schema.js";
import { UsageError } from "../registry/registry-url.js";
import type { Registry } from "../registry/types.js";
import { formatBytes } from "../report/format-bytes.js";
import { startProgress } from "../report/progress.js";
import { loadUsages } from "../usage/load-usages.js";
import type { UsageSource } from "../usage/usage.js";
import { confirmDeletion } from "./confirm.js";

export interface ApplySettings {
  readonly yes: boolean;
  readonly confirm: "normal" | "strict";
  readonly auditDir: string;
  readonly configuration: Record<string, unknown>;
  readonly command: string;
  readonly startedAt: Date;
  readonly concurrency: number;
  /** Where the journal goes: next to the plan file. */
  readonly journalPath: string;
  readonly resume: boolean;
  /** With resume: attempt again the items the journal records as failed. */
  readonly retryFailed?: boolean;
  /** `dir:PATH`, `oci-archive:PATH.tar`, `s3://bucket/prefix`. */
  readonly backup?: string;
  readonly s3Endpoint?: string;
  /** Sources to re-read just before deleting; undefined with --no-recheck. */
  readonly recheck?: readonly UsageSource[];
  readonly aliases: readonly string[];
}

/** A plan's identity, so a journal is never resumed against another plan. */
export function planId(plan: Plan): string {
  return createHash("sha256")
    .update(JSON.stringify(plan.delete))
    .update(plan.createdAt)
    .digest("hex")
    .slice(0, 16);
}

/**
 * The dangerous half: confirm, re-read usage and tags, back up, delete through the executor with a
 * journal, report, and write the audit record. Ctrl+C stops starting new deletions; what is in
 * flight finishes and is journaled.
 */
export async function applyPlan(plan: Plan, registry: Registry, settings: ApplySettings): Promise<number> {
  const audit = (results: readonly ItemResult[], extra: { error?: string } = {}) =>
    writeAudit(settings.auditDir, {
      mode: "apply",
      command: settings.command,
      plan,
      results,
      startedAt: settings.startedAt,
      finishedAt: new Date(),
      configuration: settings.configuration,
      ...extra,
    });
  if (plan.delete.length === 0) {
    await audit([]);
    process.stderr.write("Nothing to delete.\n");
    return 0;
  }
  const repos = new Set(plan.delete.map((d) => d.repository));
  const summary = `About to delete ${plan.delete.length} manifests in ${repos.size} repositories of ${plan.registry}, reclaiming about ${formatBytes(plan.summary.reclaimableBytes)}.`;
  if (existsSync(settings.journalPath) && !settings.resume) {
    // Say so before asking anyone to type DELETE.
    throw new UsageError(
      `${settings.journalPath} exists: this plan was already applied (or interrupted). Resume with --resume, or make a new plan.`,
    );
  }
  if (!(await confirmDeletion(summary, settings.yes, settings.confirm))) {
    process.stderr.write("Not confirmed: nothing was deleted.\n");
    return 1;
  }
  let journal: Journal;
  try {
    journal = Journal.open(settings.journalPath, planId(plan), settings.resume, {
      retryFailed: settings.retryFailed ?? false,
      onWarning: (message) => process.stderr.write(`warning: ${message}\n`),
    });
  } catch (error) {
    if (error instanceof JournalError) throw new UsageError(error.message);
    throw error;
  }
  let target: BackupTarget | undefined;
  const stopSignal = { stopped: false };
  const onSigint = () => {
    if (stopSignal.stopped) return;
    stopSignal.stopped = true;
    process.stderr.write(
      "\nInterrupted: finishing the deletions in flight, then stopping. Nothing new starts.\n",
    );
  };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);
  let outcome: ExecuteOutcome = { results: [], interrupted: false };
  let error: Error | undefined;
  try {
    let heldBack = new Map<string, string>();
    if (settings.recheck) {
      // Usage may have changed since the plan: read it again, fail closed as at plan time, and
      // read each in-use reference from the registry as it is now.
      const usages = await loadUsages(settings.recheck);
      heldBack = newlyProtected(plan.delete, await liveInUse(registry, usages, repos, settings.aliases));
    }
    if (settings.backup) {
      const { openBackupTarget } = await import("../apply/backup/backup-target.js");
      target = await openBackupTarget(
        settings.backup,
        settings.s3Endpoint ? { s3Endpoint: settings.s3Endpoint, s3ForcePathStyle: true } : {},
      );
    }
    const sizes = new Map(plan.delete.map((d) => [`${d.repository}@${d.digest}`, d.sizeBytes]));
    const progress = startProgress(
      plan.delete.length,
      plan.delete.reduce((s, d) => s + d.sizeBytes, 0),
    );
    try {
      outcome = await executePlan(plan, registry, {
        concurrency: settings.concurrency,
        journal,
        heldBack,
        stopSignal,
        ...(target ? { backup: target } : {}),
        onResult: (r) => {
          progress.item(sizes.get(`${r.repository}@${r.digest}`) ?? 0);
          if (!r.fromJournal && r.status !== "deleted") {
            process.stderr.write(
              `${r.status.padEnd(12)} ${r.repository}@${r.digest}${r.detail ? `  ${r.detail}` : ""}\n`,
            );
          }
        },
      });
    } finally {
      progress.stop();
    }
    await target?.close();
  } catch (e) {
    error = e as Error;
  } finally {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
    journal.append({
      at: new Date().toISOString(),
      step: outcome.interrupted || error ? "interrupted" : "end",
      ...(error ? { detail: error.message } : {}),
    });
    journal.close();
  }
  const results = outcome.results;
  const auditPath = await audit(results, error ? { error: error.message } : {});
  const count = (s: ItemResult["status"]) => results.filter((r) => r.status === s).length;
  const resumed = results.filter((r) => r.fromJournal).length;
  process.stderr.write(
    `Deleted ${count("deleted")}, already gone ${count("already-gone")}, skipped ${count("skipped")}, failed ${count("failed")}${resumed ? ` (${resumed} finished by an earlier run)` : ""}. Journal: ${settings.journalPath}. Audit: ${auditPath}\n`,
  );
  if (error) throw error;
  if (outcome.interrupted) {
    process.stderr.write(
      `Stopped early. Continue with: regsweep apply <plan> --resume (journal ${settings.journalPath})\n`,
    );
    return 1;
  }
  return count("failed") > 0 ? 1 : 0;
}

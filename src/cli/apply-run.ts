import { AbortedError } from "../errors.js";
import { type ApplyOptions, apply, assertNotApplied } from "../pipeline/apply.js";
import type { PipelineEvent } from "../pipeline/events.js";
import type { Plan } from "../plan/plan-schema.js";
import { formatBytes } from "../report/format-bytes.js";
import { startProgress } from "../report/progress.js";
import { confirmDeletion } from "./confirm.js";
import { printWarnings } from "./print-events.js";

export interface ApplyRunSettings extends Omit<ApplyOptions, "signal" | "onEvent"> {
  readonly yes: boolean;
  readonly confirm: "normal" | "strict";
}

/**
 * The CLI around the pipeline's apply: refuse an applied plan before asking, confirm, turn Ctrl+C
 * into the apply's signal (in-flight work finishes and is journaled), show progress, and print
 * each item that did not go and the summary. Returns the exit code.
 */
export async function runApplyInTerminal(plan: Plan, settings: ApplyRunSettings): Promise<number> {
  const work = plan.delete.length + (plan.untag?.length ?? 0);
  if (work > 0) {
    // Say so before asking anyone to type DELETE.
    assertNotApplied(settings.journalPath, settings.resume ?? false);
    const repos = new Set([...plan.delete, ...(plan.untag ?? [])].map((d) => d.repository));
    const untags = plan.untag?.length ? ` and remove ${plan.untag.length} tags` : "";
    const summary = `About to delete ${plan.delete.length} manifests${untags} in ${repos.size} repositories of ${plan.registry}, reclaiming about ${formatBytes(plan.summary.reclaimableBytes)}.`;
    if (!(await confirmDeletion(summary, settings.yes, settings.confirm))) {
      process.stderr.write("Not confirmed: nothing was deleted.\n");
      return 1;
    }
  }
  const stop = new AbortController();
  const onSigint = () => {
    if (stop.signal.aborted) return;
    stop.abort();
    process.stderr.write(
      "\nInterrupted: finishing the deletions in flight, then stopping. Nothing new starts.\n",
    );
  };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);
  const sizes = new Map(plan.delete.map((d) => [`${d.repository}@${d.digest}`, d.sizeBytes]));
  const progress =
    work > 0
      ? startProgress(
          work,
          plan.delete.reduce((s, d) => s + d.sizeBytes, 0),
        )
      : undefined;
  let failed = 0;
  const onEvent = (event: PipelineEvent) => {
    printWarnings(event);
    if (event.type === "in-cluster-registry") process.stderr.write(`${event.message}\n`);
    if (event.type === "garbage-collected") {
      const r = event.result;
      process.stderr.write(
        `garbage-collect in pod ${r.pod} of ${event.workload}: ${r.ok ? "done" : `exit ${r.exitCode}`}\n`,
      );
    }
    if (event.type === "item") {
      const r = event.result;
      progress?.item(sizes.get(`${r.repository}@${r.digest}`) ?? 0);
      if (!r.fromJournal && r.status !== "deleted") {
        const what = r.tag ? `${r.repository}:${r.tag} (${r.digest})` : `${r.repository}@${r.digest}`;
        process.stderr.write(`${r.status.padEnd(12)} ${what}${r.detail ? `  ${r.detail}` : ""}\n`);
      }
    }
    if (event.type === "record") {
      process.stdout.write(
        `database     ${event.record}: ${event.outcome}${"set" in event.change ? ` (${JSON.stringify(event.change.set)})` : ""}\n`,
      );
    }
    if (event.type === "applied") {
      progress?.stop();
      const { counts, journalPath, auditPath } = event.result;
      failed = counts.failed;
      process.stderr.write(
        `Deleted ${counts.deleted}${counts.untagged ? `, untagged ${counts.untagged}` : ""}, already gone ${counts["already-gone"]}, skipped ${counts.skipped}, failed ${counts.failed}${counts.fromJournal ? ` (${counts.fromJournal} finished by an earlier run)` : ""}. Journal: ${journalPath}. Audit: ${auditPath ?? "(none)"}\n`,
      );
    }
  };
  try {
    await apply(plan, { ...settings, signal: stop.signal, onEvent });
    if (work === 0) process.stderr.write("Nothing to delete.\n");
  } catch (error) {
    if (!(error instanceof AbortedError) || !stop.signal.aborted) throw error;
    process.stderr.write(
      `Stopped early. Continue with: regsweep apply ${shellWord(settings.journalPath.replace(/\.journal$/, ""))} --resume (journal ${settings.journalPath})\n`,
    );
    return 1;
  } finally {
    progress?.stop();
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
  }
  return failed > 0 ? 1 : 0;
}

/** A path as a shell would need it typed. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}

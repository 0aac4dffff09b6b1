import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readFileSync, writeSync } from "node:fs";
import { z } from "zod";
import { UsageError } from "../errors.js";

export const journalStepSchema = z.object({
  at: z.string(),
  step: z.enum([
    "start",
    "backed-up",
    "deleted",
    "untagged",
    "already-gone",
    "skipped",
    "failed",
    "record-cleaned",
    "interrupted",
    "end",
    // The in-cluster registry: written before the patch, so a crash at any point is restored by --resume.
    "registry-deletes-enabled",
    "registry-deletes-restored",
    "garbage-collected",
  ]),
  repository: z.string().optional(),
  digest: z.string().optional(),
  /** For a tag removed (untag), the tag: its step is the tag's, not the manifest's. */
  tag: z.string().optional(),
  detail: z.string().optional(),
  /** On `start`: the plan this journal belongs to. */
  planId: z.string().optional(),
  /** On `record-cleaned`: the database record changed after its images were deleted. */
  record: z.string().optional(),
  /** On `registry-deletes-enabled`: REGISTRY_STORAGE_DELETE_ENABLED before it, null when the env entry was absent. */
  previous: z.string().nullable().optional(),
});
export type JournalStep = z.infer<typeof journalStepSchema>;

/** Steps after which an item is finished: resume never repeats them. */
const FINISHED = new Set<JournalStep["step"]>(["deleted", "untagged", "already-gone", "skipped", "failed"]);

/** A journal that cannot be used for this run (another plan's, or one that says it was applied): bad usage. */
export class JournalError extends UsageError {
  override name = "JournalError";
}

export interface JournalOptions {
  readonly now?: () => Date;
  /** Items an earlier run recorded as failed (and what they held back) are attempted again. */
  readonly retryFailed?: boolean;
  /** Things the user should know about the journal read, e.g. a torn last line; one line each. */
  readonly onWarning?: (message: string) => void;
}

/**
 * An append-only JSON-lines record of every step of an apply, next to its plan. Each line is
 * written and fsynced before the next step begins, so after a crash (even SIGKILL) it says exactly
 * what was done; `--resume` reads it and never repeats a finished step.
 *
 * The file is created by the first step that is written, not by open(): a run that fails before
 * it touches any item (registry unreachable, TLS refused, not confirmed) leaves no journal, so its
 * retry needs no --resume. `end` and `interrupted` are written only to a journal that exists.
 */
export class Journal {
  private fd = -1;
  readonly finished = new Map<string, JournalStep>();
  readonly backedUp = new Set<string>();
  /** Database records an earlier run already cleaned up (plan `recordCleanups`). */
  readonly cleanedRecords = new Set<string>();
  /** The in-cluster registry's deletes were enabled and not restored yet: what they were before. */
  pendingRestore: { readonly previous: string | undefined } | undefined;
  /** Items the journal records as failed that this run leaves alone (without retryFailed). */
  readonly failedLeftAlone: number;

  private constructor(
    readonly path: string,
    private readonly planId: string,
    private readonly resume: boolean,
    previous: JournalStep[],
    private readonly torn: string | undefined,
    private readonly now: () => Date,
    retryFailed: boolean,
  ) {
    for (const s of previous) {
      if (s.step === "record-cleaned" && s.record) this.cleanedRecords.add(s.record);
      this.noteRegistryStep(s);
      if (!s.repository || !s.digest) continue;
      const key = itemKey(s.repository, s.digest, s.tag);
      if (FINISHED.has(s.step)) this.finished.set(key, s);
      if (s.step === "backed-up") this.backedUp.add(key);
    }
    let failed = 0;
    for (const [key, s] of this.finished) {
      if (!retryFailed) {
        if (s.step === "failed") failed++;
        continue;
      }
      // A held-back item was skipped only because another failed: it is decided again with it.
      if (s.step === "failed" || (s.step === "skipped" && s.detail?.startsWith("held back:")))
        this.finished.delete(key);
    }
    this.failedLeftAlone = failed;
  }

  /** Opens the journal for a plan: a new one, or (with resume) the existing one for the same plan. */
  static open(path: string, planId: string, resume: boolean, options: JournalOptions = {}): Journal {
    const exists = existsSync(path);
    if (exists && !resume) {
      throw new JournalError(
        `${path} exists: this plan was already applied (or interrupted). Resume with --resume, or make a new plan.`,
      );
    }
    const read = exists ? readJournalFile(path) : { steps: [], torn: undefined };
    const previous = read.steps;
    if (resume && exists) {
      const start = previous.find((s) => s.step === "start");
      if (start?.planId && start.planId !== planId) {
        throw new JournalError(`${path} belongs to another plan (${start.planId}), not this one (${planId})`);
      }
    }
    if (read.torn !== undefined) {
      options.onWarning?.(
        `journal ${path}: ignored a torn last line (the previous run was killed mid-write); its step is done again if needed`,
      );
    }
    const journal = new Journal(
      path,
      planId,
      resume,
      previous,
      read.torn,
      options.now ?? (() => new Date()),
      options.retryFailed ?? false,
    );
    if (journal.failedLeftAlone > 0) {
      const n = journal.failedLeftAlone;
      options.onWarning?.(
        `journal ${path}: ${n} ${n === 1 ? "item" : "items"} failed in an earlier run and ${n === 1 ? "is" : "are"} left alone; add --retry-failed to attempt ${n === 1 ? "it" : "them"} again`,
      );
    }
    return journal;
  }

  isFinished(repository: string, digest: string, tag?: string): JournalStep | undefined {
    return this.finished.get(itemKey(repository, digest, tag));
  }

  isBackedUp(repository: string, digest: string): boolean {
    return this.backedUp.has(itemKey(repository, digest));
  }

  append(step: JournalStep): void {
    if (this.fd < 0) {
      const closing = step.step === "end" || step.step === "interrupted";
      // Nothing was done and no earlier run left a journal: there is nothing to resume.
      if (closing && !existsSync(this.path)) return;
      this.create();
    }
    this.write(step);
    if (step.step === "record-cleaned" && step.record) this.cleanedRecords.add(step.record);
    this.noteRegistryStep(step);
    if (step.repository && step.digest) {
      const key = itemKey(step.repository, step.digest, step.tag);
      if (FINISHED.has(step.step)) this.finished.set(key, step);
      if (step.step === "backed-up") this.backedUp.add(key);
    }
  }

  private noteRegistryStep(s: JournalStep): void {
    // The first enable's previous value is the one to restore: a later run may find "true" it set itself.
    if (s.step === "registry-deletes-enabled")
      this.pendingRestore ??= { previous: s.previous === null ? undefined : s.previous };
    if (s.step === "registry-deletes-restored") this.pendingRestore = undefined;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  /** Opens the file for appending, past any torn tail, and writes this run's `start`. */
  private create(): void {
    this.fd = openSync(this.path, "a");
    const bytes = readFileSync(this.path);
    if (this.torn !== undefined) {
      // Cut the torn bytes off, so every line of the file stays a whole step.
      ftruncateSync(this.fd, bytes.lastIndexOf(0x0a) + 1);
    } else if (bytes.byteLength > 0 && bytes.at(-1) !== 0x0a) {
      writeSync(this.fd, "\n"); // a whole step whose newline was lost
    }
    const notes = [
      ...(this.resume ? ["resume"] : []),
      ...(this.torn !== undefined ? [`ignored a torn last line: ${this.torn.slice(0, 200)}`] : []),
    ];
    this.write({
      at: this.now().toISOString(),
      step: "start",
      planId: this.planId,
      ...(notes.length ? { detail: notes.join("; ") } : {}),
    });
  }

  private write(step: JournalStep): void {
    writeSync(this.fd, `${JSON.stringify(step)}\n`);
    fsyncSync(this.fd);
  }
}

/** A torn last line (the process died mid-write) is ignored; anything else unreadable is an error. */
export function readJournal(path: string): JournalStep[] {
  return readJournalFile(path).steps;
}

/** The steps, and the torn last line if there is one (unparsable, no newline after it). */
export function readJournalFile(path: string): { steps: JournalStep[]; torn: string | undefined } {
  const lines = readFileSync(path, "utf8").split("\n");
  const steps: JournalStep[] = [];
  let torn: string | undefined;
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    try {
      steps.push(journalStepSchema.parse(JSON.parse(line)));
    } catch (error) {
      if (i === lines.length - 1) {
        torn = line; // no newline after it: torn by a crash mid-write
        return;
      }
      throw new JournalError(
        `${path} line ${i + 1} is not a journal step: ${(error as Error).message}. Move the journal aside and apply a new plan.`,
      );
    }
  });
  return { steps, torn };
}

function itemKey(repository: string, digest: string, tag?: string): string {
  return tag === undefined ? `${repository}@${digest}` : `${repository}:${tag}@${digest}`;
}

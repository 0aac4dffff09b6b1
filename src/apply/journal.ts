import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { z } from "zod";

export const journalStepSchema = z.object({
  at: z.string(),
  step: z.enum(["start", "backed-up", "deleted", "already-gone", "skipped", "failed", "interrupted", "end"]),
  repository: z.string().optional(),
  digest: z.string().optional(),
  detail: z.string().optional(),
  /** On `start`: the plan this journal belongs to. */
  planId: z.string().optional(),
});
export type JournalStep = z.infer<typeof journalStepSchema>;

/** Steps after which an item is finished: resume never repeats them. */
const FINISHED = new Set<JournalStep["step"]>(["deleted", "already-gone", "skipped", "failed"]);

export class JournalError extends Error {
  override name = "JournalError";
}

/**
 * An append-only JSON-lines record of every step of an apply, next to its plan. Each line is
 * written and fsynced before the next step begins, so after a crash (even SIGKILL) it says exactly
 * what was done; `--resume` reads it and never repeats a finished step.
 */
export class Journal {
  private fd: number;
  readonly finished = new Map<string, JournalStep>();
  readonly backedUp = new Set<string>();

  private constructor(
    readonly path: string,
    previous: JournalStep[],
  ) {
    for (const s of previous) {
      if (!s.repository || !s.digest) continue;
      const key = itemKey(s.repository, s.digest);
      if (FINISHED.has(s.step)) this.finished.set(key, s);
      if (s.step === "backed-up") this.backedUp.add(key);
    }
    this.fd = openSync(path, "a");
  }

  /** Opens the journal for a plan: a new one, or (with resume) the existing one for the same plan. */
  static open(path: string, planId: string, resume: boolean, now: () => Date = () => new Date()): Journal {
    const exists = existsSync(path);
    if (exists && !resume) {
      throw new JournalError(
        `${path} exists: this plan was already applied (or interrupted). Resume with --resume, or make a new plan.`,
      );
    }
    const previous = exists ? readJournal(path) : [];
    if (resume && exists) {
      const start = previous.find((s) => s.step === "start");
      if (start?.planId && start.planId !== planId) {
        throw new JournalError(`${path} belongs to another plan (${start.planId}), not this one (${planId})`);
      }
    }
    const journal = new Journal(path, previous);
    journal.append({
      at: now().toISOString(),
      step: "start",
      planId,
      ...(resume ? { detail: "resume" } : {}),
    });
    return journal;
  }

  isFinished(repository: string, digest: string): JournalStep | undefined {
    return this.finished.get(itemKey(repository, digest));
  }

  isBackedUp(repository: string, digest: string): boolean {
    return this.backedUp.has(itemKey(repository, digest));
  }

  append(step: JournalStep): void {
    writeSync(this.fd, `${JSON.stringify(step)}\n`);
    fsyncSync(this.fd);
    if (step.repository && step.digest) {
      const key = itemKey(step.repository, step.digest);
      if (FINISHED.has(step.step)) this.finished.set(key, step);
      if (step.step === "backed-up") this.backedUp.add(key);
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** A torn last line (the process died mid-write) is ignored; anything else unreadable is an error. */
export function readJournal(path: string): JournalStep[] {
  const lines = readFileSync(path, "utf8").split("\n");
  const steps: JournalStep[] = [];
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    try {
      steps.push(journalStepSchema.parse(JSON.parse(line)));
    } catch (error) {
      if (i === lines.length - 1) return; // no newline after it: torn by a crash mid-write
      throw new JournalError(`${path} line ${i + 1} is not a journal step: ${(error as Error).message}`);
    }
  });
  return steps;
}

function itemKey(repository: string, digest: string): string {
  return `${repository}@${digest}`;
}

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Journal, type JournalStep, readJournal } from "../../src/apply/journal.js";

const at = "2026-01-01T00:00:00.000Z";
const now = () => new Date(at);
const step = (s: JournalStep["step"], digest?: string, detail?: string): JournalStep => ({
  at,
  step: s,
  ...(digest ? { repository: "repo", digest } : {}),
  ...(detail ? { detail } : {}),
});

function journalPath(): string {
  return join(mkdtempSync(join(tmpdir(), "journal-")), "plan.json.journal");
}

/** A journal as an earlier run left it: these lines, each with its newline. */
function written(path: string, steps: JournalStep[], tail = ""): void {
  const start = { at, step: "start", planId: "p1" };
  writeFileSync(path, `${[start, ...steps].map((s) => `${JSON.stringify(s)}\n`).join("")}${tail}`);
}

describe("journal", () => {
  it("is created by the first step, not by open; a run that did nothing writes no end line", () => {
    const path = journalPath();
    const idle = Journal.open(path, "p1", false, { now });
    idle.append(step("interrupted", undefined, "registry unreachable"));
    idle.close();
    expect(existsSync(path)).toBe(false);

    const busy = Journal.open(path, "p1", false, { now });
    expect(existsSync(path)).toBe(false);
    busy.append(step("deleted", "sha256:a"));
    busy.append(step("end"));
    busy.close();
    expect(readJournal(path).map((s) => s.step)).toEqual(["start", "deleted", "end"]);
  });

  it("a torn last line is reported, ignored, and cut off before the next step, so the file reads again", () => {
    const path = journalPath();
    written(path, [step("deleted", "sha256:a")], '{"at":"2026-01-01T00:00:00.000Z","step":"del');
    const warnings: string[] = [];
    const resumed = Journal.open(path, "p1", true, { now, onWarning: (w) => warnings.push(w) });
    expect(warnings).toEqual([expect.stringMatching(/plan\.json\.journal: ignored a torn last line/)]);
    expect(resumed.isFinished("repo", "sha256:a")?.step).toBe("deleted");
    resumed.append(step("deleted", "sha256:b"));
    resumed.append(step("end"));
    resumed.close();
    const text = readFileSync(path, "utf8");
    expect(text.endsWith("\n")).toBe(true);
    expect(text).not.toContain('"step":"del"'); // no line glued onto the torn one
    const steps = readJournal(path);
    expect(steps.map((s) => s.step)).toEqual(["start", "deleted", "start", "deleted", "end"]);
    expect(steps[2]?.detail).toMatch(/resume; ignored a torn last line/);

    const warnedAgain: string[] = [];
    Journal.open(path, "p1", true, { onWarning: (w) => warnedAgain.push(w) }).close();
    expect(warnedAgain).toEqual([]);
  });

  it("a whole last step whose newline was lost is kept, and the next step starts on a new line", () => {
    const path = journalPath();
    written(path, [], JSON.stringify(step("deleted", "sha256:a")));
    const resumed = Journal.open(path, "p1", true, { now });
    expect(resumed.isFinished("repo", "sha256:a")?.step).toBe("deleted");
    resumed.append(step("end"));
    resumed.close();
    expect(readJournal(path).map((s) => s.step)).toEqual(["start", "deleted", "start", "end"]);
  });

  it("resume leaves failed items finished and counts them; retryFailed reopens them and what they held back", () => {
    const path = journalPath();
    written(path, [
      step("failed", "sha256:index", "HTTP 400"),
      step("skipped", "sha256:child", "held back: sha256:index was failed"),
      step("skipped", "sha256:moved", "tag v1 now points at sha256:other"),
      step("deleted", "sha256:gone"),
    ]);
    const warnings: string[] = [];
    const plain = Journal.open(path, "p1", true, { onWarning: (w) => warnings.push(w) });
    expect(plain.failedLeftAlone).toBe(1);
    expect(plain.isFinished("repo", "sha256:index")?.step).toBe("failed");
    expect(warnings).toEqual([expect.stringMatching(/1 item failed in an earlier run .*--retry-failed/)]);

    const retry = Journal.open(path, "p1", true, { retryFailed: true });
    expect(retry.failedLeftAlone).toBe(0);
    expect(retry.isFinished("repo", "sha256:index")).toBeUndefined();
    expect(retry.isFinished("repo", "sha256:child")).toBeUndefined();
    expect(retry.isFinished("repo", "sha256:moved")?.step).toBe("skipped");
    expect(retry.isFinished("repo", "sha256:gone")?.step).toBe("deleted");
  });

  it("a broken line before the last is an error naming the file and line", () => {
    const path = journalPath();
    written(path, [], 'not json\n{"at":"x","step":"end"}\n');
    expect(() => Journal.open(path, "p1", true)).toThrow(/plan\.json\.journal line 2 is not a journal step/);
  });
});

describe("journal: the in-cluster registry's delete setting", () => {
  const enabled = (previous: string | null): JournalStep => ({
    at,
    step: "registry-deletes-enabled",
    previous,
  });

  it("an enable with no restore after it is pending, with the first enable's previous value (absent: undefined)", () => {
    const path = journalPath();
    // A resumed run that found "true" (set by the dead run) must not make "true" the value to restore.
    written(path, [enabled(null), step("deleted", "sha256:a"), enabled("true")]);
    expect(Journal.open(path, "p1", true, { now }).pendingRestore).toEqual({ previous: undefined });
    const other = journalPath();
    written(other, [enabled("false")]);
    expect(Journal.open(other, "p1", true, { now }).pendingRestore).toEqual({ previous: "false" });
  });

  it("a restore step clears it, read back or appended", () => {
    const path = journalPath();
    written(path, [enabled("false"), step("registry-deletes-restored")]);
    expect(Journal.open(path, "p1", true, { now }).pendingRestore).toBeUndefined();
    const fresh = journalPath();
    const journal = Journal.open(fresh, "p1", false, { now });
    journal.append(enabled(null));
    expect(journal.pendingRestore).toEqual({ previous: undefined });
    journal.append(step("registry-deletes-restored"));
    expect(journal.pendingRestore).toBeUndefined();
    journal.close();
  });
});

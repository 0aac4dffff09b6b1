import { describe, expect, it } from "vitest";
import { runCli, tempDir } from "./helpers.js";

// A question nobody can answer would hang a script: these must end, and quickly.
const BOUNDED = { timeout: 15_000 };

describe("the wizard without a terminal", () => {
  it("bare regsweep prints the help on stderr and exits 2, asking nothing", BOUNDED, async () => {
    const cwd = await tempDir();
    const r = await runCli([], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Usage: regsweep/);
    expect(r.stderr).toMatch(/wizard/);
    expect(r.stdout).toBe("");
  });

  it("regsweep wizard exits 2 with one line saying what to use instead", BOUNDED, async () => {
    const cwd = await tempDir();
    const r = await runCli(["wizard"], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/terminal.*regsweep plan --config FILE/);
  });
});

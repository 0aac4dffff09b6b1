/**
 * CI's smoke run of bench/plan-scale.ts (issue 13): 10,000 synthetic manifests through plan(), the
 * streamed plan writer and reader and the audit writer. It checks safety and the round trip, never
 * time; `npm run bench:plan` measures.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkPlanSafety } from "../../bench/plan-safety.js";
import { BENCH_POLICY } from "../../bench/plan-scale.js";
import { SYNTHETIC_NOW, syntheticInventory } from "../../bench/synthetic-inventory.js";
import { writeAudit } from "../../src/apply/audit.js";
import { plan } from "../../src/pipeline/plan.js";
import { readPlan, writePlan } from "../../src/pipeline/plan-file.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("plan-scale smoke run (10,000 manifests)", () => {
  it("plans, writes, re-reads and audits without deleting anything protected", async () => {
    const dir = await mkdtemp(join(tmpdir(), "regsweep-plan-scale-"));
    dirs.push(dir);
    const synthetic = syntheticInventory({ manifests: 10_000 });
    const made = plan({
      inventory: synthetic.inventory,
      usages: synthetic.usages,
      policy: BENCH_POLICY,
      now: SYNTHETIC_NOW,
    });
    expect(made.summary.manifests).toBe(10_000);
    expect(made.delete.length).toBeGreaterThan(1000);
    expect(made.keep.some((k) => k.reasons.some((r) => r.rule === "in-use"))).toBe(true);
    expect(checkPlanSafety(synthetic, made)).toEqual([]);
    const path = join(dir, "plan.json");
    await writePlan(made, path);
    const back = await readPlan(path);
    expect(back.delete.map((d) => d.digest)).toEqual(made.delete.map((d) => d.digest));
    expect(checkPlanSafety(synthetic, back)).toEqual([]);
    const audit = await writeAudit(join(dir, "audits"), {
      mode: "dry-run",
      command: "bench",
      plan: back,
      results: [],
      startedAt: SYNTHETIC_NOW,
      finishedAt: SYNTHETIC_NOW,
      configuration: {},
    });
    const record = JSON.parse(await readFile(audit, "utf8"));
    expect(record.manifests).toHaveLength(made.delete.length);
  });

  it("the safety check sees a protected digest put in delete[]", () => {
    const synthetic = syntheticInventory({ manifests: 2000, repositories: 20 });
    const made = plan({
      inventory: synthetic.inventory,
      usages: synthetic.usages,
      policy: BENCH_POLICY,
      now: SYNTHETIC_NOW,
    });
    const used = made.keep.find((k) => k.reasons.some((r) => r.rule === "in-use"));
    expect(used).toBeDefined();
    const tampered = { ...made, delete: [...made.delete, { ...(used as (typeof made.keep)[number]) }] };
    expect(checkPlanSafety(synthetic, tampered).join("\n")).toContain("in use, deleted");
  });
});

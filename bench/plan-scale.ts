/**
 * Planning at scale (issue 13): a synthetic inventory (bench/synthetic-inventory.ts) through the
 * public plan(), the streamed plan writer and reader, and the dry-run audit writer, with wall
 * time, CPU time and peak RSS per stage and per manifest. It checks that nothing protected is in
 * delete[] and that the re-read plan deletes the same digests in the same order. It prints figures
 * and ratios, never a pass or fail on time.
 *
 *   npm run bench:plan                                  10k, 100k and 1M, each in its own process
 *   npm run bench:plan -- --manifests 1000000 [--breakdown] [--keep-files]
 *   node --expose-gc --import tsx bench/plan-scale.ts --manifests 100000 --retained
 *
 * --retained collects garbage after each stage (outside its timing), so that "heap MB" is what the
 * stage's result holds rather than whatever garbage is still about; it lowers peak RSS a little.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { writeAudit } from "../src/apply/audit.js";
import { plan } from "../src/pipeline/plan.js";
import { readPlan, writePlan } from "../src/pipeline/plan-file.js";
import { deletionOrder } from "../src/plan/deletion-order.js";
import { reclaimableBytes } from "../src/plan/reclaimable.js";
import { parseFilter } from "../src/policy/filter.js";
import type { PurgePolicy } from "../src/policy/purge-policy.js";
import { decideRepository } from "../src/policy/purge-policy.js";
import { resolveUsages } from "../src/usage/resolve.js";
import { checkPlanSafety } from "./plan-safety.js";
import { SYNTHETIC_NOW, syntheticInventory } from "./synthetic-inventory.js";

/** What the bench plans with: everything older than 30 days may go, untagged too, newest 2 of each kind stay (acr purge applies --keep to untagged too). */
export const BENCH_POLICY: PurgePolicy = {
  filters: [parseFilter(".*:.*")],
  agoMs: 30 * 86_400_000,
  keep: 2,
  untagged: true,
};

interface Stage {
  name: string;
  wallMs: number;
  cpuMs: number;
  /** Peak RSS of the process so far, MB. */
  peakRssMb: number;
  /** Heap in use after the stage; with --retained, after a full collection. */
  heapMb: number;
}

/** --retained: collect garbage after each stage (needs node --expose-gc). */
let collectAfterStage: (() => void) | undefined;

interface RunResult {
  manifests: number;
  deleted: number;
  kept: number;
  planFileBytes: number;
  auditFileBytes: number;
  stages: Stage[];
  violations: string[];
}

async function measure<T>(stages: Stage[], name: string, work: () => T | Promise<T>): Promise<T> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const result = await work();
  const used = process.cpuUsage(cpu);
  const wallMs = performance.now() - start;
  collectAfterStage?.();
  stages.push({
    name,
    wallMs,
    cpuMs: (used.user + used.system) / 1000,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    heapMb: process.memoryUsage().heapUsed / 1048576,
  });
  return result;
}

function deleteOrderHash(digests: Iterable<string>): string {
  const h = createHash("sha256");
  for (const d of digests) h.update(d).update("\n");
  return h.digest("hex");
}

/** One size, in this process. */
async function runOnce(manifests: number, breakdown: boolean, keepFiles: boolean): Promise<RunResult> {
  const stages: Stage[] = [];
  const dir = await mkdtemp(join(tmpdir(), "regsweep-plan-scale-"));
  const planPath = join(dir, "plan.json");
  try {
    const written = await (async () => {
      const synthetic = await measure(stages, "generate", () => syntheticInventory({ manifests }));
      const made = await measure(stages, "plan", () =>
        plan({
          inventory: synthetic.inventory,
          usages: synthetic.usages,
          policy: BENCH_POLICY,
          now: SYNTHETIC_NOW,
        }),
      );
      await measure(stages, "write plan", () => writePlan(made, planPath));
      if (breakdown) await measureBreakdown(stages, synthetic);
      const violations = checkPlanSafety(synthetic, made);
      return {
        violations,
        hash: deleteOrderHash(made.delete.map((d) => d.digest)),
        deleted: made.delete.length,
        kept: made.keep.length,
      };
    })();
    // Read and audited in a process of its own, as `apply` does: its memory is not the planner's.
    const applySide = JSON.parse(
      await runChild(["--reread", planPath, "--audit-dir", join(dir, "audits")], "the re-read"),
    ) as ApplySide;
    stages.push(...applySide.stages);
    if (applySide.hash !== written.hash) {
      written.violations.push("the re-read plan does not delete the same digests in the same order");
    }
    const auditPath = applySide.auditPath;
    return {
      manifests,
      deleted: written.deleted,
      kept: written.kept,
      planFileBytes: (await stat(planPath)).size,
      auditFileBytes: (await stat(auditPath)).size,
      stages,
      violations: written.violations,
    };
  } finally {
    if (keepFiles) process.stderr.write(`files kept in ${dir}\n`);
    else await rm(dir, { recursive: true, force: true });
  }
}

/** The plan's inner steps on their own (they also run inside "plan"): where its time goes. */
async function measureBreakdown(stages: Stage[], synthetic: ReturnType<typeof syntheticInventory>) {
  const { inventory, usages } = synthetic;
  const resolution = await measure(stages, "  resolve (in plan)", () => resolveUsages(inventory, usages));
  const decided = await measure(stages, "  decide (in plan)", () =>
    inventory.repositories.map((repo) =>
      decideRepository(repo, BENCH_POLICY, resolution.inUse.get(repo.name) ?? new Map(), SYNTHETIC_NOW),
    ),
  );
  await measure(stages, "  deletion order (in plan)", () =>
    inventory.repositories.map((repo, i) =>
      deletionOrder(repo.manifests.filter((m) => decided[i]?.get(m.digest)?.action === "delete")),
    ),
  );
  await measure(stages, "  reclaimable (in plan)", () => {
    const all = inventory.repositories.flatMap((repo, i) =>
      repo.manifests.map((m) => ({ m, del: decided[i]?.get(m.digest)?.action === "delete" })),
    );
    return reclaimableBytes(
      all.filter((x) => x.del).map((x) => x.m),
      all.filter((x) => !x.del).map((x) => x.m),
    );
  });
}

const f1 = (n: number) => n.toFixed(1);
const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string, n: number) => s.padStart(n);

function print(r: RunResult): void {
  const out = process.stdout;
  out.write(
    `\n${r.manifests.toLocaleString("en")} manifests: ${r.deleted.toLocaleString("en")} to delete, ${r.kept.toLocaleString("en")} kept; ` +
      `plan file ${f1(r.planFileBytes / 1048576)} MB (${Math.round(r.planFileBytes / r.manifests)} B/manifest), ` +
      `audit ${f1(r.auditFileBytes / 1048576)} MB\n`,
  );
  out.write(
    `${pad("stage", 28)}${lpad("wall s", 9)}${lpad("cpu s", 9)}${lpad("µs/manifest", 13)}${lpad("peak RSS MB", 13)}${lpad("heap MB", 9)}\n`,
  );
  for (const s of r.stages) {
    out.write(
      `${pad(s.name, 28)}${lpad((s.wallMs / 1000).toFixed(2), 9)}${lpad((s.cpuMs / 1000).toFixed(2), 9)}` +
        `${lpad(((s.wallMs * 1000) / r.manifests).toFixed(2), 13)}${lpad(f1(s.peakRssMb), 13)}${lpad(f1(s.heapMb), 9)}\n`,
    );
  }
  const chain = r.stages.filter((s) => ["plan", "write plan", "read plan", "write audit"].includes(s.name));
  const wall = chain.reduce((t, s) => t + s.wallMs, 0);
  const cpu = chain.reduce((t, s) => t + s.cpuMs, 0);
  const peak = Math.max(...r.stages.map((s) => s.peakRssMb));
  out.write(
    `${pad("plan+write+read+audit", 28)}${lpad((wall / 1000).toFixed(2), 9)}${lpad((cpu / 1000).toFixed(2), 9)}` +
      `${lpad(((wall * 1000) / r.manifests).toFixed(2), 13)}${lpad(f1(peak), 13)}\n`,
  );
  out.write(
    r.violations.length === 0
      ? "safety: nothing in use or protected is in delete[]; the re-read plan deletes the same, in the same order\n" +
          "(read plan and write audit run in a second process, as apply does: their peak RSS is that process's)\n"
      : `SAFETY VIOLATIONS (${r.violations.length}):\n${r.violations.slice(0, 20).join("\n")}\n`,
  );
}

interface ApplySide {
  stages: Stage[];
  hash: string;
  auditPath: string;
}

/** The apply side, in its own process: read the plan with apply's reader, write the dry-run audit. */
async function rereadAndAudit(planPath: string, auditDir: string): Promise<ApplySide> {
  const stages: Stage[] = [];
  const reread = await measure(stages, "read plan", () => readPlan(planPath));
  const auditPath = await measure(stages, "write audit", () =>
    writeAudit(auditDir, {
      mode: "dry-run",
      command: "bench",
      plan: reread,
      results: [],
      startedAt: SYNTHETIC_NOW,
      finishedAt: SYNTHETIC_NOW,
      configuration: {},
    }),
  );
  return { stages, hash: deleteOrderHash(reread.delete.map((d) => d.digest)), auditPath };
}

/** This script again in a child process with these arguments; what it prints. */
async function runChild(extra: string[], what: string): Promise<string> {
  const script = fileURLToPath(import.meta.url);
  const args = [...process.execArgv, script, ...extra, "--json"];
  if (collectAfterStage) args.push("--retained");
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  let text = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    text += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  if (code !== 0) throw new Error(`${what} exited with ${code}`);
  return text;
}

async function inChild(manifests: number, breakdown: boolean): Promise<RunResult> {
  const extra = ["--manifests", String(manifests)];
  if (breakdown) extra.push("--breakdown");
  return JSON.parse(await runChild(extra, `the ${manifests}-manifest run`)) as RunResult;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      manifests: { type: "string", default: "10000,100000,1000000" },
      breakdown: { type: "boolean", default: false },
      "keep-files": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      retained: { type: "boolean", default: false },
      reread: { type: "string" },
      "audit-dir": { type: "string" },
    },
    strict: true,
  });
  const sizes = values.manifests.split(",").map(Number);
  if (values.retained) {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) {
      process.stderr.write("--retained needs node --expose-gc\n");
      return 2;
    }
    collectAfterStage = gc;
  }
  if (sizes.some((n) => !Number.isInteger(n) || n < 10)) {
    process.stderr.write(
      `--manifests ${values.manifests}: give whole numbers of at least 10, comma-separated\n`,
    );
    return 2;
  }
  if (values.reread && values["audit-dir"]) {
    process.stdout.write(JSON.stringify(await rereadAndAudit(values.reread, values["audit-dir"])));
    return 0;
  }
  if (values.json) {
    const r = await runOnce(sizes[0] as number, values.breakdown, values["keep-files"]);
    process.stdout.write(JSON.stringify(r));
    return r.violations.length === 0 ? 0 : 1;
  }
  process.stdout.write(
    `plan-scale: Node ${process.version}, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")} (1/5/15 min)\n`,
  );
  const results: RunResult[] = [];
  for (const n of sizes) {
    const r =
      sizes.length === 1
        ? await runOnce(n, values.breakdown, values["keep-files"])
        : await inChild(n, values.breakdown);
    print(r);
    results.push(r);
  }
  if (results.length > 1) {
    const first = results[0] as RunResult;
    const perManifest = (r: RunResult) =>
      r.stages
        .filter((s) => ["plan", "write plan", "read plan", "write audit"].includes(s.name))
        .reduce((t, s) => t + s.wallMs, 0) / r.manifests;
    process.stdout.write("\ncost per manifest relative to the smallest run:");
    for (const r of results)
      process.stdout.write(` ${r.manifests}: ${(perManifest(r) / perManifest(first)).toFixed(2)}×`);
    process.stdout.write("\n");
  }
  process.stdout.write(
    `load average after: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}\n`,
  );
  return results.every((r) => r.violations.length === 0) ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main();
}

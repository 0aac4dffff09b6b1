import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { readJournal } from "../../src/apply/journal.js";
import { type BuiltManifest, buildImage, pushManifest } from "../../src/fixtures/image-factory.js";
import { planSchema } from "../../src/plan/plan-schema.js";
import { connect, readAudits, runCli, tempDir, uniqueRepo } from "../integration/helpers.js";

const BIN = resolve(import.meta.dirname, "../../bin/regsweep.js");
const ago = (days: number) => new Date(Date.now() - days * 86_400_000);

describe("deleting safely", () => {
  const url = inject("registryUrl");
  const host = inject("registryHost");
  const { registry } = connect(url);

  async function seed(count: number) {
    const p = uniqueRepo("safe");
    const images: BuiltManifest[] = [];
    for (let i = 0; i < count; i++) {
      const image = buildImage({ seed: `${p} ${i}`, created: ago(90) });
      await pushManifest(registry, p, image, [`v${i}`]);
      images.push(image);
    }
    const dir = await tempDir();
    return { p, images, dir, planFile: join(dir, "plan.json"), audits: join(dir, "audits") };
  }

  const makePlan = async (s: { p: string; planFile: string; audits: string }, ...extra: string[]) => {
    const res = await runCli([
      "plan",
      "--registry",
      url,
      "--filter",
      `${s.p}:.*`,
      "-o",
      s.planFile,
      "--no-cache",
      "--audit-dir",
      s.audits,
      ...extra,
    ]);
    expect(res.code, res.stderr).toBe(0);
    return planSchema.parse(JSON.parse(await readFile(s.planFile, "utf8")));
  };

  it("skips a digest that gained a tag or became in use since the plan; --no-recheck would not see the latter", async () => {
    const s = await seed(3);
    const inUse = join(s.dir, "in-use.txt");
    await writeFile(inUse, "# nothing yet\n");
    await makePlan(s, "--in-use-file", inUse);
    await registry.putManifest(
      s.p,
      "hotfix",
      s.images[0]?.mediaType ?? "",
      s.images[0]?.body ?? Buffer.alloc(0),
    );
    await writeFile(inUse, `${host}/${s.p}:v1\n`);
    const res = await runCli(["apply", s.planFile, "--yes", "--audit-dir", s.audits]);
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/skipped .*tag hotfix was added/);
    expect(res.stderr).toMatch(/skipped .*now in use: in-use-file/);
    expect(await registry.headManifest(s.p, s.images[0]?.digest ?? "")).toBeDefined();
    expect(await registry.headManifest(s.p, s.images[1]?.digest ?? "")).toBeDefined();
    expect(await registry.headManifest(s.p, s.images[2]?.digest ?? "")).toBeUndefined();
  });

  it("run --config plans from the configuration and applies it through the same executor", async () => {
    const s = await seed(2);
    const inUse = join(s.dir, "in-use.txt");
    await writeFile(inUse, `${host}/${s.p}:v0\n`);
    const config = join(s.dir, "regsweep.yaml");
    await writeFile(
      config,
      `registry:\n  url: ${url}\npolicy:\n  filters: ["${s.p}:.*"]\n  ago: 30d\nusage:\n  - type: file\n    path: ${inUse}\naudit:\n  dir: ${s.audits}\n`,
    );
    const res = await runCli(["run", "--config", config, "--yes", "--no-cache"]);
    expect(res.code, res.stderr).toBe(0);
    expect(await registry.headManifest(s.p, s.images[0]?.digest ?? "")).toBeDefined();
    expect(await registry.headManifest(s.p, s.images[1]?.digest ?? "")).toBeUndefined();
    expect((await readAudits(s.audits)).some((a) => a.name.includes("_apply_"))).toBe(true);
  });

  it("purge --apply twice in a row: the second run has its own plan and journal and finds nothing", async () => {
    const s = await seed(2);
    const args = [
      "purge",
      "--registry",
      url,
      "--filter",
      `${s.p}:.*`,
      "--apply",
      "--yes",
      "--no-usage-sources",
      "--no-cache",
      "--audit-dir",
      s.audits,
    ];
    const [first, second] = [await runCli(args), await runCli(args)];
    expect(first.code, first.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/Nothing to delete/);
  });

  it("refuses a second apply without --resume, and plans older than --max-plan-age", async () => {
    const s = await seed(1);
    const plan = await makePlan(s);
    expect(
      (await runCli(["apply", s.planFile, "--yes", "--no-usage-sources", "--audit-dir", s.audits])).code,
    ).toBe(0);
    const again = await runCli(["apply", s.planFile, "--yes", "--no-usage-sources", "--audit-dir", s.audits]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/--resume/);
    const old = join(s.dir, "old.json");
    await writeFile(old, JSON.stringify({ ...plan, createdAt: ago(2).toISOString() }));
    const stale = await runCli(["apply", old, "--yes", "--no-usage-sources", "--audit-dir", s.audits]);
    expect(stale.code).toBe(2);
    expect(stale.stderr).toMatch(/hours old.*--max-plan-age/);
  });

  it("after SIGKILL in the middle, --resume finishes the plan without repeating a step; journal and audit are complete", async () => {
    const s = await seed(12);
    await makePlan(s);
    // One request a second (HEADs included) keeps the apply slow enough to be killed mid-way.
    const child = spawn(
      process.execPath,
      [
        BIN,
        "apply",
        s.planFile,
        "--yes",
        "--no-usage-sources",
        "--rps",
        "4",
        "--concurrency",
        "1",
        "--audit-dir",
        s.audits,
      ],
      {
        stdio: "ignore",
      },
    );
    const journalPath = `${s.planFile}.journal`;
    await new Promise<void>((done, fail) => {
      const timer = setInterval(() => {
        const deleted = existsSync(journalPath)
          ? readJournal(journalPath).filter((j) => j.step === "deleted").length
          : 0;
        if (deleted >= 3) {
          clearInterval(timer);
          child.kill("SIGKILL");
          done();
        }
      }, 20);
      child.on("exit", () => {
        clearInterval(timer);
        fail(new Error("apply finished before it could be killed"));
      });
    });
    await new Promise((r) => child.once("close", r));
    const before = readJournal(journalPath);
    expect(before.at(-1)?.step).not.toBe("end");

    const resumed = await runCli([
      "apply",
      s.planFile,
      "--yes",
      "--resume",
      "--no-usage-sources",
      "--audit-dir",
      s.audits,
    ]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/finished by an earlier run/);
    for (const image of s.images) expect(await registry.headManifest(s.p, image.digest)).toBeUndefined();
    const journal = readJournal(journalPath);
    expect(journal.at(-1)?.step).toBe("end");
    const deleted = journal.filter((j) => j.step === "deleted").map((j) => j.digest);
    expect(new Set(deleted).size).toBe(deleted.length);
    const finished = new Set(
      journal.filter((j) => ["deleted", "already-gone"].includes(j.step)).map((j) => j.digest),
    );
    expect(finished.size).toBe(12);
    const audit = (await readAudits(s.audits)).filter((a) => a.name.includes("_apply_")).at(-1);
    const manifests = audit?.json.manifests as { result: { status: string } }[];
    expect(manifests.every((m) => ["deleted", "already-gone"].includes(m.result.status))).toBe(true);
  });

  it("Ctrl+C stops cleanly: in-flight work finishes, the journal says interrupted, and resume completes", async () => {
    const s = await seed(10);
    await makePlan(s);
    const journalPath = `${s.planFile}.journal`;
    const child = spawn(
      process.execPath,
      [
        BIN,
        "apply",
        s.planFile,
        "--yes",
        "--no-usage-sources",
        "--rps",
        "4",
        "--concurrency",
        "1",
        "--audit-dir",
        s.audits,
      ],
      {
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setInterval(() => {
      if (existsSync(journalPath) && readJournal(journalPath).some((j) => j.step === "deleted")) {
        clearInterval(timer);
        child.kill("SIGINT");
      }
    }, 20);
    const code = await new Promise<number | null>((r) => child.on("close", r));
    clearInterval(timer);
    expect(code).toBe(1);
    expect(stderr).toMatch(/Interrupted/);
    expect(stderr).toMatch(/--resume/);
    const journal = readJournal(journalPath);
    expect(journal.at(-1)?.step).toBe("interrupted");
    expect(readFileSync(journalPath, "utf8").endsWith("\n")).toBe(true);
    const resumed = await runCli([
      "apply",
      s.planFile,
      "--yes",
      "--resume",
      "--no-usage-sources",
      "--audit-dir",
      s.audits,
    ]);
    expect(resumed.code).toBe(0);
    for (const image of s.images) expect(await registry.headManifest(s.p, image.digest)).toBeUndefined();
  });
});

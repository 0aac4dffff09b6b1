import { existsSync, readFileSync } from "node:fs";
import { readdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, inject, it } from "vitest";
import { readJournal } from "../../src/apply/journal.js";
import { buildImage, pushManifest } from "../../src/fixtures/image-factory.js";
import { runCaller } from "../harness/module-caller.js";
import { type SilentServer, startSilentServer } from "../harness/silent-server.js";
import { connect, tempDir, uniqueRepo } from "../integration/helpers.js";

const LIBRARY = pathToFileURL(resolve(import.meta.dirname, "../../dist/index.js")).href;
const ago = (days: number) => new Date(Date.now() - days * 86_400_000);

describe("cancelling library calls", () => {
  let silent: SilentServer | undefined;
  afterEach(async () => {
    await silent?.stop();
    silent = undefined;
  });

  it("a scan of a registry that never answers rejects promptly with AbortedError, and the caller's process ends by itself", async () => {
    silent = await startSilentServer();
    const script = `
      const { openRegistry, scan } = await import(${JSON.stringify(LIBRARY)});
      const registry = await openRegistry(process.argv[1]);
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 300);
      const started = Date.now();
      try {
        await scan(registry, { signal: controller.signal });
        console.log(JSON.stringify({ outcome: "resolved" }));
      } catch (error) {
        console.log(JSON.stringify({ outcome: error.name, exitCode: error.exitCode, ms: Date.now() - started }));
      } finally {
        await registry.close();
      }`;
    const res = await runCaller(script, [silent.url], 20_000);
    expect(res.killed, res.stderr).toBe(false);
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout.trim()) as { outcome: string; exitCode: number; ms: number };
    expect(out.outcome).toBe("AbortedError");
    expect(out.exitCode).toBe(1);
    expect(out.ms).toBeLessThan(5_000);
    expect(res.ms).toBeLessThan(15_000);
  }, 30_000);

  it("an apply cancelled mid-way rejects with AbortedError and leaves the journal and audit Ctrl+C leaves; resume finishes it", async () => {
    const url = inject("registryUrl");
    const { registry } = connect(url);
    const repo = uniqueRepo("lib-cancel");
    const digests: string[] = [];
    for (let i = 0; i < 6; i++) {
      const image = buildImage({ seed: `${repo} ${i}`, created: ago(90 - i) });
      await pushManifest(registry, repo, image, [`v${i}`]);
      digests.push(image.digest);
    }
    const dir = await tempDir();
    const script = `
      const { openRegistry, scan, plan, apply } = await import(${JSON.stringify(LIBRARY)});
      const [url, repo, dir, mode] = process.argv.slice(1);
      const registry = await openRegistry(url);
      const policy = { filters: [repo + ":.*"], ago: "30d" };
      const usages = [];
      const p = plan({ inventory: await scan(registry, { filters: policy.filters }), usages, policy, now: new Date() });
      const controller = new AbortController();
      const options = {
        registry,
        journalPath: dir + "/plan.json.journal",
        concurrency: 1,
        audit: { dir: dir + "/audits", command: "library", configuration: {} },
        signal: controller.signal,
        onEvent: (e) => { if (e.type === "item" && mode === "cancel") controller.abort(); },
        resume: mode === "resume",
      };
      try {
        const { readFile } = await import("node:fs/promises");
        const chosen = mode === "resume" ? JSON.parse(await readFile(dir + "/plan.json", "utf8")) : p;
        const result = await apply(chosen, options);
        console.log(JSON.stringify({ outcome: "done", counts: result.counts }));
      } catch (error) {
        console.log(JSON.stringify({ outcome: error.name, plan: p }));
      } finally {
        await registry.close();
      }`;
    const cancelled = await runCaller(script, [url, repo, dir, "cancel"], 30_000);
    expect(cancelled.killed, cancelled.stderr).toBe(false);
    const out = JSON.parse(cancelled.stdout.trim()) as { outcome: string; plan: unknown };
    expect(out.outcome).toBe("AbortedError");
    const journal = readJournal(join(dir, "plan.json.journal"));
    expect(journal.at(-1)?.step).toBe("interrupted");
    const deleted = journal.filter((s) => s.step === "deleted").length;
    expect(deleted).toBeGreaterThanOrEqual(1);
    expect(deleted).toBeLessThan(6);
    const audits = (await readdir(join(dir, "audits"))).filter((n) => n.endsWith(".json"));
    expect(audits).toHaveLength(1);
    const audit = JSON.parse(readFileSync(join(dir, "audits", audits[0] as string), "utf8"));
    expect(audit.execution.error).toMatch(/interrupted|cancelled/);

    await writeFile(join(dir, "plan.json"), JSON.stringify(out.plan));
    const resumed = await runCaller(script, [url, repo, dir, "resume"], 30_000);
    const after = JSON.parse(resumed.stdout.trim()) as { outcome: string; counts: Record<string, number> };
    expect(after.outcome, resumed.stderr).toBe("done");
    expect(after.counts.deleted).toBe(6);
    expect(after.counts.fromJournal).toBe(deleted);
    for (const d of digests) expect(await registry.getManifest(repo, d)).toBeUndefined();
    expect(existsSync(join(dir, "plan.json.journal"))).toBe(true);
  }, 60_000);
});

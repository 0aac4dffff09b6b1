import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { buildImage, pushManifest } from "../../src/fixtures/image-factory.js";
import { type Plan, planSchema } from "../../src/plan/plan-schema.js";
import { shardOfRepository } from "../../src/policy/shard.js";
import { connect, runCli, tempDir, uniqueRepo } from "../integration/helpers.js";

const DAY = 86_400_000;
const N = 3;

describe("--shard I/N splits a registry by repository", () => {
  const url = inject("registryUrl");
  const { registry } = connect(url);
  const p = uniqueRepo("shard");
  const repos = Array.from({ length: 9 }, (_, i) => `${p}/svc${i}`);
  const dir = tempDir("regsweep-shard-");

  beforeAll(async () => {
    for (const [r, repo] of repos.entries()) {
      for (const [i, days] of [200, 120, 60 + r, 10].entries()) {
        const image = buildImage({
          seed: `${repo} ${i}`,
          created: new Date(Date.now() - days * DAY),
          layers: ["base", `${repo} ${i}`],
        });
        await pushManifest(registry, repo, image, [`v${i}`]);
      }
    }
  });

  const selection = ["--filter", `${p}/.*:.*`, "--ago", "30d", "--keep", "1", "--format", "json"];
  const planOf = async (name: string, extra: string[], env: Record<string, string> = {}): Promise<Plan> => {
    const out = join(await dir, `${name}.json`);
    const auditDir = join(await dir, "audits");
    const res = await runCli(
      ["plan", "--registry", url, ...selection, "-o", out, "--audit-dir", auditDir, ...extra],
      {
        env,
      },
    );
    expect(res.stderr).not.toMatch(/^regsweep:/m);
    expect(res.code).toBe(0);
    return planSchema.parse(JSON.parse(await readFile(out, "utf8")));
  };
  const key = (e: { repository: string; digest: string }) => `${e.repository}@${e.digest}`;

  it("N shards together plan exactly what one run plans, each manifest in one shard", async () => {
    const full = await planOf("full", []);
    const shards = await Promise.all(
      Array.from({ length: N }, (_, i) => planOf(`shard${i}`, ["--shard", `${i}/${N}`])),
    );

    // Enough work for every shard, so the split is exercised and not trivially empty.
    expect(full.delete.length).toBeGreaterThan(0);
    expect(new Set(full.delete.map((d) => d.repository)).size).toBe(repos.length);
    for (const [i, s] of shards.entries()) {
      expect(s.shard).toEqual({ index: i, count: N });
      for (const e of [...s.delete, ...s.keep]) expect(shardOfRepository(e.repository, N)).toBe(i);
    }
    const deletes = shards.flatMap((s) => s.delete.map(key));
    const keeps = shards.flatMap((s) => s.keep.map(key));
    expect(new Set(deletes).size).toBe(deletes.length);
    expect(new Set(keeps).size).toBe(keeps.length);
    expect(deletes.sort()).toEqual(full.delete.map(key).sort());
    expect(keeps.sort()).toEqual(full.keep.map(key).sort());
    // Each shard read only its own repositories.
    expect(shards.reduce((n, s) => n + s.summary.repositories, 0)).toBe(full.summary.repositories);
    expect(shards.reduce((n, s) => n + s.summary.reclaimableBytes, 0)).toBe(full.summary.reclaimableBytes);
    expect(full.shard).toBeUndefined();
  });

  it("auto/N takes the shard from JOB_COMPLETION_INDEX, as an Indexed Job's pod", async () => {
    const fixed = await planOf("fixed1", ["--shard", `1/${N}`]);
    const auto = await planOf("auto1", ["--shard", `auto/${N}`], { JOB_COMPLETION_INDEX: "1" });
    expect(auto.shard).toEqual({ index: 1, count: N });
    expect(auto.delete.map(key)).toEqual(fixed.delete.map(key));
    expect(auto.keep.map(key).sort()).toEqual(fixed.keep.map(key).sort());
  });

  it("a shard outside 0..N-1, or auto/N outside an Indexed Job, is bad usage (exit 2)", async () => {
    const out = await runCli(["plan", "--registry", url, ...selection, "--shard", `${N}/${N}`]);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/--shard 3\/3: the shard index is 0-based and must be below 3/);
    const env = { ...process.env } as Record<string, string>;
    delete env.JOB_COMPLETION_INDEX;
    const auto = await runCli(["purge", "--registry", url, ...selection, "--shard", "auto/2"], { env });
    expect(auto.code).toBe(2);
    expect(auto.stderr).toMatch(/JOB_COMPLETION_INDEX is not set/);
  });
});

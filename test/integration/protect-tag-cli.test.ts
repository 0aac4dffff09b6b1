import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { buildImage, pushManifest } from "../../src/fixtures/image-factory.js";
import { planSchema } from "../../src/plan/plan-schema.js";
import { connect, runCli, tempDir, uniqueRepo } from "./helpers.js";

const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY);

describe("purge --protect-tag against a real registry", () => {
  const url = inject("registryUrl");
  const { registry } = connect(url);
  const p = uniqueRepo("protect");
  const img = (name: string, days: number) =>
    buildImage({ seed: `${p} ${name}`, created: ago(days), layers: ["base", `${p} ${name}`] });
  const latest = img("latest", 200);
  const release = img("release", 150);
  const build = img("build", 100);
  const dir = tempDir();

  beforeAll(async () => {
    await pushManifest(registry, `${p}/app`, latest, ["latest"]);
    await pushManifest(registry, `${p}/app`, release, ["v1.4.2"]);
    await pushManifest(registry, `${p}/app`, build, ["build-17"]);
  });

  const args = async (...extra: string[]) => [
    "purge",
    "--registry",
    url,
    "--filter",
    `${p}/.*:.*`,
    "--ago",
    "30d",
    "--no-usage-sources",
    "--cache-dir",
    join(await dir, "cache"),
    "--audit-dir",
    join(await dir, "audits"),
    ...extra,
  ];

  it("a tag matched by --protect-tag (flag) or policy.protectTags (config) survives --apply, reason protected-tag", async () => {
    const config = join(await dir, "regsweep.yaml");
    await writeFile(config, "policy:\n  protectTags: [latest]\n");
    const planFile = join(await dir, "plan.json");
    const res = await runCli([
      ...(await args("--config", config, "--protect-tag", "v?[0-9]+\\.[0-9]+\\.[0-9]+")),
      "--apply",
      "--yes",
      "-o",
      planFile,
    ]);
    expect(res.stderr).not.toMatch(/regsweep: /);
    expect(res.code).toBe(0);
    const plan = planSchema.parse(JSON.parse(await readFile(planFile, "utf8")));
    // Config first, then flags: flags add to the configuration's patterns.
    expect(plan.options.protectTags).toEqual(["latest", "v?[0-9]+\\.[0-9]+\\.[0-9]+"]);
    expect(plan.delete.map((d) => d.digest)).toEqual([build.digest]);
    const reasons = (digest: string) => plan.keep.find((k) => k.digest === digest)?.reasons ?? [];
    expect(reasons(latest.digest)).toEqual([
      { rule: "protected-tag", detail: "tag latest matches --protect-tag latest" },
    ]);
    expect(reasons(release.digest).map((r) => r.rule)).toEqual(["protected-tag"]);
    expect(await registry.headManifest(`${p}/app`, latest.digest)).toBeDefined();
    expect(await registry.headManifest(`${p}/app`, release.digest)).toBeDefined();
    expect(await registry.headManifest(`${p}/app`, build.digest)).toBeUndefined();
  });

  it("an invalid --protect-tag regex is bad usage (exit 2) naming the pattern, and nothing is read or deleted", async () => {
    const res = await runCli(await args("--protect-tag", "v(1"));
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('--protect-tag "v(1"');
    expect(await registry.headManifest(`${p}/app`, latest.digest)).toBeDefined();
  });
});

import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../../src/config/load-config.js";
import { buildImage, pushManifest } from "../../src/fixtures/image-factory.js";
import { planSchema } from "../../src/plan/plan-schema.js";
import { connect, runCli, tempDir, uniqueRepo } from "./helpers.js";

const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY);

const AKS_FILE = {
  kubernetes_clusters: {
    prod: { name: "aks-prod", subscription_id: "sub-prod", resource_group: "rg-prod" },
  },
  container_registry: { url: "contoso.azurecr.io", subscription_id: "sub-acr", resource_group: "rg-acr" },
};

describe("regsweep config import", () => {
  const dir = tempDir();

  it("an AKS cleanup file with -o: the file written loads with the config loader as the equivalent configuration", async () => {
    const input = join(await dir, "aks-cleanup.json");
    await writeFile(input, JSON.stringify(AKS_FILE));
    const out = join(await dir, "aks.yaml");
    const res = await runCli(["config", "import", input, "--days", "14", "-o", out]);
    expect(res.stderr).not.toMatch(/regsweep: /);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe("");
    expect(res.stderr).toMatch(/^mapped: kubernetes_clusters \(prod\) → an aks usage source/m);
    expect(res.stderr).toContain(`Wrote ${out}.`);
    const config = await loadConfig(out, {});
    expect(config.registry.url).toBe("https://contoso.azurecr.io");
    expect(config.usage).toEqual([
      {
        type: "aks",
        access: "auto",
        optional: false,
        clusters: { prod: { name: "aks-prod", subscriptionId: "sub-prod", resourceGroup: "rg-prod" } },
      },
    ]);
    expect(config.policy).toMatchObject({
      ago: "14d",
      scope: "used-repositories",
      protectTags: ["latest"],
      untagged: false,
    });
  });

  it("never overwrites: an existing -o file is exit 2 naming it, and stays as it was", async () => {
    const input = join(await dir, "aks-cleanup.json");
    await writeFile(input, JSON.stringify(AKS_FILE));
    const out = join(await dir, "mine.yaml");
    await writeFile(out, "# my own\n");
    const res = await runCli(["config", "import", input, "-o", out]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`${out} exists`);
    expect(await readFile(out, "utf8")).toBe("# my own\n");
  });

  it("a file that is not JSON, or not of the script's shape, is exit 2 naming it", async () => {
    const bad = join(await dir, "bad.json");
    await writeFile(bad, "{ kubernetes_clusters: ");
    const shape = join(await dir, "shape.json");
    await writeFile(shape, JSON.stringify({ container_registry: { url: "x.azurecr.io" } }));
    const [notJson, wrongShape] = await Promise.all([
      runCli(["config", "import", bad]),
      runCli(["config", "import", shape]),
    ]);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toContain(`${bad} is not JSON`);
    expect(wrongShape.code).toBe(2);
    expect(wrongShape.stderr).toContain(`${shape}: kubernetes_clusters`);
  });

  it("an acr purge flag it does not know is exit 2 naming it, with nothing on stdout", async () => {
    const unknown = await runCli([
      "config",
      "import",
      "--from-acr-purge",
      "acr purge --filter 'a:.*' --nope 1",
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("--nope is not a flag");
    expect(unknown.stdout).toBe("");
  });

  it("neither input, both, or --days with an acr purge line is exit 2", async () => {
    const results = await Promise.all([
      runCli(["config", "import"]),
      runCli(["config", "import", "x.json", "--from-acr-purge", "acr purge --untagged-only"]),
      runCli(["config", "import", "--from-acr-purge", "acr purge --untagged-only", "--days", "3"]),
    ]);
    expect(results.map((r) => r.code)).toEqual([2, 2, 2]);
    expect(results[2]?.stderr).toContain("--days belongs to the AKS cleanup file");
  });

  describe("an acr purge line, imported, then planned against a real registry", () => {
    const url = inject("registryUrl");
    const { registry } = connect(url);
    const p = uniqueRepo("import");
    const img = (name: string, days: number) =>
      buildImage({ seed: `${p} ${name}`, created: ago(days), layers: ["base", `${p} ${name}`] });
    const v = { v1: img("v1", 100), v2: img("v2", 80), v3: img("v3", 60), v4: img("v4", 5) };

    beforeAll(async () => {
      for (const [tag, m] of Object.entries(v)) await pushManifest(registry, `${p}/app`, m, [tag]);
    });

    it("the YAML on stdout, the notes on stderr; regsweep plan --config reads it and plans what acr purge would", async () => {
      const line = `az acr run --registry myacr --cmd "acr purge --filter '${p}/app:.*' --ago 30d --keep 1 --dry-run" /dev/null`;
      const res = await runCli(["config", "import", "--from-acr-purge", line]);
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(/^# regsweep\.yaml written by regsweep config import/);
      expect(res.stdout).not.toMatch(/^(mapped|differs|no equivalent):/m);
      expect(res.stderr).toMatch(/^differs: --keep 1 → policy\.keep 1: counts images/m);
      const file = join(await dir, "purge.yaml");
      await writeFile(file, res.stdout);
      // The task's registry is an ACR; this test's registry is not: --registry overrides it.
      const planned = await runCli([
        "plan",
        "--config",
        file,
        "--registry",
        url,
        "--format",
        "json",
        "--no-cache",
        "--audit-dir",
        join(await dir, "audits"),
      ]);
      expect(planned.stderr).not.toMatch(/regsweep: /);
      expect(planned.code).toBe(0);
      const plan = planSchema.parse(JSON.parse(planned.stdout));
      expect(plan.options).toMatchObject({
        filters: [`${p}/app:.*`],
        ago: "30d",
        keep: 1,
        ageFrom: "updated",
      });
      expect(plan.delete.map((d) => d.digest).sort()).toEqual([v.v1.digest, v.v2.digest].sort());
      const rules = (digest: string) =>
        plan.keep.find((k) => k.digest === digest)?.reasons.map((r) => r.rule);
      expect(rules(v.v3.digest)).toEqual(["keep-newest"]);
      expect(rules(v.v4.digest)).toEqual(["too-recent"]);
    });
  });
});

import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { buildImage, buildIndex, pushManifest } from "../../src/fixtures/image-factory.js";
import { planSchema } from "../../src/plan/plan-schema.js";
import { connect, runCli, tempDir, uniqueRepo } from "./helpers.js";

const AUTHORS = "org.opencontainers.image.authors";
const ago = (days: number) => new Date(Date.now() - days * 86_400_000);

/**
 * `owner:` in the configuration: plan entries carry the owner a manifest annotation or an image
 * config label names, `report --by owner` groups by it, and the on-disk cache gives the same owners
 * as a fresh read — for the key configured now, never one read under another key.
 */
describe("owner from an annotation or a label (config owner:)", () => {
  const url = inject("registryUrl");

  it("plan entries carry it, report --by owner groups by it, a cached scan agrees, another key changes it", async () => {
    const p = uniqueRepo("owners");
    const { registry, transport } = connect(url);
    const alice = buildImage({
      seed: `${p} alice`,
      created: ago(90),
      annotations: { [AUTHORS]: "alice@example.com" },
      labels: { team: "payments" },
    });
    const bob = buildImage({
      seed: `${p} bob`,
      created: ago(1),
      annotations: { [AUTHORS]: "bob@example.com" },
      labels: { team: "search" },
    });
    const nobody = buildImage({ seed: `${p} nobody`, created: ago(90) });
    const arm = buildImage({
      seed: `${p} arm`,
      created: ago(90),
      architecture: "arm64",
      labels: { team: "platform" },
    });
    const amd = buildImage({ seed: `${p} amd`, created: ago(90), labels: { team: "platform" } });
    const multi = buildIndex([arm, amd], "oci", { [AUTHORS]: "ivy@example.com" });
    await pushManifest(registry, p, alice, ["alice"]);
    await pushManifest(registry, p, bob, ["bob"]);
    await pushManifest(registry, p, nobody, ["nobody"]);
    await pushManifest(registry, p, multi, ["multi"]);
    await transport.close();

    const dir = await tempDir();
    const cacheDir = join(dir, "cache");
    const planOwners = async (owner: Record<string, string>) => {
      const config = join(dir, "regsweep.json");
      await writeFile(config, JSON.stringify({ owner }));
      const planFile = join(dir, "plan.json");
      const planned = await runCli([
        "plan",
        "--config",
        config,
        "--registry",
        url,
        "--filter",
        `${p}:.*`,
        "--ago",
        "30d",
        "--cache-dir",
        cacheDir,
        "-o",
        planFile,
        "--audit-dir",
        join(dir, "audits"),
      ]);
      expect(planned.code, planned.stderr).toBe(0);
      const plan = planSchema.parse(JSON.parse(await readFile(planFile, "utf8")));
      const owners = Object.fromEntries(
        [...plan.delete, ...plan.keep].map((e) => [e.digest, e.owner ?? null]),
      );
      const res = await runCli(["report", "--plan", planFile, "--by", "owner", "--format", "json"]);
      expect(res.code, res.stderr).toBe(0);
      const report = JSON.parse(res.stdout) as { by: string; rows: { group: string; images: number }[] };
      expect(report.by).toBe("owner");
      const groups = Object.fromEntries(report.rows.map((r) => [r.group, r.images]));
      return { owners, groups };
    };

    const byAnnotation = await planOwners({ annotation: AUTHORS });
    expect(byAnnotation.owners).toEqual({
      [alice.digest]: "alice@example.com",
      [bob.digest]: "bob@example.com",
      [nobody.digest]: null,
      // The index's own annotation, and its platform images inherit it.
      [multi.digest]: "ivy@example.com",
      [arm.digest]: "ivy@example.com",
      [amd.digest]: "ivy@example.com",
    });
    expect(byAnnotation.groups).toEqual({
      "alice@example.com": 1,
      "bob@example.com": 1,
      "ivy@example.com": 3,
      "(unknown owner)": 1,
    });

    // Warm: every node comes from the cache, and says the same.
    expect(await planOwners({ annotation: AUTHORS })).toEqual(byAnnotation);

    // Another key over the same cache: the owners are read again, not the cached ones.
    const byLabel = await planOwners({ label: "team" });
    expect(byLabel.owners).toEqual({
      [alice.digest]: "payments",
      [bob.digest]: "search",
      [nobody.digest]: null,
      // An index has no config, so no label: it names no owner; its images name their own.
      [multi.digest]: null,
      [arm.digest]: "platform",
      [amd.digest]: "platform",
    });
    expect(byLabel.groups).toEqual({ payments: 1, search: 1, platform: 2, "(unknown owner)": 2 });

    // And back: nothing of the label run lingers.
    expect(await planOwners({ annotation: AUTHORS })).toEqual(byAnnotation);
  });

  it("a configuration naming both annotation and label is refused (exit 2), naming the file", async () => {
    const dir = await tempDir();
    const config = join(dir, "regsweep.json");
    await writeFile(config, JSON.stringify({ owner: { annotation: AUTHORS, label: "team" } }));
    const res = await runCli(["plan", "--config", config, "--registry", url, "--no-cache"]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(config);
    expect(res.stderr).toMatch(/owner.*exactly one of annotation or label/);
  });
});

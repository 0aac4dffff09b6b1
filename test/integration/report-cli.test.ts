import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { type BuiltManifest, buildImage, pushManifest } from "../../src/fixtures/image-factory.js";
import { tarGzLayer } from "../../src/fixtures/tar-layer.js";
import { planSchema } from "../../src/plan/plan-schema.js";
import { connect, runCli, tempDir, uniqueRepo } from "./helpers.js";

const ago = (days: number) => new Date(Date.now() - days * 86_400_000);

/** The manifest body and config of an image: bytes only that image holds. */
const ownBytes = (m: BuiltManifest, layers: readonly Buffer[]) =>
  m.body.byteLength +
  [...m.blobs.values()].filter((b) => !layers.includes(b)).reduce((s, b) => s + b.byteLength, 0);

describe("report --by", () => {
  const url = inject("registryUrl");

  it("reports per repository the bytes each frees, a layer shared across repositories counted once", async () => {
    const { registry } = connect(url);
    const p = uniqueRepo("sizes");
    const [repoA, repoB] = [`${p}/a`, `${p}/b`];
    const withKept = tarGzLayer("base.txt", `${p} base, also in the kept image`);
    const acrossRepos = tarGzLayer("tools.txt", `${p} tools, in both deleted images`);
    const onlyA = tarGzLayer("a.txt", `${p} only in a-old`);
    const onlyB = tarGzLayer("b.txt", `${p} only in b-old`);
    const onlyNew = tarGzLayer("new.txt", `${p} only in a-new`);
    const aOld = buildImage({ seed: `${p} a-old`, created: ago(90), layers: [withKept, acrossRepos, onlyA] });
    const aNew = buildImage({ seed: `${p} a-new`, created: ago(1), layers: [withKept, onlyNew] });
    const bOld = buildImage({ seed: `${p} b-old`, created: ago(90), layers: [acrossRepos, onlyB] });
    await pushManifest(registry, repoA, aOld, ["old"]);
    await pushManifest(registry, repoA, aNew, ["new"]);
    await pushManifest(registry, repoB, bOld, ["old"]);

    const dir = await tempDir();
    const planFile = join(dir, "plan.json");
    const planned = await runCli([
      "plan",
      "--registry",
      url,
      "--filter",
      `${p}/.*:.*`,
      "--ago",
      "30d",
      "-o",
      planFile,
      "--format",
      "json",
      "--no-cache",
      "--audit-dir",
      join(dir, "audits"),
    ]);
    expect(planned.code, planned.stderr).toBe(0);
    const plan = planSchema.parse(JSON.parse(await readFile(planFile, "utf8")));
    expect(plan.delete.map((d) => d.digest).sort()).toEqual([aOld.digest, bOld.digest].sort());

    const res = await runCli(["report", "--plan", planFile, "--by", "repository", "--format", "json"]);
    expect(res.code, res.stderr).toBe(0);
    const report = JSON.parse(res.stdout) as {
      by: string;
      rows: { group: string; freedBytes: number; sharedFreedBytes: number; totalBytes: number }[];
      total: { freedBytes: number; sharedFreedBytes: number };
    };
    const row = (g: string) => report.rows.find((r) => r.group === g);
    const layers = [withKept, acrossRepos, onlyA, onlyB, onlyNew];
    // a: a-old's body, config and onlyA; withKept stays for a-new; acrossRepos is shared with b.
    const aFreed = ownBytes(aOld, layers) + onlyA.byteLength;
    // b: b-old's body, config and onlyB.
    const bFreed = ownBytes(bOld, layers) + onlyB.byteLength;
    expect(row(repoA)).toMatchObject({ freedBytes: aFreed, sharedFreedBytes: acrossRepos.byteLength });
    expect(row(repoB)).toMatchObject({ freedBytes: bFreed, sharedFreedBytes: acrossRepos.byteLength });
    // a's total: both images, withKept once.
    expect(row(repoA)?.totalBytes).toBe(
      ownBytes(aOld, layers) +
        ownBytes(aNew, layers) +
        withKept.byteLength +
        acrossRepos.byteLength +
        onlyA.byteLength +
        onlyNew.byteLength,
    );
    // The shared layer once overall: exactly what the plan says it reclaims.
    expect(report.total.freedBytes).toBe(aFreed + bFreed + acrossRepos.byteLength);
    expect(report.total.freedBytes).toBe(plan.summary.reclaimableBytes);

    const text = await runCli(["report", "--plan", planFile, "--by", "repository"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^TOTAL \(each blob once\)\s+3\s+2\s/m);
  });

  it("refuses a plan made before plans carried blob lists, saying to make it again (exit 2)", async () => {
    const dir = await tempDir();
    const planFile = join(dir, "old-plan.json");
    const p = uniqueRepo("sizes-old");
    const planned = await runCli([
      "plan",
      "--registry",
      url,
      "--filter",
      `${p}:.*`,
      "-o",
      planFile,
      "--no-cache",
      "--audit-dir",
      join(dir, "audits"),
    ]);
    expect(planned.code, planned.stderr).toBe(0);
    const plan = JSON.parse(await readFile(planFile, "utf8"));
    const { blobs: _, ...bare } = {
      repository: p,
      digest: `sha256:${"a".repeat(64)}`,
      tags: ["1"],
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      created: null,
      ageSource: "unknown",
      sizeBytes: 10,
      reasons: [{ rule: "too-recent", detail: "test" }],
      blobs: [],
    };
    await writeFile(planFile, JSON.stringify({ ...plan, keep: [bare] }));
    const res = await runCli(["report", "--plan", planFile, "--by", "owner"]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`plan ${planFile}: ${p}@sha256:${"a".repeat(8)}`);
    expect(res.stderr).toMatch(/make it again with regsweep plan/);
  });

  it("without --by, --format json prints the plan itself; --html with another --format is bad usage", async () => {
    const dir = await tempDir();
    const planFile = join(dir, "plan.json");
    const p = uniqueRepo("report-json");
    const planned = await runCli([
      "plan",
      "--registry",
      url,
      "--filter",
      `${p}:.*`,
      "-o",
      planFile,
      "--no-cache",
      "--audit-dir",
      join(dir, "audits"),
    ]);
    expect(planned.code, planned.stderr).toBe(0);
    const res = await runCli(["report", "--plan", planFile, "--format", "json"]);
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual(JSON.parse(await readFile(planFile, "utf8")));
    const both = await runCli([
      "report",
      "--plan",
      planFile,
      "--html",
      join(dir, "r.html"),
      "--format",
      "json",
    ]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--html .*r\.html writes HTML: drop --format json or --html/);
  });

  it("rejects an unknown grouping as bad usage", async () => {
    const res = await runCli(["report", "--plan", "x.json", "--by", "team"]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/--by.*team/);
  });
});

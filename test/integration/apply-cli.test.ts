import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { buildImage, buildIndex, pushManifest } from "../../src/fixtures/image-factory.js";
import { planSchema } from "../../src/plan/plan-schema.js";
import { connect, readAudits, runCli, tempDir, uniqueRepo } from "./helpers.js";

const ago = (days: number) => new Date(Date.now() - days * 86_400_000);

describe("plan, then apply the reviewed plan", () => {
  const url = inject("registryUrl");

  it("applies exactly the plan, skipping a manifest whose tag moved since, and what depended on it", async () => {
    const { registry } = connect(url);
    const p = uniqueRepo("apply");
    const a = buildImage({ seed: `${p} a`, created: ago(90) });
    const b = buildImage({ seed: `${p} b`, created: ago(80) });
    const multi = buildIndex([
      buildImage({ seed: `${p} c1`, created: ago(70) }),
      buildImage({ seed: `${p} c2`, created: ago(70) }),
    ]);
    const keep = buildImage({ seed: `${p} keep`, created: ago(1) });
    await pushManifest(registry, p, a, ["a"]);
    await pushManifest(registry, p, b, ["b"]);
    await pushManifest(registry, p, multi, ["multi"]);
    await pushManifest(registry, p, keep, ["fresh"]);
    const dir = await tempDir();
    const planFile = join(dir, "plan.json");
    const planned = await runCli([
      "plan",
      "--registry",
      url,
      "--filter",
      `${p}:.*`,
      "--ago",
      "7d",
      "-o",
      planFile,
      "--no-cache",
      "--audit-dir",
      join(dir, "audits"),
    ]);
    expect(planned.code).toBe(0);
    const plan = planSchema.parse(JSON.parse(await readFile(planFile, "utf8")));
    expect(plan.delete.map((d) => d.digest).sort()).toEqual(
      [a.digest, b.digest, multi.digest, ...multi.children.map((c) => c.digest)].sort(),
    );
    expect(await registry.headManifest(p, a.digest)).toBeDefined(); // plan never deletes

    // Between plan and apply, someone re-points tag b and multi at other images.
    await pushManifest(registry, p, buildImage({ seed: `${p} b2`, created: ago(0) }), ["b"]);
    await pushManifest(registry, p, buildImage({ seed: `${p} m2`, created: ago(0) }), ["multi"]);

    const applied = await runCli([
      "apply",
      planFile,
      "--yes",
      "--no-usage-sources",
      "--insecure",
      "--audit-dir",
      join(dir, "audits"),
    ]);
    expect(applied.code).toBe(0);
    expect(await registry.headManifest(p, a.digest)).toBeUndefined();
    expect(await registry.headManifest(p, b.digest)).toBeDefined();
    expect(await registry.headManifest(p, multi.digest)).toBeDefined();
    // The children of the index that stayed must stay too.
    for (const c of multi.children) expect(await registry.headManifest(p, c.digest)).toBeDefined();
    expect(await registry.headManifest(p, keep.digest)).toBeDefined();
    expect(applied.stderr).toMatch(/skipped .*tag b now points at/);

    const audit = (await readAudits(join(dir, "audits"))).find((x) => x.name.includes("_apply_"));
    const manifests = audit?.json.manifests as { digest: string; result: { status: string } }[];
    const status = (d: string) => manifests.find((m) => m.digest === d)?.result.status;
    expect(status(a.digest)).toBe("deleted");
    expect(status(b.digest)).toBe("skipped");
    expect(status(multi.children[0]?.digest ?? "")).toBe("skipped");
  });

  it("refuses a file that is not a plan, and a plan for another registry", async () => {
    const dir = await tempDir();
    const bad = join(dir, "bad.json");
    await (await import("node:fs/promises")).writeFile(bad, JSON.stringify({ version: 2 }));
    const res = await runCli(["apply", bad, "--yes", "--audit-dir", join(dir, "a")]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/not a regsweep plan/);

    const planFile = join(dir, "plan.json");
    const p = uniqueRepo("other");
    await runCli([
      "plan",
      "--registry",
      url,
      "--filter",
      `${p}:.*`,
      "-o",
      planFile,
      "--no-cache",
      "--audit-dir",
      join(dir, "a"),
    ]);
    const other = await runCli([
      "apply",
      planFile,
      "--registry",
      "http://127.0.0.2:1",
      "--yes",
      "--no-usage-sources",
      "--audit-dir",
      join(dir, "a"),
    ]);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/was made for/);
  });
});

describe("doctor", () => {
  const url = inject("registryUrl");

  it("checks each configured part and names what fails", async () => {
    const dir = await tempDir();
    const inUse = join(dir, "in-use.txt");
    await (await import("node:fs/promises")).writeFile(inUse, "127.0.0.1:5000/app:1\n");
    const ok = await runCli([
      "doctor",
      "--registry",
      url,
      "--in-use-file",
      inUse,
      "--cache-dir",
      join(dir, "cache"),
    ]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^ok {4}registry: 127\.0\.0\.1:\d+ answers/m);
    expect(ok.stdout).toMatch(/^ok {4}usage source in-use-file .*: 1 image references/m);
    const bad = await runCli([
      "doctor",
      "--registry",
      "http://127.0.0.1:1",
      "--in-use-file",
      join(dir, "missing.txt"),
      "--no-cache",
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^FAIL {2}registry: .*ECONNREFUSED/m);
    expect(bad.stdout).toMatch(/^FAIL {2}usage source in-use-file .*missing\.txt/m);
  });
});

describe("HTML plan and report", () => {
  const url = inject("registryUrl");

  it("plan --format html and report --html render every decision with its reasons, escaped", async () => {
    const { registry } = connect(url);
    const p = uniqueRepo("html");
    await pushManifest(registry, p, buildImage({ seed: `${p} old`, created: ago(90) }), ["old"]);
    await pushManifest(registry, p, buildImage({ seed: `${p} new`, created: ago(1) }), ["new"]);
    const dir = await tempDir();
    const planFile = join(dir, "plan.json");
    const html = await runCli([
      "plan",
      "--registry",
      url,
      "--filter",
      `${p}:.*`,
      "--ago",
      "30d",
      "--format",
      "html",
      "-o",
      planFile,
      "--no-cache",
      "--audit-dir",
      join(dir, "a"),
    ]);
    expect(html.code).toBe(0);
    expect(html.stdout).toMatch(/^<!doctype html>/);
    expect(html.stdout).toContain(`<h2>${p} <small>delete 1, keep 1</small></h2>`);
    expect(html.stdout).toMatch(/<td>DELETE<\/td>.*<td>old<\/td>/);
    expect(html.stdout).toContain("<code>too-recent</code>");
    const out = join(dir, "report.html");
    const report = await runCli(["report", "--plan", planFile, "--html", out]);
    expect(report.code).toBe(0);
    expect(await (await import("node:fs/promises")).readFile(out, "utf8")).toBe(html.stdout);
  });
});

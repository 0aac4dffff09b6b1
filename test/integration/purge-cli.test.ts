import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import {
  type BuiltManifest,
  buildCosignSignature,
  buildImage,
  buildIndex,
  buildReferrer,
  pushManifest,
  pushReferrers,
} from "../../src/fixtures/image-factory.js";
import type { Digest } from "../../src/oci/digest.js";
import { planSchema } from "../../src/plan/plan-schema.js";
import { startRegistry } from "../harness/registry-process.js";
import { connect, readAudits, runCli, tempDir, uniqueRepo } from "./helpers.js";

const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY);

describe("regsweep purge against a real registry", () => {
  const url = inject("registryUrl");
  const host = inject("registryHost");
  const { registry } = connect(url);
  const p = uniqueRepo("purge");
  const img = (name: string, days: number, extra: object = {}) =>
    buildImage({ seed: `${p} ${name}`, created: ago(days), layers: ["base", `${p} ${name}`], ...extra });

  const app = {
    v1: img("v1", 100),
    v2: img("v2", 80),
    v3: img("v3", 60),
    v4: img("v4", 40),
    v5: img("v5", 5),
  };
  const multi = [90, 70, 50].map((days, i) =>
    buildIndex(
      ["amd64", "arm64"].map((architecture) => img(`m${i} ${architecture}`, days, { architecture })),
    ),
  ) as [BuiltManifest, BuiltManifest, BuiltManifest];
  const signed = { s1: img("s1", 90), s2: img("s2", 80), s3: img("s3", 60) };
  const s1sig = buildCosignSignature(signed.s1, ago(90));
  const s2sbom = buildReferrer(signed.s2, "application/spdx+json", `${p} sbom`);
  const ghost = img("ghost (never pushed)", 300);
  const orphanSig = buildCosignSignature(ghost, ago(200));
  let fallbackIndex: BuiltManifest;

  const dir = tempDir();
  let inUseFile: string;

  beforeAll(async () => {
    await pushManifest(registry, `${p}/app`, app.v1, ["v1"]);
    await pushManifest(registry, `${p}/app`, app.v2, ["v2", "stable"]);
    await pushManifest(registry, `${p}/app`, app.v3, ["v3"]);
    await pushManifest(registry, `${p}/app`, app.v4, ["v4"]);
    await pushManifest(registry, `${p}/app`, app.v5, ["v5"]);
    for (const [i, m] of multi.entries()) await pushManifest(registry, `${p}/multi`, m, [`m${i}`]);
    await pushManifest(registry, `${p}/signed`, signed.s1, ["s1"]);
    await pushManifest(registry, `${p}/signed`, s1sig, [`${signed.s1.digest.replace(":", "-")}.sig`]);
    await pushManifest(registry, `${p}/signed`, signed.s2, ["s2"]);
    fallbackIndex = await pushReferrers(registry, `${p}/signed`, signed.s2, [s2sbom]);
    await pushManifest(registry, `${p}/signed`, signed.s3, ["s3"]);
    await pushManifest(registry, `${p}/signed`, orphanSig, [`${ghost.digest.replace(":", "-")}.sig`]);
    inUseFile = join(await dir, "in-use.txt");
    await writeFile(
      inUseFile,
      [
        "# running in production",
        `${host}/${p}/app:v3`,
        `${host.toUpperCase()}/${p}/multi@${multi[0].children[1]?.digest}  # containerd reports the child`,
        `${host}/${p}/signed@${signed.s2.digest}`,
        `notmy${host}/${p}/app:v1`,
        "",
      ].join("\n"),
    );
  });

  const purgeArgs = async () => [
    "purge",
    "--registry",
    url,
    "--insecure",
    "--filter",
    `${p}/.*:.*`,
    "--ago",
    "30d",
    "--keep",
    "1",
    // No --untagged: with it, --keep 1 would keep one more of what --untagged deletes (as acr purge).
    "--in-use-file",
    inUseFile,
    "--cache-dir",
    join(await dir, "cache"),
    "--audit-dir",
    join(await dir, "audits"),
  ];

  const expectedDeleted = () =>
    new Map<string, Digest[]>([
      [`${p}/app`, [app.v1.digest, app.v2.digest]],
      [`${p}/multi`, [multi[1].digest, ...multi[1].children.map((c) => c.digest)]],
      [`${p}/signed`, [signed.s1.digest, s1sig.digest, orphanSig.digest]],
    ]);

  it("dry run: plans exactly the unused, old, surplus images and deletes nothing", async () => {
    const planFile = join(await dir, "plan.json");
    const res = await runCli([...(await purgeArgs()), "--dry-run", "-o", planFile]);
    expect(res.stderr).not.toMatch(/regsweep: /);
    expect(res.code).toBe(0);
    const plan = planSchema.parse(JSON.parse(await readFile(planFile, "utf8")));
    const planned = plan.delete.map((d) => `${d.repository}@${d.digest}`).sort();
    const expected = [...expectedDeleted()].flatMap(([repo, ds]) => ds.map((d) => `${repo}@${d}`)).sort();
    expect(planned).toEqual(expected);
    expect(plan.summary.delete).toBe(expected.length);
    expect(plan.summary.reclaimableBytes).toBeGreaterThan(0);
    // Why things stay, in the plan itself.
    const keptRules = (digest: Digest) =>
      plan.keep.find((k) => k.digest === digest)?.reasons.map((r) => r.rule);
    expect(keptRules(app.v3.digest)).toContain("in-use");
    expect(keptRules(app.v4.digest)).toContain("keep-newest");
    expect(keptRules(app.v5.digest)).toContain("too-recent");
    expect(keptRules(multi[0].digest)).toContain("index-of-in-use-child");
    expect(keptRules(multi[0].children[0]?.digest as Digest)).toContain("child-of-kept-index");
    expect(keptRules(s2sbom.digest)).toContain("referrer-of-kept-subject");
    expect(keptRules(fallbackIndex.digest)).toContain("referrer-of-kept-subject");
    // The text summary goes to stdout, and nothing was deleted.
    expect(res.stdout).toContain("DELETE");
    expect(await registry.headManifest(`${p}/app`, app.v1.digest)).toBeDefined();
    // Order: a subject before its referrers, an index before its children.
    const pos = (d: Digest) => plan.delete.findIndex((e) => e.digest === d);
    expect(pos(signed.s1.digest)).toBeLessThan(pos(s1sig.digest));
    for (const c of multi[1].children) expect(pos(multi[1].digest)).toBeLessThan(pos(c.digest));
  });

  it("--format json prints the plan on stdout", async () => {
    const res = await runCli([...(await purgeArgs()), "--format", "json"]);
    expect(res.code).toBe(0);
    const plan = planSchema.parse(JSON.parse(res.stdout));
    expect(plan.registry).toBe(host);
    expect(plan.version).toBe(1);
  });

  it("refuses to delete without --yes when there is no terminal (exit 2), deleting nothing", async () => {
    const res = await runCli([...(await purgeArgs()), "--apply"]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/--yes/);
    expect(await registry.headManifest(`${p}/app`, app.v1.digest)).toBeDefined();
  });

  it("--apply --yes deletes exactly the plan and keeps everything in use", async () => {
    const res = await runCli([...(await purgeArgs()), "--apply", "--yes"]);
    expect(res.stderr).not.toMatch(/^failed/m);
    expect(res.code).toBe(0);
    for (const [repo, digests] of expectedDeleted()) {
      for (const d of digests) expect(await registry.headManifest(repo, d), `${repo}@${d}`).toBeUndefined();
    }
    const stays: [string, Digest][] = [
      [`${p}/app`, app.v3.digest],
      [`${p}/app`, app.v4.digest],
      [`${p}/app`, app.v5.digest],
      [`${p}/multi`, multi[0].digest],
      ...multi[0].children.map((c) => [`${p}/multi`, c.digest] as [string, Digest]),
      [`${p}/multi`, multi[2].digest],
      [`${p}/signed`, signed.s2.digest],
      [`${p}/signed`, s2sbom.digest],
      [`${p}/signed`, fallbackIndex.digest],
      [`${p}/signed`, signed.s3.digest],
    ];
    for (const [repo, d] of stays) expect(await registry.headManifest(repo, d), `${repo}@${d}`).toBeDefined();
    const tags: string[] = [];
    for await (const t of registry.tags(`${p}/app`)) tags.push(t);
    expect(tags.sort()).toEqual(["v3", "v4", "v5"]);

    const audits = await readAudits(join(await dir, "audits"));
    const applied = audits.find((a) => a.name.includes("_apply_"));
    expect(applied?.name).toMatch(/^\d{8}T\d{6}Z_apply_127\.0\.0\.1_\d+_\d+_manifests\.json$/);
    const summary = applied?.json.summary as Record<string, number>;
    expect(summary.deleted).toBe([...expectedDeleted().values()].flat().length);
    expect(summary.failed).toBe(0);
    expect(audits.some((a) => a.name.includes("_dry-run_"))).toBe(true);
  });

  it("a second run finds nothing more to delete", async () => {
    const res = await runCli([...(await purgeArgs()), "--format", "json"]);
    expect(res.code).toBe(0);
    const plan = planSchema.parse(JSON.parse(res.stdout));
    expect(plan.delete).toEqual([]);
  });
});

describe("purge selection flags", () => {
  const url = inject("registryUrl");
  const { registry } = connect(url);
  const p = uniqueRepo("flags");
  const old = buildImage({ seed: `${p} old`, created: ago(50) });
  const release = buildImage({ seed: `${p} release`, created: ago(60) });
  const mixed = buildImage({ seed: `${p} mixed`, created: ago(70) });
  const noTime = buildImage({ seed: `${p} no time` });

  beforeAll(async () => {
    await pushManifest(registry, `${p}/svc`, old, ["build-17"]);
    await pushManifest(registry, `${p}/svc`, release, ["1.0.0"]);
    await pushManifest(registry, `${p}/svc`, mixed, ["build-16", "1.0.0-beta"]);
    await pushManifest(registry, `${p}/svc`, noTime, ["build-1"]);
    await pushManifest(registry, `${p}/other`, buildImage({ seed: `${p} other`, created: ago(400) }), [
      "build-1",
    ]);
  });

  const plan = async (...extra: string[]) => {
    const res = await runCli([
      "purge",
      "--registry",
      url,
      "--no-cache",
      "--format",
      "json",
      "--audit-dir",
      join(await tempDir(), "a"),
      ...extra,
    ]);
    expect(res.stderr).not.toMatch(/regsweep: /);
    return planSchema.parse(JSON.parse(res.stdout));
  };

  it("the tag regex is unanchored and every tag on a digest must match", async () => {
    const result = await plan("--filter", `${p}/svc:build-`, "--ago", "30d");
    expect(result.delete.map((d) => d.digest)).toEqual([old.digest]);
    const mixedKeep = result.keep.find((k) => k.digest === mixed.digest);
    expect(mixedKeep?.reasons.map((r) => r.rule)).toEqual(["tag-not-matched"]);
    expect(result.keep.find((k) => k.digest === noTime.digest)?.reasons.map((r) => r.rule)).toEqual([
      "age-unknown",
    ]);
  });

  it("the repository regex is anchored: svc does not select other", async () => {
    const result = await plan("--filter", `${p}/ot:.*`, "--ago", "1d");
    expect(result.summary.repositories).toBe(0);
    const all = await plan("--filter", `${p}/(svc|other):.*`, "--ago", "1d");
    expect(all.summary.repositories).toBe(2);
  });

  it("without --ago any age qualifies, even an unknown one; --keep counts digests, not tags", async () => {
    const result = await plan("--filter", `${p}/svc:.*`, "--keep", "2");
    // noTime counts as newest (doubt keeps), then release (60d); mixed (two tags, 70d) and old (50d)? old is newer than release.
    const kept = result.keep
      .filter((k) => k.reasons.some((r) => r.rule === "keep-newest"))
      .map((k) => k.digest);
    expect(kept.sort()).toEqual([noTime.digest, old.digest].sort());
    expect(result.delete.map((d) => d.digest).sort()).toEqual([release.digest, mixed.digest].sort());
  });

  it("says that plain distribution cannot list untagged manifests", async () => {
    const result = await plan("--filter", `${p}/svc:.*`, "--untagged");
    expect(result.warnings.join("\n")).toMatch(/cannot list untagged manifests/);
  });
});

describe("exit codes and refusals", () => {
  const url = inject("registryUrl");

  it("bad usage exits 2 with a message naming the problem", async () => {
    const dir = await tempDir();
    const cases: [string[], RegExp][] = [
      [["purge", "--registry", url], /--filter/],
      [["purge", "--registry", url, "--filter", "a(:b"], /--filter/],
      [["purge", "--registry", url, "--filter", "a:.*", "--ago", "soon"], /--ago/],
      [["purge", "--registry", "http://10.1.2.3:5000", "--filter", "a:.*"], /--insecure/],
      [["purge", "--filter", "a:.*"], /--registry/],
    ];
    for (const [args, message] of cases) {
      const res = await runCli([...args, "--audit-dir", join(dir, "audits")]);
      expect(res.code, args.join(" ")).toBe(2);
      expect(res.stderr, args.join(" ")).toMatch(message);
    }
  });

  it("an in-use list that cannot be read fails closed: exit 3, nothing deleted", async () => {
    const { registry } = connect(url);
    const p = uniqueRepo("closed");
    const image = buildImage({ seed: p, created: ago(90) });
    await pushManifest(registry, p, image, ["1"]);
    const dir = await tempDir();
    const res = await runCli([
      "purge",
      "--registry",
      url,
      "--filter",
      `${p}:.*`,
      "--apply",
      "--yes",
      "--in-use-file",
      join(dir, "missing.txt"),
      "--no-cache",
      "--audit-dir",
      join(dir, "a"),
    ]);
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/in-use-file .*missing\.txt.*Nothing was deleted/s);
    expect(await registry.headManifest(p, image.digest)).toBeDefined();
  });

  it("an unparsable in-use line is an error with its line number (exit 2)", async () => {
    const dir = await tempDir();
    const file = join(dir, "in-use.txt");
    await writeFile(file, "# ok\n127.0.0.1:5000/app:1\nNot A/Reference!!\n");
    const res = await runCli([
      "purge",
      "--registry",
      url,
      "--filter",
      "x:.*",
      "--in-use-file",
      file,
      "--audit-dir",
      join(dir, "a"),
    ]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/line 3/);
  });

  it("reads the in-use list from stdin with --in-use-file -", async () => {
    const { registry } = connect(url);
    const p = uniqueRepo("stdin");
    const image = buildImage({ seed: p, created: ago(90) });
    await pushManifest(registry, `${p}/a`, image, ["1"]);
    const host = inject("registryHost");
    const res = await runCli(
      [
        "purge",
        "--registry",
        url,
        "--filter",
        `${p}/.*:.*`,
        "--in-use-file",
        "-",
        "--format",
        "json",
        "--no-cache",
        "--audit-dir",
        join(await tempDir(), "a"),
      ],
      { stdin: `localhost:${host.split(":")[1]}/${p}/a:1\n` },
    );
    expect(res.code).toBe(0);
    const plan = planSchema.parse(JSON.parse(res.stdout));
    expect(plan.delete).toEqual([]);
    expect(plan.keep[0]?.reasons[0]?.rule).toBe("in-use");
  });

  it("a registry that refuses deletes stops the run with how to enable them (exit 1)", async () => {
    const locked = await startRegistry({ deleteEnabled: false });
    try {
      const { registry } = connect(locked.url);
      await pushManifest(registry, "app", buildImage({ seed: "locked a", created: ago(90) }), ["1"]);
      await pushManifest(registry, "app", buildImage({ seed: "locked b", created: ago(80) }), ["2"]);
      const res = await runCli([
        "purge",
        "--registry",
        locked.url,
        "--filter",
        "app:.*",
        "--apply",
        "--yes",
        "--no-usage-sources",
        "--no-cache",
        "--audit-dir",
        join(await tempDir(), "a"),
      ]);
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/refuses deletes.*storage\.delete\.enabled/s);
      expect((res.stderr.match(/^failed/gm) ?? []).length).toBe(1);
    } finally {
      await locked.stop();
    }
  });
});

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { buildImage, pushManifest } from "../../src/fixtures/image-factory.js";
import { planSchema } from "../../src/plan/plan-schema.js";
import { connect, readAudits, runCli, tempDir, uniqueRepo } from "./helpers.js";

const PASSWORD = "S3cret-Pass!";
const LOWERCASE_PASSWORD = "hunter2hunter2";

describe("--password-stdin and an in-use list on standard input", () => {
  const url = inject("registryUrl");
  const p = uniqueRepo("stdin-clash");
  let dir: string;
  let planFile: string;
  let stdinConfig: string;

  beforeAll(async () => {
    dir = await tempDir();
    const inUse = join(dir, "in-use.txt");
    await writeFile(inUse, "");
    planFile = join(dir, "plan.json");
    const made = await runCli([
      "plan",
      "--registry",
      url,
      "--filter",
      `${p}/.*:.*`,
      "--in-use-file",
      inUse,
      "--no-cache",
      "--audit-dir",
      join(dir, "audits"),
      "-o",
      planFile,
    ]);
    expect(made.code, made.stderr).toBe(0);
    stdinConfig = join(dir, "stdin.yaml");
    await writeFile(stdinConfig, "usage:\n  - type: file\n    path: '-'\n");
  });

  const common = ["--username", "u", "--password-stdin", "--no-cache"];
  const audits = () => ["--audit-dir", join(dir, "audits")];
  const commands: [string, () => string[]][] = [
    ["scan", () => ["scan", "--registry", url, ...common, "--in-use-file", "-"]],
    ["plan", () => ["plan", "--registry", url, ...common, "--in-use-file", "-", ...audits()]],
    [
      "purge",
      () => [
        "purge",
        "--registry",
        url,
        "--filter",
        `${p}/.*:.*`,
        ...common,
        "--in-use-file",
        "-",
        ...audits(),
      ],
    ],
    [
      "run",
      () => [
        "run",
        "--registry",
        url,
        "--filter",
        `${p}/.*:.*`,
        ...common,
        "--in-use-file",
        "-",
        ...audits(),
      ],
    ],
    ["apply", () => ["apply", planFile, ...common, "--in-use-file", "-", ...audits()]],
    ["doctor", () => ["doctor", "--registry", url, ...common, "--in-use-file", "-"]],
    [
      "plan with a config file source on -",
      () => ["plan", "--registry", url, ...common, "--config", stdinConfig, ...audits()],
    ],
  ];

  it.each(commands)("%s refuses the combination (exit 2) and never prints the password", async (_, args) => {
    for (const password of [PASSWORD, LOWERCASE_PASSWORD]) {
      const res = await runCli(args(), { stdin: `${password}\n` });
      expect(res.code, res.stderr).toBe(2);
      expect(res.stderr).toMatch(
        /--password-stdin and --in-use-file - both read standard input: put the references in a file, or the password in REGSWEEP_PASSWORD/,
      );
      expect(res.stdout + res.stderr).not.toContain(password);
    }
  });
  it("a rejected line read from standard input is never printed", async () => {
    const res = await runCli(["scan", "--registry", url, "--no-cache", "--in-use-file", "-"], {
      stdin: `${PASSWORD}\n`,
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/<stdin> line 1: not an image reference \(12 characters, not shown\)/);
    expect(res.stdout + res.stderr).not.toContain(PASSWORD);
  });
});

describe("in-use references that name other registries", () => {
  const url = inject("registryUrl");
  const p = uniqueRepo("other-registries");

  it("plan and scan list each one with its file and line, and suggest --registry-alias", async () => {
    const dir = await tempDir();
    const inUse = join(dir, "in-use.txt");
    await writeFile(
      inUse,
      `# mirrors\nmirror.example.com/${p}/app:1\n\nghcr.io/owner/tool@sha256:${"a".repeat(64)}\n`,
    );
    const expected = [
      /note: 2 in-use references name other registries and were set aside \(if one of these hosts is this registry, pass --registry-alias HOST, e\.g\. --registry-alias mirror\.example\.com\):/,
      new RegExp(`\n  mirror\\.example\\.com/${p}/app:1 \\(in-use-file .*in-use\\.txt:2\\)`),
      /\n {2}ghcr\.io\/owner\/tool@sha256:a{64} \(in-use-file .*in-use\.txt:4\)/,
    ];
    const plan = await runCli([
      "plan",
      "--registry",
      url,
      "--filter",
      `${p}/.*:.*`,
      "--in-use-file",
      inUse,
      "--no-cache",
      "--audit-dir",
      join(dir, "audits"),
    ]);
    expect(plan.code, plan.stderr).toBe(0);
    for (const re of expected) expect(plan.stderr).toMatch(re);
    const scan = await runCli([
      "scan",
      "--registry",
      url,
      "--filter",
      `${p}/.*:.*`,
      "--in-use-file",
      inUse,
      "--no-cache",
    ]);
    expect(scan.code, scan.stderr).toBe(0);
    for (const re of expected) expect(scan.stdout).toMatch(re);
  });
});

describe("no usage source at all", () => {
  const url = inject("registryUrl");
  const { registry } = connect(url);
  const WARNING =
    "WARNING: no usage source was given, so nothing is protected as in use: pass --in-use-file FILE, --kubeconfig FILE, or a --config with usage sources";
  const REFUSED =
    /has no usage source, so it would delete images that are in use without knowing it: pass --in-use-file FILE, --kubeconfig FILE, or a --config with usage sources; or pass --no-usage-sources to delete without any/;

  /** A repository with one old image, and the flags that select it. */
  const setUp = async () => {
    const p = uniqueRepo("no-sources");
    const dir = await tempDir();
    await pushManifest(
      registry,
      `${p}/app`,
      buildImage({ seed: p, created: new Date(Date.now() - 90 * 86_400_000) }),
      ["v1"],
    );
    const select = [
      "--registry",
      url,
      "--filter",
      `${p}/.*:.*`,
      "--no-cache",
      "--audit-dir",
      join(dir, "audits"),
    ];
    const tags = async () => {
      const found: string[] = [];
      for await (const t of registry.tags(`${p}/app`)) found.push(t);
      return found;
    };
    return { p, dir, select, tags };
  };

  it("a plan warns on stderr, at the top of the text plan, and in warnings[] and the audit", async () => {
    const { dir, select } = await setUp();
    const text = await runCli(["plan", ...select]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stderr).toContain(WARNING);
    expect(text.stdout.split("\n").slice(0, 4)).toContain(WARNING);
    const json = await runCli(["purge", ...select, "--format", "json"]);
    expect(json.code, json.stderr).toBe(0);
    expect(planSchema.parse(JSON.parse(json.stdout)).warnings[0]).toBe(WARNING.replace("WARNING: ", ""));
    const audits = await readAudits(join(dir, "audits"));
    expect(audits.length).toBeGreaterThan(0);
    for (const a of audits) expect(a.json.warnings).toContain(WARNING.replace("WARNING: ", ""));
  });

  it("purge --apply and run refuse (exit 2) unless --no-usage-sources is given", async () => {
    const { select, tags } = await setUp();
    const purge = await runCli(["purge", ...select, "--apply", "--yes"]);
    expect(purge.code).toBe(2);
    expect(purge.stderr).toMatch(REFUSED);
    expect(purge.stderr).toMatch(/purge --apply has no usage source/);
    const run = await runCli(["run", ...select, "--yes"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/run has no usage source/);
    expect(await tags()).toEqual(["v1"]);
    const chosen = await runCli(["purge", ...select, "--apply", "--yes", "--no-usage-sources"]);
    expect(chosen.code, chosen.stderr).toBe(0);
    expect(chosen.stderr).toContain(WARNING);
    expect(await tags()).toEqual([]);
  });

  it("apply refuses a plan made with no source unless --no-usage-sources; --no-recheck is not that choice", async () => {
    const { dir, select, tags } = await setUp();
    const planFile = join(dir, "plan.json");
    expect((await runCli(["plan", ...select, "-o", planFile])).code).toBe(0);
    const audits = ["--audit-dir", join(dir, "audits")];
    const refused = await runCli(["apply", planFile, "--yes", ...audits]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(REFUSED);
    expect(refused.stderr).toContain(planFile);
    const noRecheck = await runCli(["apply", planFile, "--yes", "--no-recheck", ...audits]);
    expect(noRecheck.code).toBe(2);
    expect(await tags()).toEqual(["v1"]);
    const chosen = await runCli(["apply", planFile, "--yes", "--no-usage-sources", ...audits]);
    expect(chosen.code, chosen.stderr).toBe(0);
    expect(await tags()).toEqual([]);
  });

  it("apply accepts a plan made with an in-use file, or given one now", async () => {
    const { dir, select, tags } = await setUp();
    const inUse = join(dir, "in-use.txt");
    await writeFile(inUse, "# nothing of this registry runs\n");
    const withFile = join(dir, "with-file.json");
    expect((await runCli(["plan", ...select, "--in-use-file", inUse, "-o", withFile])).code).toBe(0);
    const bare = join(dir, "bare.json");
    expect((await runCli(["plan", ...select, "-o", bare])).code).toBe(0);
    const audits = ["--audit-dir", join(dir, "audits")];
    const givenNow = await runCli(["apply", bare, "--yes", "--in-use-file", inUse, ...audits]);
    expect(givenNow.code, givenNow.stderr).toBe(0);
    expect(await tags()).toEqual([]);
    // The same digest is already gone; what matters is that the plan's own source is accepted.
    const fromPlan = await runCli(["apply", withFile, "--yes", ...audits]);
    expect(fromPlan.stderr).not.toMatch(REFUSED);
    expect(fromPlan.code, fromPlan.stderr).toBe(0);
  });
});

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { runCli, tempDir, uniqueRepo } from "./helpers.js";

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
      `${p}/.*`,
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
      () => ["purge", "--registry", url, "--filter", `${p}/.*`, ...common, "--in-use-file", "-", ...audits()],
    ],
    [
      "run",
      () => ["run", "--registry", url, "--filter", `${p}/.*`, ...common, "--in-use-file", "-", ...audits()],
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
      `${p}/.*`,
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
      `${p}/.*`,
      "--in-use-file",
      inUse,
      "--no-cache",
    ]);
    expect(scan.code, scan.stderr).toBe(0);
    for (const re of expected) expect(scan.stdout).toMatch(re);
  });
});

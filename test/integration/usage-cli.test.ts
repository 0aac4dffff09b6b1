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

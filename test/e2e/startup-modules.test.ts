/**
 * What a scan loads (issue 13): the cloud SDKs, the prompt library and the database drivers are
 * for the sources, backups and the wizard that ask for them. Loaded by every run they cost about
 * 90 MiB and a second of start-up, a large part of a warm scan.
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSynthetic, startSyntheticRegistry } from "../../bench/synthetic-registry.js";
import { tempDir } from "../integration/helpers.js";

const ROOT = resolve(import.meta.dirname, "../..");
const HEAVY =
  /node_modules\/(@azure|@aws-sdk|@kubernetes|@inquirer|@octokit|mongodb|azure-devops-node-api|@keycloak)\//;

/** A preload that prints every module URL resolved, one per line on stderr, at exit. */
const RECORD = `data:text/javascript,${encodeURIComponent(`
import { registerHooks } from "node:module";
const seen = new Set();
registerHooks({ resolve(spec, ctx, next) { const r = next(spec, ctx); seen.add(r.url); return r; } });
process.on("exit", () => process.stderr.write([...seen].map((u) => "loaded " + u).join("\\n") + "\\n"));
`)}`;

function modulesLoadedBy(args: string[]): Promise<{ code: number | null; loaded: string[]; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", RECORD, "bin/regsweep.js", ...args], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", fail);
    child.on("close", (code) => {
      const loaded = stderr
        .split("\n")
        .filter((l) => l.startsWith("loaded "))
        .map((l) => l.slice("loaded ".length));
      done({ code, loaded, stderr });
    });
  });
}

describe("start-up loads what the command needs", () => {
  let registry: RunningSynthetic;
  beforeAll(async () => {
    registry = await startSyntheticRegistry({ repos: 3, perRepo: 12 });
  });
  afterAll(() => registry.stop());

  it("--version loads no cloud SDK, prompt library or database driver", async () => {
    const res = await modulesLoadedBy(["--version"]);
    expect(res.code).toBe(0);
    expect(res.loaded.some((u) => u.includes("/dist/cli/main.js"))).toBe(true);
    expect(res.loaded.filter((u) => HEAVY.test(u))).toEqual([]);
  });

  it("a scan of a distribution registry loads none of them either, and still scans", async () => {
    const cache = await tempDir();
    const res = await modulesLoadedBy([
      "scan",
      "--registry",
      registry.url,
      "--insecure",
      "--cache-dir",
      cache,
    ]);
    expect(res.code, res.stderr.slice(-2000)).toBe(0);
    expect(res.loaded.some((u) => u.includes("/dist/inventory/scan.js"))).toBe(true);
    expect(res.loaded.filter((u) => HEAVY.test(u))).toEqual([]);
    // Nor what only other commands need: each command's module loads when that command runs.
    expect(res.loaded.filter((u) => OTHER_COMMANDS.test(u))).toEqual([]);
  });

  it("--version loads no command's module", async () => {
    const res = await modulesLoadedBy(["--version"]);
    expect(res.code).toBe(0);
    expect(res.loaded.filter((u) => /\/dist\/cli\/[a-z-]+-command\.js$/.test(u))).toEqual([]);
  });
});

/** The YAML parser (config import), the plan writer, apply and backups: not a scan's business. */
const OTHER_COMMANDS =
  /node_modules\/yaml\/|\/dist\/(cli\/(purge|apply|restore|report|doctor|config-import)-command|pipeline\/plan-file|apply\/)/;

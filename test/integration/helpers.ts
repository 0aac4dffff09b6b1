import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseRegistryUrl } from "../../src/oci/reference.js";
import { type DistributionOptions, DistributionRegistry } from "../../src/registry/distribution.js";
import { HttpTransport, type TransportOptions } from "../../src/registry/transport.js";

const BIN = resolve(import.meta.dirname, "../../bin/regsweep.js");

/** A repository name no other test uses, so suites can share one registry. */
export function uniqueRepo(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

export function connect(url: string, options: TransportOptions = {}, client: DistributionOptions = {}) {
  const transport = new HttpTransport({ insecure: true, concurrency: 8, ...options });
  return { registry: new DistributionRegistry(parseRegistryUrl(url, true), transport, client), transport };
}

export async function tempDir(prefix = "regsweep-test-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built CLI as a user's script would: a separate process, no TTY. */
export function runCli(
  args: readonly string[],
  options: { stdin?: string; cwd?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  return runProcess(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdin: options.stdin,
  });
}

/** Runs a command asynchronously (a server in this process answers meanwhile), collecting its output. */
export function runProcess(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; stdin?: string } = {},
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(options.stdin ?? "");
  });
}

export async function readAudits(
  dir: string,
): Promise<{ name: string; text: string; json: Record<string, unknown> }[]> {
  const names = (await readdir(dir)).filter((n) => /_manifests(_\d+)?\.json$/.test(n)).sort();
  return Promise.all(
    names.map(async (name) => {
      const text = await readFile(join(dir, name), "utf8");
      return { name, text, json: JSON.parse(text) as Record<string, unknown> };
    }),
  );
}

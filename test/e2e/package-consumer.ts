import { readdir, readFile, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { buildImage, pushManifest } from "../../src/fixtures/image-factory.js";
import type { DistributionRegistry } from "../../src/registry/distribution.js";
import { type CliResult, runProcess, tempDir, uniqueRepo } from "../integration/helpers.js";

/** The repository root: what `npm pack` packs. */
export const ROOT = resolve(import.meta.dirname, "../..");

export type Ran = CliResult;

/**
 * Runs a command as a consumer's shell would, asynchronously (the registry answers meanwhile), with
 * this Node first on PATH. The npm_* variables of an enclosing `npm test` would steer the
 * consumer's npm (prefix, scripts), so they are dropped.
 */
export function runAsConsumer(
  command: string,
  args: readonly string[],
  cwd: string,
  extraEnv: Record<string, string> = {},
): Promise<Ran> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  env.PATH = `${dirname(process.execPath)}:${process.env.PATH ?? ""}`;
  return runProcess(command, args, { cwd, env: { ...env, ...extraEnv } });
}

/** The newest modification time under a directory, so a stale dist/ is refused rather than tested. */
async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) newest = Math.max(newest, (await stat(join(entry.parentPath, entry.name))).mtimeMs);
  }
  return newest;
}

export interface Packed {
  /** A fresh temporary directory holding the tarball; the caller removes it. */
  readonly work: string;
  readonly tarball: string;
  /** Every path in the tarball, relative to the package root. */
  readonly files: readonly string[];
}

/** `npm pack` of this checkout into a temporary directory, as a release would make it. */
export async function packThisCheckout(prefix: string): Promise<Packed> {
  // npm pack --ignore-scripts ships dist/ as it is: it must be the build of this src/ (npm test builds first).
  const built = await stat(join(ROOT, "dist/index.d.ts")).then(
    () => newestMtime(join(ROOT, "dist")),
    () => 0,
  );
  if (built < (await newestMtime(join(ROOT, "src")))) {
    throw new Error("dist/ is missing or older than src/: run `npm run build` first (npm test does)");
  }
  const work = await tempDir(prefix);
  const pack = await runAsConsumer(
    "npm",
    ["pack", "--ignore-scripts", "--json", "--pack-destination", work],
    ROOT,
  );
  if (pack.code !== 0) throw new Error(`npm pack exited ${pack.code}: ${pack.stderr}`);
  const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  if (!info) throw new Error(`npm pack printed no package: ${pack.stdout}`);
  return { work, tarball: join(work, info.filename), files: info.files.map((f) => f.path) };
}

export async function packageVersion(): Promise<string> {
  return (JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
}

const ago = (days: number) => new Date(Date.now() - days * 86_400_000);

/** A repository of three images: old and unused (the one to delete), old but in use, and recent. */
export async function seedOldLiveRecent(registry: DistributionRegistry, host: string, prefix: string) {
  const repo = uniqueRepo(prefix);
  const old = buildImage({ seed: `${repo} old`, created: ago(90) });
  const live = buildImage({ seed: `${repo} live`, created: ago(90) });
  const recent = buildImage({ seed: `${repo} recent`, created: ago(2) });
  await pushManifest(registry, repo, old, ["1.0"]);
  await pushManifest(registry, repo, live, ["1.1"]);
  await pushManifest(registry, repo, recent, ["1.2"]);
  return { repo, old, live, recent, inUse: `${host}/${repo}:1.1` };
}

/**
 * `purge --dry-run` of one seeded repository, relative to the working directory: the in-use list
 * `in-use.txt` there, the plan written to `plan.json` there (the audit to `audits/`).
 */
export function dryRunPurgeArgs(url: string, repo: string): string[] {
  return [
    "purge",
    "--registry",
    url,
    "--insecure",
    "--filter",
    `${repo}:.*`,
    "--ago",
    "30d",
    "--in-use-file",
    "in-use.txt",
    "--no-cache",
    "--dry-run",
    "-o",
    "plan.json",
  ];
}

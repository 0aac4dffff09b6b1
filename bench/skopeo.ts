import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The commands the walk runs, for the printed report. */
export const SKOPEO_COMMANDS = [
  "skopeo list-tags --tls-verify=false docker://HOST/REPO            (once per repository)",
  "skopeo inspect --raw --tls-verify=false docker://HOST/REPO:TAG    (once per tag: the manifest)",
  "skopeo inspect --config --raw --tls-verify=false docker://HOST/REPO:TAG (once per tag: the config, for `created`)",
];

export interface SkopeoResult {
  /** Measured, or extrapolated when sampling. */
  readonly ms: number;
  readonly measuredMs: number;
  /** The share of `ms` spent in `inspect --config` (extrapolated alike). */
  readonly configMs: number;
  readonly repositories: number;
  readonly tags: number;
  /** Tags actually inspected (all of them unless sampling). */
  readonly inspected: number;
  readonly invocations: number;
  readonly sampled: boolean;
}

async function skopeo(args: string[]): Promise<string> {
  const { stdout } = await run("skopeo", args, { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

export async function skopeoVersion(): Promise<string | undefined> {
  try {
    return (await skopeo(["--version"])).trim();
  } catch {
    return undefined;
  }
}

/**
 * What a typical shell script does: one skopeo process after another. Every repository's tags are
 * always listed; with `sample`, only that many tags (spread evenly over all of them) are inspected
 * and the inspect time is scaled up to the full count.
 */
export async function skopeoWalk(
  host: string,
  repositories: readonly string[],
  sample?: number,
): Promise<SkopeoResult> {
  const started = performance.now();
  let invocations = 0;
  const refs: string[] = [];
  for (const repository of repositories) {
    const json = JSON.parse(
      await skopeo(["list-tags", "--tls-verify=false", `docker://${host}/${repository}`]),
    ) as {
      Tags?: string[] | null;
    };
    invocations++;
    for (const tag of json.Tags ?? []) refs.push(`docker://${host}/${repository}:${tag}`);
  }
  const listedAt = performance.now();

  const chosen =
    sample === undefined || sample >= refs.length
      ? refs
      : Array.from({ length: sample }, (_, i) => refs[Math.floor((i * refs.length) / sample)] as string);
  let configMs = 0;
  for (const ref of chosen) {
    JSON.parse(await skopeo(["inspect", "--raw", "--tls-verify=false", ref]));
    const configStarted = performance.now();
    JSON.parse(await skopeo(["inspect", "--config", "--raw", "--tls-verify=false", ref]));
    configMs += performance.now() - configStarted;
    invocations += 2;
  }
  const done = performance.now();

  const scale = chosen.length === 0 ? 0 : refs.length / chosen.length;
  return {
    ms: listedAt - started + (done - listedAt) * scale,
    configMs: configMs * scale,
    measuredMs: done - started,
    repositories: repositories.length,
    tags: refs.length,
    inspected: chosen.length,
    invocations,
    sampled: chosen.length < refs.length,
  };
}

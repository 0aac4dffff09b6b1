import { createHash } from "node:crypto";
import { UsageError } from "../errors.js";

/** One part of a registry split by repository name: shard `index` (0-based) of `count`. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** The environment variable a Kubernetes Indexed Job sets in each pod (0-based), read by `auto/N`. */
export const JOB_COMPLETION_INDEX = "JOB_COMPLETION_INDEX";

/**
 * The shard a repository belongs to: the first 4 bytes of sha256(name), big-endian, modulo
 * `count`. A hash of the name alone, so every shard, on any machine and in any run, agrees on the
 * split without listing anything more than the catalog.
 */
export function shardOfRepository(name: string, count: number): number {
  return createHash("sha256").update(name, "utf8").digest().readUInt32BE(0) % count;
}

export function inShard(shard: Shard, name: string): boolean {
  return shardOfRepository(name, shard.count) === shard.index;
}

/**
 * `--shard I/N` (I from 0 to N-1), or `auto/N`, which takes I from `JOB_COMPLETION_INDEX` (an
 * Indexed Job's pod index). Anything else is bad usage.
 */
export function parseShard(text: string, env: Readonly<Record<string, string | undefined>> = {}): Shard {
  const match = /^\s*(auto|\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!match) {
    throw new UsageError(
      `--shard ${JSON.stringify(text)}: write I/N (0-based I below N, e.g. 0/4), or auto/N inside an Indexed Job`,
    );
  }
  const count = Number(match[2]);
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new UsageError(`--shard ${JSON.stringify(text)}: N must be 1 or more`);
  }
  let index: number;
  if (match[1] === "auto") {
    const fromEnv = env[JOB_COMPLETION_INDEX];
    if (fromEnv === undefined || !/^\d+$/.test(fromEnv.trim())) {
      throw new UsageError(
        `--shard ${text}: ${JOB_COMPLETION_INDEX} is ${fromEnv === undefined ? "not set" : JSON.stringify(fromEnv)} — auto/N works in a Kubernetes Job with completionMode: Indexed; elsewhere give I/N`,
      );
    }
    index = Number(fromEnv.trim());
  } else {
    index = Number(match[1]);
  }
  if (index >= count) {
    throw new UsageError(`--shard ${index}/${count}: the shard index is 0-based and must be below ${count}`);
  }
  return { index, count };
}

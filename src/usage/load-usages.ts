import { UsageError } from "../registry/registry-url.js";
import { type Usage, type UsageSource, UsageSourceError } from "./usage.js";

/**
 * Loads every source. A required source that fails makes the whole run fail closed (exit 3);
 * an optional one is reported and skipped. Usage errors (a bad file, a bad line) stay exit 2.
 */
export async function loadUsages(
  sources: readonly UsageSource[],
  warn: (message: string) => void = (m) => process.stderr.write(`warning: ${m}\n`),
  timeoutMs = Number(process.env.REGSWEEP_SOURCE_TIMEOUT_SECONDS ?? 300) * 1000,
): Promise<Usage[]> {
  const loaded = await Promise.allSettled(sources.map((s) => withTimeout(s, timeoutMs)));
  const usages: Usage[] = [];
  loaded.forEach((result, i) => {
    const source = sources[i] as UsageSource;
    if (result.status === "fulfilled") {
      usages.push(...result.value);
      return;
    }
    const error = result.reason as Error;
    if (error instanceof UsageError || error instanceof UsageSourceError) {
      if (!source.optional) throw error;
    } else if (!source.optional) {
      throw new UsageSourceError(source.name, error.message, { cause: error });
    }
    warn(`optional usage source ${source.name} failed and is ignored: ${error.message}`);
  });
  return usages;
}

/** A source that never answers (a hung API server) must fail the run, not hang it. */
async function withTimeout(source: UsageSource, timeoutMs: number): Promise<readonly Usage[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new UsageSourceError(
            source.name,
            `no answer within ${timeoutMs / 1000} s (REGSWEEP_SOURCE_TIMEOUT_SECONDS)`,
          ),
        ),
      timeoutMs,
    );
    timer.unref();
  });
  try {
    return await Promise.race([source.load(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

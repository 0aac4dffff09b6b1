import { AbortedError, UsageError, UsageSourceError } from "../errors.js";
import type { Findings, ImageRecord, Usage, UsageSource } from "./usage.js";

export interface LoadUsagesOptions {
  /** Where an optional source's failure is reported (default: nowhere; the pipeline turns it into an event). */
  readonly warn?: (message: string) => void;
  /** Per source; default 300 s (the CLI reads REGSWEEP_SOURCE_TIMEOUT_SECONDS). */
  readonly timeoutMs?: number;
  /** The run's signal: aborting it aborts every source still loading. */
  readonly signal?: AbortSignal;
}

/** The per-source timeout the environment asks for, in milliseconds. */
export function sourceTimeoutMs(env: Record<string, string | undefined> = process.env): number {
  const seconds = Number(env.REGSWEEP_SOURCE_TIMEOUT_SECONDS ?? 300);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 300_000;
}

/**
 * Loads every source. A required source that fails makes the whole run fail closed (exit 3);
 * an optional one is reported and skipped. Usage errors (a bad file, a bad line) stay exit 2.
 */
export async function loadUsages(
  sources: readonly UsageSource[],
  options: LoadUsagesOptions = {},
): Promise<Usage[]> {
  return [...(await loadFindings(sources, options)).usages];
}

/** loadUsages, with the records the sources found beside the references that keep images. */
export async function loadFindings(
  sources: readonly UsageSource[],
  options: LoadUsagesOptions = {},
): Promise<{ usages: Usage[]; records: ImageRecord[]; targeting: boolean; warnings: string[] }> {
  const warn = options.warn ?? (() => {});
  const timeoutMs = options.timeoutMs ?? 300_000;
  const loaded = await Promise.allSettled(sources.map((s) => withTimeout(s, timeoutMs, options.signal)));
  const usages: Usage[] = [];
  const records: ImageRecord[] = [];
  const warnings: string[] = [];
  let targeting = false;
  loaded.forEach((result, i) => {
    const source = sources[i] as UsageSource;
    if (result.status === "fulfilled") {
      const found = asFindings(result.value);
      usages.push(...found.usages);
      records.push(...found.records);
      targeting ||= found.targeting === true;
      for (const w of found.warnings ?? []) {
        warnings.push(w);
        warn(w);
      }
      return;
    }
    const error = result.reason as Error;
    // Cancelled is not failed: the caller asked to stop, optional source or not.
    if (error instanceof AbortedError) throw error;
    if (error instanceof UsageError || error instanceof UsageSourceError) {
      if (!source.optional) throw error;
    } else if (!source.optional) {
      throw new UsageSourceError(source.name, error.message, { cause: error });
    }
    warn(`optional usage source ${source.name} failed and is ignored: ${error.message}`);
  });
  return { usages, records, targeting, warnings };
}

function asFindings(loaded: readonly Usage[] | Findings): Findings {
  return "usages" in loaded ? loaded : { usages: loaded as readonly Usage[], records: [] };
}

/**
 * A source that never answers (a hung API server) must fail the run, not hang it: the source gets
 * its own signal, aborted on its timeout or with the run, so its requests are really cancelled
 * and their sockets closed; racing a timer alone would leave them holding the process open.
 */
async function withTimeout(
  source: UsageSource,
  timeoutMs: number,
  runSignal: AbortSignal | undefined,
): Promise<readonly Usage[] | Findings> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onRunAbort: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    const fail = (error: Error) => {
      reject(error);
      controller.abort(error);
    };
    timer = setTimeout(
      () =>
        fail(
          new UsageSourceError(
            source.name,
            `no answer within ${timeoutMs / 1000} s (REGSWEEP_SOURCE_TIMEOUT_SECONDS): check that it is reachable, or raise the timeout`,
          ),
        ),
      timeoutMs,
    );
    timer.unref();
    onRunAbort = () => fail(new AbortedError(`usage source ${source.name}: the run was cancelled`));
    if (runSignal?.aborted) onRunAbort();
    else runSignal?.addEventListener("abort", onRunAbort, { once: true });
  });
  try {
    return await Promise.race([
      source.find ? source.find(controller.signal) : source.load(controller.signal),
      stopped,
    ]);
  } finally {
    clearTimeout(timer);
    if (onRunAbort) runSignal?.removeEventListener("abort", onRunAbort);
  }
}

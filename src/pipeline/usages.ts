import type { Config, UsageSourceConfig } from "../config/config-schema.js";
import { configSchema, usageSourceSchema } from "../config/config-schema.js";
import { UsageError } from "../errors.js";
import { parseDuration } from "../policy/duration.js";
import { sourceDeps, sourcesFromConfig } from "../usage/build-sources.js";
import { parseInUseList } from "../usage/in-use-file.js";
import { loadFindings as loadAll } from "../usage/load-usages.js";
import type { ImageRecord, Usage, UsageSource } from "../usage/usage.js";
import type { RunOptions } from "./events.js";

/** How long one source may take unless told otherwise (the CLI reads REGSWEEP_SOURCE_TIMEOUT_SECONDS). */
const DEFAULT_SOURCE_TIMEOUT_MS = 300_000;

/** An in-use list given as data: one image reference per entry (what a deploy pipeline knows). */
export interface ReferenceList {
  readonly type: "references";
  /** Named in every in-use reason, e.g. `deploy pipeline`. */
  readonly name?: string;
  readonly references: readonly string[];
  readonly optional?: boolean;
}

/** A source as the configuration file describes it, a plain reference list, or a ready UsageSource. */
export type SourceSpec = UsageSourceConfig | ReferenceList | UsageSource;

export interface LoadUsagesOptions extends RunOptions {
  /** Per source (default 300 s): a source that does not answer in time fails, and its requests are cancelled. */
  readonly timeoutMs?: number;
  /** Azure settings (cloud, subscriptions) for Azure sources, and the environment their identity reads. */
  readonly azure?: { readonly settings?: Config["azure"]; readonly env?: Record<string, string | undefined> };
  /** Where `uriEnv` and the Azure identity look (default: nowhere but the Azure SDK's own chain). */
  readonly env?: Record<string, string | undefined>;
  /** Where a `file` source named `-` reads from; without it such a source is refused. */
  readonly readStdin?: () => Promise<string>;
  /** The policy's protectPulledWithin (`30d`): the window of an `acrPullLogs` source without its own `within`. */
  readonly pulledWithin?: string;
}

/**
 * Turns specs into sources that load on demand: the configuration file's shapes (validated as the
 * file is), reference lists, or UsageSource objects as they are.
 */
export function usageSources(specs: readonly SourceSpec[], options: LoadUsagesOptions = {}): UsageSource[] {
  const azure = options.azure?.settings ?? configSchema.parse({}).azure;
  const readStdin =
    options.readStdin ??
    (() => Promise.reject(new UsageError("no standard input here: give the references as a list or a file")));
  const deps = {
    ...sourceDeps(azure, readStdin, options.env ?? options.azure?.env),
    ...(options.pulledWithin ? { pulledWithin: options.pulledWithin } : {}),
    durationMs: parseDuration,
  };
  return specs.flatMap((spec): UsageSource[] => {
    if ("load" in spec) return [spec];
    if (spec.type === "references") {
      const name = spec.name ?? "references";
      const text = spec.references.join("\n");
      return [{ name, optional: spec.optional ?? false, load: async () => parseInUseList(text, name, "") }];
    }
    const parsed = usageSourceSchema.safeParse(spec);
    if (!parsed.success) {
      throw new UsageError(
        `usage source ${JSON.stringify((spec as { type?: unknown }).type)}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "it"}: ${i.message}`).join("; ")}`,
      );
    }
    return sourcesFromConfig(parsed.data, deps);
  });
}

/**
 * Every image reference the sources say is in use, with who uses it. A required source that
 * fails makes the call fail (UsageSourceError, exit 3): nothing may be decided without it. An
 * optional one that fails is reported as a warning event and skipped.
 */
export async function loadUsages(
  specs: readonly SourceSpec[],
  options: LoadUsagesOptions = {},
): Promise<Usage[]> {
  return (await loadUsageFindings(specs, options)).usages;
}

/** What the sources found: the references that keep images, and the records that only describe them. */
export interface UsageFindings {
  readonly usages: Usage[];
  /** Database records that keep nothing (an old revision): owners, targets, clean-ups. */
  readonly records: ImageRecord[];
  /** A source was told to target objects (`--object-ids`): only their images may go. */
  readonly targeting: boolean;
}

/** loadUsages, with the records beside the references (the MongoDB sources find both). */
export async function loadUsageFindings(
  specs: readonly SourceSpec[],
  options: LoadUsagesOptions = {},
): Promise<UsageFindings> {
  const onEvent = options.onEvent;
  const { usages, records, targeting } = await loadAll(usageSources(specs, options), {
    warn: (message) => onEvent?.({ type: "warning", message }),
    timeoutMs: options.timeoutMs ?? DEFAULT_SOURCE_TIMEOUT_MS,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { usages, records, targeting };
}

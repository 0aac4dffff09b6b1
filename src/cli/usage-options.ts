import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { type Command, Option } from "commander";
import type { Config } from "../config/config-schema.js";
import { UsageError } from "../errors.js";
import { parseRegistryTarget } from "../oci/reference.js";
import type { Plan } from "../plan/plan-schema.js";
import { parseDuration } from "../policy/duration.js";
import { buildUsageSources, sourceDeps } from "../usage/build-sources.js";
import { parseObjectIds } from "../usage/object-ids.js";
import type { UsageSource } from "../usage/usage.js";

/** The flags that name usage sources, declared once for every command that reads them. */
export interface UsageFlags {
  inUseFile?: string[];
  kubeconfig?: string;
  context?: string[];
  registryAlias?: string[];
  /** Domino preset: runs last used longer ago than this many days keep nothing. */
  unusedSinceDays?: number;
  /** Domino preset: `kind:ObjectId` lines; only these objects' images may go. */
  objectIds?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Adds --in-use-file, --kubeconfig, --context and --registry-alias; `verb` says what the command does with them. */
export function addUsageOptions(cmd: Command, verb: "read" | "re-check" | "check" = "read"): Command {
  const what = {
    read: "image references in use",
    "re-check": "re-check these in-use references",
    check: "also check this in-use list",
  }[verb];
  return cmd
    .addOption(
      new Option("--in-use-file <file>", `${what}, one per line (- for stdin); repeatable`).argParser(
        collect,
      ),
    )
    .option(
      "--kubeconfig <file>",
      `${verb === "read" ? "read in-use images from" : `${verb} images of`} this cluster (its current context unless --context)`,
    )
    .addOption(
      new Option("--context <name>", "a kubeconfig context; repeatable, each is a source").argParser(collect),
    )
    .addOption(
      new Option(
        "--registry-alias <host>",
        "another name references use for this registry; repeatable",
      ).argParser(collect),
    )
    .addOption(
      new Option(
        "--unused-since-days <n>",
        "domino preset: runs last used more than N days ago no longer keep their images",
      ).argParser(positiveInteger("--unused-since-days")),
    )
    .option(
      "--object-ids <file>",
      "domino preset: only the images of these objects may go (lines environment:<id>, environmentRevision:<id>, model:<id>, modelVersion:<id>)",
    );
}

function positiveInteger(flag: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0)
      throw new UsageError(`${flag} ${JSON.stringify(value)} is not a whole number of days`);
    return n;
  };
}

/**
 * The configuration with the Domino flags applied to its Domino preset sources; a flag with no
 * such source to apply to is bad usage, never silently ignored.
 */
export function withDominoFlags(config: Config, flags: UsageFlags): Config {
  if (flags.unusedSinceDays === undefined && flags.objectIds === undefined) return config;
  const presets = config.usage.filter((s) => s.type === "mongodb" && s.preset === "domino");
  if (presets.length === 0) {
    throw new UsageError(
      `${flags.objectIds !== undefined ? "--object-ids" : "--unused-since-days"} needs a usage source with preset: domino in the configuration`,
    );
  }
  let objectIds: string[] | undefined;
  if (flags.objectIds !== undefined) {
    let text: string;
    try {
      text = readFileSync(flags.objectIds, "utf8");
    } catch (error) {
      throw new UsageError(
        `--object-ids ${flags.objectIds}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}: give a readable file`,
      );
    }
    parseObjectIds(text, flags.objectIds); // bad lines are exit 2, naming the line
    objectIds = text.split(/\r?\n/);
  }
  return {
    ...config,
    usage: config.usage.map((s) =>
      s.type === "mongodb" && s.preset === "domino"
        ? {
            ...s,
            ...(flags.unusedSinceDays !== undefined ? { unusedSinceDays: flags.unusedSinceDays } : {}),
            ...(objectIds ? { objectIds } : {}),
          }
        : s,
    ),
  };
}

/** True when the flags name a source themselves (then they replace the plan's recorded ones). */
export function namesSources(flags: UsageFlags & { config?: string }): boolean {
  return Boolean(flags.config || flags.inUseFile?.length || flags.kubeconfig || flags.context?.length);
}

/** The configured sources plus those the flags add. */
export function usageSourcesOf(
  config: Config,
  flags: UsageFlags & { registry?: string; protectPulledWithin?: string },
  readStdin: () => Promise<string>,
): UsageSource[] {
  const registryHost = hostOfRegistry(flags.registry ?? config.registry.url);
  const pulledWithin = flags.protectPulledWithin ?? config.policy.protectPulledWithin;
  return buildUsageSources(
    withDominoFlags(config, flags),
    { inUseFiles: flags.inUseFile, kubeconfig: flags.kubeconfig, contexts: flags.context },
    {
      ...sourceDeps(config.azure, readStdin, process.env),
      ...(registryHost ? { registryHost } : {}),
      ...(pulledWithin ? { pulledWithin } : {}),
      durationMs: parseDuration,
    },
  );
}

/** The host image names use for the registry being cleaned, where the flags or file name one. */
function hostOfRegistry(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const target = parseRegistryTarget(url, true);
    return target.kind === "http" ? target.host : "oci-layout";
  } catch {
    return undefined;
  }
}

export function aliasesOf(
  config: Config,
  flags: UsageFlags,
  ...more: (readonly string[] | undefined)[]
): string[] {
  return [...config.registry.aliases, ...more.flatMap((m) => m ?? []), ...(flags.registryAlias ?? [])];
}

/** The sources a plan was made with, recorded so that apply can read them again just before deleting. */
export function usageSpec(flags: UsageFlags & { config?: string }): Plan["usage"] {
  return {
    ...(flags.config ? { config: resolve(flags.config) } : {}),
    inUseFiles: (flags.inUseFile ?? []).map((f) => (f === "-" ? f : resolve(f))),
    ...(flags.kubeconfig ? { kubeconfig: resolve(flags.kubeconfig) } : {}),
    contexts: flags.context ?? [],
    aliases: flags.registryAlias ?? [],
    ...(flags.unusedSinceDays !== undefined ? { unusedSinceDays: flags.unusedSinceDays } : {}),
    ...(flags.objectIds !== undefined ? { objectIds: resolve(flags.objectIds) } : {}),
  };
}

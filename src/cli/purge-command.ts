import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { Command } from "commander";
import { Option } from "commander";
import { writeAudit } from "../apply/audit.js";
import { loadConfig } from "../config/load-config.js";
import { scanRegistry } from "../inventory/scan.js";
import { buildPlan } from "../plan/build-plan.js";
import type { Plan } from "../plan/plan-schema.js";
import { parseDuration } from "../policy/duration.js";
import { type Filter, FilterError, parseFilter, repositorySelected } from "../policy/filter.js";
import type { PurgePolicy } from "../policy/purge-policy.js";
import { AcrRegistry } from "../registry/acr.js";
import { UsageError } from "../registry/registry-url.js";
import { formatPlanHtml } from "../report/plan-html.js";
import { formatPlanText } from "../report/plan-text.js";
import { buildUsageSources, refuseSharedStdin, sourceDeps } from "../usage/build-sources.js";
import { inUseTagsByRepository } from "../usage/in-use-tags.js";
import { loadUsages } from "../usage/load-usages.js";
import { NO_USAGE_SOURCES_WARNING, refuseDeletionWithoutSources } from "../usage/no-usage-sources.js";
import { resolveUsages } from "../usage/resolve.js";
import { setAsideNote } from "../usage/set-aside-note.js";
import { applyPlan } from "./apply-flow.js";
import {
  addRegistryOptions,
  openRegistry,
  positiveInt,
  type RegistryFlags,
  withConfig,
} from "./registry-options.js";
import { readStdinOnce } from "./stdin.js";

export interface PurgeFlags extends RegistryFlags {
  filter?: string[];
  ago?: string;
  keep?: number;
  untagged?: boolean;
  scope?: "all" | "used-repositories";
  inUseFile?: string[];
  kubeconfig?: string;
  context?: string[];
  registryAlias?: string[];
  dryRun?: boolean;
  apply?: boolean;
  yes?: boolean;
  output?: string;
  format: "text" | "json" | "html";
  auditDir?: string;
  confirm?: "normal" | "strict";
  backup?: string;
  s3Endpoint?: string;
  /** false with --no-usage-sources: deleting with no usage source was asked for by name. */
  usageSources?: boolean;
}

/** The sources a plan was made with, recorded so that apply can read them again just before deleting. */
function usageSpec(flags: PurgeFlags): Plan["usage"] {
  return {
    ...(flags.config ? { config: resolve(flags.config) } : {}),
    inUseFiles: (flags.inUseFile ?? []).map((f) => (f === "-" ? f : resolve(f))),
    ...(flags.kubeconfig ? { kubeconfig: resolve(flags.kubeconfig) } : {}),
    contexts: flags.context ?? [],
    aliases: flags.registryAlias ?? [],
  };
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Options shared by `plan` and `purge`: what to select and what protects. */
export function addSelectionOptions(cmd: Command, filterRequired: boolean): Command {
  const filter = new Option(
    "--filter <repo:tag>",
    "REPO_REGEX:TAG_REGEX, repeatable (repository anchored, tag not)",
  ).argParser(collect);
  if (filterRequired) filter.makeOptionMandatory();
  return addRegistryOptions(cmd)
    .addOption(filter)
    .option("--ago <duration>", "only manifests older than this (30d, 1d12h, 90m); default any age")
    .addOption(
      new Option(
        "--keep <n>",
        "keep the newest N images (distinct digests) that would otherwise go",
      ).argParser(positiveInt("--keep")),
    )
    .option("--untagged", "purge untagged manifests too")
    .addOption(
      new Option(
        "--scope <scope>",
        "used-repositories: only delete in repositories a usage source references",
      ).choices(["all", "used-repositories"]),
    )
    .addOption(
      new Option(
        "--in-use-file <file>",
        "image references in use, one per line (- for stdin); repeatable",
      ).argParser(collect),
    )
    .option(
      "--kubeconfig <file>",
      "read in-use images from this cluster (its current context unless --context)",
    )
    .addOption(
      new Option("--context <name>", "a kubeconfig context to read; repeatable, each is a source").argParser(
        collect,
      ),
    )
    .addOption(
      new Option(
        "--registry-alias <host>",
        "another name references use for this registry; repeatable",
      ).argParser(collect),
    )
    .option("-o, --output <file>", "write the plan JSON here")
    .addOption(
      new Option("--format <format>", "what to print").choices(["text", "json", "html"]).default("text"),
    )
    .option("--audit-dir <dir>", "where audit records go (default audits)");
}

/** `plan` never deletes; `purge` deletes with --apply; `run` is the configured pipeline, applied. */
export async function runPurge(cliFlags: PurgeFlags, command: "plan" | "purge" | "run"): Promise<number> {
  const startedAt = new Date();
  const config = await loadConfig(cliFlags.config);
  const flags = { ...cliFlags, ...withConfig(cliFlags, config) };
  if (flags.apply && flags.dryRun) throw new UsageError("--apply and --dry-run contradict each other");
  if (command === "plan" && flags.apply)
    throw new UsageError("plan never deletes: use purge --apply or apply PLAN.json");
  const sources = buildUsageSources(
    config,
    { inUseFiles: flags.inUseFile, kubeconfig: flags.kubeconfig, contexts: flags.context },
    sourceDeps(config, readStdinOnce),
  );
  refuseSharedStdin(sources, flags.passwordStdin);
  if (sources.length === 0) {
    if (flags.apply && flags.usageSources !== false)
      refuseDeletionWithoutSources(command === "run" ? "run" : "purge --apply");
    process.stderr.write(`WARNING: ${NO_USAGE_SOURCES_WARNING}\n`);
  }
  const ago = flags.ago ?? config.policy.ago;
  const keep = flags.keep ?? config.policy.keep;
  const filters = parseFilters(flags.filter ?? config.policy.filters);
  const agoMs = ago === undefined ? undefined : parseDuration(ago);
  if (ago !== undefined && agoMs === undefined) {
    throw new UsageError(`--ago ${JSON.stringify(ago)} is not a duration (examples: 30d, 1d12h, 90m)`);
  }
  const policy: PurgePolicy = {
    filters,
    agoMs,
    keep,
    untagged: flags.untagged ?? config.policy.untagged,
    scope: flags.scope ?? config.policy.scope,
  };
  const auditDir = flags.auditDir ?? config.audit.dir;

  const opened = await openRegistry(flags, readStdinOnce, config.azure);
  try {
    // Usage first: a source that fails stops the run before any registry work (fail closed).
    const usages = await loadUsages(sources);
    const aliases = [...config.registry.aliases, ...(flags.registryAlias ?? [])];
    const inUseTags = inUseTagsByRepository(usages, opened.registry.host, aliases);
    const inventory = await scanRegistry(opened.registry, {
      cache: opened.cache,
      includeRepository: (name) => repositorySelected(filters, name),
      verifyTags: (repository) => inUseTags.get(repository) ?? [],
    });
    const resolution = resolveUsages(inventory, usages, aliases);
    const now = new Date();
    const plan = buildPlan({
      inventory,
      policy,
      resolution,
      now,
      registryUrl: opened.url,
      registryType: opened.registry instanceof AcrRegistry ? "acr" : "distribution",
      usage: usageSpec(flags),
      options: {
        filters: filters.map((f) => f.text),
        ago: ago ?? null,
        keep: keep ?? null,
        untagged: policy.untagged,
      },
    });
    if (sources.length === 0) plan.warnings.unshift(NO_USAGE_SOURCES_WARNING);
    // An apply needs its plan on disk: the journal lives next to it, and --resume reads it.
    const planFile =
      flags.output ??
      (flags.apply
        ? join(
            auditDir,
            "plans",
            // Milliseconds and a random suffix: two runs in one second must not share a journal.
            `${startedAt.toISOString().replace(/[-:]/g, "")}_${randomBytes(3).toString("hex")}_plan.json`,
          )
        : undefined);
    if (planFile) {
      await mkdir(dirname(planFile), { recursive: true });
      await writeFile(planFile, `${JSON.stringify(plan, null, 2)}\n`);
    }
    if (flags.format === "json") process.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
    else if (flags.format === "html") process.stdout.write(formatPlanHtml(plan));
    else process.stdout.write(formatPlanText(plan, now));
    const setAside = setAsideNote(resolution.setAside);
    if (setAside) process.stderr.write(`${setAside}\n`);

    const configuration = { ...redactedConfiguration(flags, command), sources: sources.map((s) => s.name) };
    if (!flags.apply) {
      const audit = await writeAudit(auditDir, {
        mode: "dry-run",
        command,
        plan,
        results: [],
        startedAt,
        finishedAt: new Date(),
        configuration,
      });
      process.stderr.write(`Dry run: nothing was deleted. Audit: ${audit}\n`);
      if (command === "purge")
        process.stderr.write("Re-run with --apply --yes to delete what the plan lists.\n");
      return 0;
    }
    return await applyPlan(plan, opened.registry, {
      yes: flags.yes ?? false,
      confirm: flags.confirm ?? "normal",
      auditDir,
      configuration,
      command,
      startedAt,
      concurrency: flags.concurrency,
      journalPath: `${planFile}.journal`,
      resume: false,
      ...(flags.backup ? { backup: flags.backup } : {}),
      ...(flags.s3Endpoint ? { s3Endpoint: flags.s3Endpoint } : {}),
      // Just read: a second read moments later would only cost time.
      aliases: [...config.registry.aliases, ...(flags.registryAlias ?? [])],
    });
  } finally {
    await opened.close();
  }
}

function parseFilters(texts: readonly string[]): Filter[] {
  try {
    return texts.map(parseFilter);
  } catch (error) {
    if (error instanceof FilterError) throw new UsageError(error.message);
    throw error;
  }
}

/** What the audit records of how the run was called; never a password or token. */
export function redactedConfiguration(flags: object, command: string): Record<string, unknown> {
  const out: Record<string, unknown> = { command };
  for (const [key, value] of Object.entries(flags)) {
    if (/password|token|secret/i.test(key)) continue;
    out[key] = value;
  }
  return out;
}

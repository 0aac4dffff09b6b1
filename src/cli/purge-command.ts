import { writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { Option } from "commander";
import { writeAudit } from "../apply/audit.js";
import { executePlan, type ItemResult } from "../apply/execute-plan.js";
import { scanRegistry } from "../inventory/scan.js";
import { buildPlan } from "../plan/build-plan.js";
import type { Plan } from "../plan/plan-schema.js";
import { parseDuration } from "../policy/duration.js";
import { type Filter, FilterError, parseFilter, repositorySelected } from "../policy/filter.js";
import { UsageError } from "../registry/registry-url.js";
import { formatBytes } from "../report/format-bytes.js";
import { formatPlanText } from "../report/plan-text.js";
import { inUseFileSource } from "../usage/in-use-file.js";
import { loadUsages } from "../usage/load-usages.js";
import { resolveUsages } from "../usage/resolve.js";
import { confirmDeletion } from "./confirm.js";
import { addRegistryOptions, openRegistry, positiveInt, type RegistryFlags } from "./registry-options.js";
import { readStdinOnce } from "./stdin.js";

export interface PurgeFlags extends RegistryFlags {
  filter?: string[];
  ago?: string;
  keep?: number;
  untagged?: boolean;
  inUseFile?: string[];
  registryAlias?: string[];
  dryRun?: boolean;
  apply?: boolean;
  yes?: boolean;
  output?: string;
  format: "text" | "json";
  auditDir: string;
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
        "--in-use-file <file>",
        "image references in use, one per line (- for stdin); repeatable",
      ).argParser(collect),
    )
    .addOption(
      new Option(
        "--registry-alias <host>",
        "another name references use for this registry; repeatable",
      ).argParser(collect),
    )
    .option("-o, --output <file>", "write the plan JSON here")
    .addOption(new Option("--format <format>", "what to print").choices(["text", "json"]).default("text"))
    .option("--audit-dir <dir>", "where audit records go", "audits");
}

export async function runPurge(flags: PurgeFlags, command: "plan" | "purge"): Promise<number> {
  const startedAt = new Date();
  if (flags.apply && flags.dryRun) throw new UsageError("--apply and --dry-run contradict each other");
  if (command === "plan" && flags.apply)
    throw new UsageError("plan never deletes: use purge --apply or apply PLAN.json");
  if (flags.passwordStdin && flags.inUseFile?.includes("-")) {
    throw new UsageError("--password-stdin and --in-use-file - cannot both read standard input");
  }
  const filters = parseFilters(flags.filter ?? [".*:.*"]);
  const agoMs = flags.ago === undefined ? undefined : parseDuration(flags.ago);
  if (flags.ago !== undefined && agoMs === undefined) {
    throw new UsageError(`--ago ${JSON.stringify(flags.ago)} is not a duration (examples: 30d, 1d12h, 90m)`);
  }
  const policy = { filters, agoMs, keep: flags.keep, untagged: flags.untagged ?? false };

  const opened = await openRegistry(flags, readStdinOnce);
  try {
    // Usage first: a source that fails stops the run before any registry work (fail closed).
    const usages = await loadUsages((flags.inUseFile ?? []).map((f) => inUseFileSource(f, readStdinOnce)));
    const inventory = await scanRegistry(opened.registry, {
      cache: opened.cache,
      includeRepository: (name) => repositorySelected(filters, name),
    });
    const resolution = resolveUsages(inventory, usages, flags.registryAlias ?? []);
    const now = new Date();
    const plan = buildPlan({
      inventory,
      policy,
      resolution,
      now,
      registryUrl: opened.url,
      options: {
        filters: filters.map((f) => f.text),
        ago: flags.ago ?? null,
        keep: flags.keep ?? null,
        untagged: policy.untagged,
      },
    });
    if (flags.output) await writeFile(flags.output, `${JSON.stringify(plan, null, 2)}\n`);
    if (flags.format === "json") process.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
    else process.stdout.write(formatPlanText(plan, now));
    if (resolution.otherRegistries > 0) {
      process.stderr.write(
        `note: ${resolution.otherRegistries} in-use references name other registries and were set aside\n`,
      );
    }

    const configuration = redactedConfiguration(flags, command);
    if (!flags.apply) {
      const audit = await writeAudit(flags.auditDir, {
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
      auditDir: flags.auditDir,
      configuration,
      command,
      startedAt,
      concurrency: flags.concurrency,
    });
  } finally {
    await opened.close();
  }
}

export interface ApplySettings {
  readonly yes: boolean;
  readonly auditDir: string;
  readonly configuration: Record<string, unknown>;
  readonly command: string;
  readonly startedAt: Date;
  readonly concurrency: number;
}

/** Confirms, deletes through the executor, reports, and writes the audit record. */
export async function applyPlan(
  plan: Plan,
  registry: Parameters<typeof executePlan>[1],
  settings: ApplySettings,
): Promise<number> {
  if (plan.delete.length === 0) {
    await writeAudit(settings.auditDir, {
      mode: "apply",
      command: settings.command,
      plan,
      results: [],
      startedAt: settings.startedAt,
      finishedAt: new Date(),
      configuration: settings.configuration,
    });
    process.stderr.write("Nothing to delete.\n");
    return 0;
  }
  const repos = new Set(plan.delete.map((d) => d.repository)).size;
  const summary = `About to delete ${plan.delete.length} manifests in ${repos} repositories of ${plan.registry}, reclaiming about ${formatBytes(plan.summary.reclaimableBytes)}.`;
  if (!(await confirmDeletion(summary, settings.yes))) {
    process.stderr.write("Not confirmed: nothing was deleted.\n");
    return 1;
  }
  let results: ItemResult[] = [];
  let error: Error | undefined;
  try {
    results = await executePlan(plan, registry, {
      concurrency: settings.concurrency,
      onResult: (r) =>
        process.stderr.write(
          `${r.status.padEnd(12)} ${r.repository}@${r.digest}${r.detail ? `  ${r.detail}` : ""}\n`,
        ),
    });
  } catch (e) {
    error = e as Error;
  }
  const audit = await writeAudit(settings.auditDir, {
    mode: "apply",
    command: settings.command,
    plan,
    results,
    startedAt: settings.startedAt,
    finishedAt: new Date(),
    configuration: settings.configuration,
    ...(error ? { error: error.message } : {}),
  });
  const count = (s: ItemResult["status"]) => results.filter((r) => r.status === s).length;
  process.stderr.write(
    `Deleted ${count("deleted")}, already gone ${count("already-gone")}, skipped ${count("skipped")}, failed ${count("failed")}. Audit: ${audit}\n`,
  );
  if (error) throw error;
  return count("failed") > 0 ? 1 : 0;
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

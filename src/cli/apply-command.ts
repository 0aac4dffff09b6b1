import { readFile } from "node:fs/promises";
import { ZodError } from "zod";
import { loadConfig } from "../config/load-config.js";
import { type Plan, planSchema } from "../plan/plan-schema.js";
import { parseDuration } from "../policy/duration.js";
import { canonicalHost, UsageError } from "../registry/registry-url.js";
import { buildUsageSources, refuseSharedStdin, sourceDeps } from "../usage/build-sources.js";
import {
  NO_USAGE_SOURCES_WARNING,
  planHadUsageSources,
  refuseDeletionWithoutSources,
} from "../usage/no-usage-sources.js";
import { applyPlan } from "./apply-flow.js";
import { redactedConfiguration } from "./purge-command.js";
import { openRegistry, type RegistryFlags, withConfig } from "./registry-options.js";
import { readStdinOnce } from "./stdin.js";

export interface ApplyFlags extends RegistryFlags {
  yes?: boolean;
  confirm?: "normal" | "strict";
  auditDir?: string;
  resume?: boolean;
  retryFailed?: boolean;
  backup?: string;
  s3Endpoint?: string;
  maxPlanAge: string;
  recheck: boolean;
  inUseFile?: string[];
  kubeconfig?: string;
  context?: string[];
  registryAlias?: string[];
  /** false with --no-usage-sources. */
  usageSources?: boolean;
}

export async function readPlan(path: string): Promise<Plan> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read plan ${path}: ${(error as Error).message}`);
  }
  try {
    return planSchema.parse(JSON.parse(text));
  } catch (error) {
    const why =
      error instanceof ZodError
        ? error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")
        : (error as Error).message;
    throw new UsageError(`${path} is not a regsweep plan (version 1): ${why}`);
  }
}

/**
 * `apply PLAN.json`: executes a reviewed plan. The usage sources are those given here, else the
 * ones the plan was made with; they are read again before anything is deleted (unless --no-recheck).
 */
export async function runApply(planPath: string, cliFlags: ApplyFlags): Promise<number> {
  const startedAt = new Date();
  if (cliFlags.retryFailed && !cliFlags.resume) {
    throw new UsageError(
      `--retry-failed retries what the journal of ${planPath} records as failed: add --resume`,
    );
  }
  const plan = await readPlan(planPath);
  const maxAge = parseDuration(cliFlags.maxPlanAge);
  if (maxAge === undefined)
    throw new UsageError(`--max-plan-age ${JSON.stringify(cliFlags.maxPlanAge)} is not a duration`);
  const age = startedAt.getTime() - Date.parse(plan.createdAt);
  if (maxAge > 0 && age > maxAge && !cliFlags.resume) {
    throw new UsageError(
      `plan ${planPath} is ${Math.floor(age / 3_600_000)} hours old (more than --max-plan-age ${cliFlags.maxPlanAge}): make a new plan, or pass a larger --max-plan-age`,
    );
  }
  const given = Boolean(
    cliFlags.config || cliFlags.inUseFile?.length || cliFlags.kubeconfig || cliFlags.context?.length,
  );
  const spec = plan.usage;
  const configPath = cliFlags.config ?? (given ? undefined : spec?.config);
  const config = await loadConfig(configPath);
  const flags = { ...cliFlags, ...withConfig(cliFlags, config) };
  const adHoc = given
    ? { inUseFiles: cliFlags.inUseFile, kubeconfig: cliFlags.kubeconfig, contexts: cliFlags.context }
    : {
        inUseFiles: spec?.inUseFiles.filter((f) => f !== "-"),
        kubeconfig: spec?.kubeconfig,
        contexts: spec?.contexts,
      };
  if (!given && spec?.inUseFiles.includes("-") && cliFlags.recheck) {
    process.stderr.write(
      "warning: the plan read in-use references from stdin, which cannot be read again: pass --in-use-file to re-check them\n",
    );
  }
  const sources = buildUsageSources(config, adHoc, sourceDeps(config, readStdinOnce));
  refuseSharedStdin(sources, flags.passwordStdin);
  // --no-recheck skips reading the sources again; it is not a choice to have none at all.
  if (sources.length === 0 && !planHadUsageSources(plan)) {
    if (cliFlags.usageSources !== false) refuseDeletionWithoutSources(`plan ${planPath}`);
    process.stderr.write(`WARNING: ${NO_USAGE_SOURCES_WARNING}\n`);
  }
  const opened = await openRegistry(
    {
      ...flags,
      registry: flags.registry ?? plan.registryUrl ?? plan.registry,
      registryType: cliFlags.registryType !== "auto" ? cliFlags.registryType : (plan.registryType ?? "auto"),
    },
    readStdinOnce,
    config.azure,
  );
  try {
    if (canonicalHost(opened.registry.host) !== canonicalHost(plan.registry)) {
      throw new UsageError(`plan ${planPath} was made for ${plan.registry}, not ${opened.registry.host}`);
    }
    return await applyPlan(plan, opened.registry, {
      yes: flags.yes ?? false,
      confirm: flags.confirm ?? "normal",
      auditDir: flags.auditDir ?? config.audit.dir,
      configuration: {
        ...redactedConfiguration(flags, "apply"),
        plan: planPath,
        sources: sources.map((s) => s.name),
      },
      command: "apply",
      startedAt,
      concurrency: flags.concurrency,
      journalPath: `${planPath}.journal`,
      resume: flags.resume ?? false,
      retryFailed: flags.retryFailed ?? false,
      ...(flags.backup ? { backup: flags.backup } : {}),
      ...(flags.s3Endpoint ? { s3Endpoint: flags.s3Endpoint } : {}),
      ...(flags.recheck ? { recheck: sources } : {}),
      aliases: [...config.registry.aliases, ...(spec?.aliases ?? []), ...(flags.registryAlias ?? [])],
    });
  } finally {
    await opened.close();
  }
}

import { inClusterSettings } from "../apply/in-cluster-registry.js";
import { loadConfig } from "../config/load-config.js";
import { UsageError } from "../errors.js";
import { canonicalHost } from "../oci/reference.js";
import { readPlan } from "../pipeline/plan-file.js";
import {
  NO_USAGE_SOURCES_WARNING,
  planHadUsageSources,
  refuseDeletionWithoutSources,
} from "../plan/no-usage-sources.js";
import { parseDuration } from "../policy/duration.js";
import { refuseSharedStdin } from "../usage/build-sources.js";
import { sourceTimeoutMs } from "../usage/load-usages.js";
import { mongoRecordCleaner } from "../usage/record-cleaner.js";
import { runApplyInTerminal } from "./apply-run.js";
import { openRegistryFromFlags, type RegistryFlags, withConfig } from "./registry-options.js";
import { identityOf, redactedConfiguration } from "./run-record.js";
import { readStdinOnce } from "./stdin.js";
import { aliasesOf, namesSources, type UsageFlags, usageSourcesOf } from "./usage-options.js";

export interface ApplyFlags extends RegistryFlags, UsageFlags {
  yes?: boolean;
  confirm?: "normal" | "strict";
  auditDir?: string;
  resume?: boolean;
  retryFailed?: boolean;
  backup?: string;
  s3Endpoint?: string;
  maxPlanAge: string;
  recheck: boolean;
  /** false with --no-usage-sources. */
  usageSources?: boolean;
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
  const given = namesSources(cliFlags);
  const spec = plan.usage;
  const configPath = cliFlags.config ?? (given ? undefined : spec?.config);
  const config = await loadConfig(configPath);
  const flags = { ...cliFlags, ...withConfig(cliFlags, config) };
  if (!given && spec?.inUseFiles.includes("-") && cliFlags.recheck) {
    process.stderr.write(
      "warning: the plan read in-use references from stdin, which cannot be read again: pass --in-use-file to re-check them\n",
    );
  }
  const sources = usageSourcesOf(
    config,
    given
      ? {
          // What the plan was told of the Domino preset holds for the re-check too, unless told again.
          ...(spec?.unusedSinceDays !== undefined ? { unusedSinceDays: spec.unusedSinceDays } : {}),
          ...(spec?.objectIds !== undefined ? { objectIds: spec.objectIds } : {}),
          ...cliFlags,
        }
      : {
          inUseFile: spec?.inUseFiles.filter((f) => f !== "-"),
          ...(spec?.kubeconfig ? { kubeconfig: spec.kubeconfig } : {}),
          ...(spec?.contexts ? { context: spec.contexts } : {}),
          ...(spec?.unusedSinceDays !== undefined ? { unusedSinceDays: spec.unusedSinceDays } : {}),
          ...(spec?.objectIds !== undefined ? { objectIds: spec.objectIds } : {}),
        },
    readStdinOnce,
  );
  refuseSharedStdin(sources, flags.passwordStdin);
  // --no-recheck skips reading the sources again; it is not a choice to have none at all.
  if (sources.length === 0 && !planHadUsageSources(plan)) {
    if (cliFlags.usageSources !== false) refuseDeletionWithoutSources(`plan ${planPath}`);
    process.stderr.write(`WARNING: ${NO_USAGE_SOURCES_WARNING}\n`);
  }
  const opened = await openRegistryFromFlags(
    {
      ...flags,
      registry: flags.registry ?? plan.registryUrl ?? plan.registry,
      registryType: cliFlags.registryType !== "auto" ? cliFlags.registryType : (plan.registryType ?? "auto"),
    },
    config,
    readStdinOnce,
  );
  try {
    if (canonicalHost(opened.registry.host) !== canonicalHost(plan.registry)) {
      throw new UsageError(`plan ${planPath} was made for ${plan.registry}, not ${opened.registry.host}`);
    }
    const configuration = {
      ...redactedConfiguration(flags, "apply"),
      plan: planPath,
      sources: sources.map((s) => s.name),
    };
    const inCluster = config.registry.kubernetes
      ? (await import("../apply/in-cluster-kube.js")).openInClusterRegistry(
          inClusterSettings(config.registry.kubernetes),
        )
      : undefined;
    return await runApplyInTerminal(plan, {
      registry: opened,
      ...(inCluster ? { inClusterRegistry: inCluster } : {}),
      yes: flags.yes ?? false,
      confirm: flags.confirm ?? "normal",
      audit: {
        dir: flags.auditDir ?? config.audit.dir,
        command: "apply",
        configuration,
        startedAt,
        identity: identityOf(),
      },
      concurrency: flags.concurrency,
      journalPath: `${planPath}.journal`,
      resume: flags.resume ?? false,
      retryFailed: flags.retryFailed ?? false,
      ...(flags.backup ? { backup: flags.backup } : {}),
      ...(flags.s3Endpoint ? { s3Endpoint: flags.s3Endpoint } : {}),
      ...(flags.recheck ? { recheck: sources } : {}),
      usage: { timeoutMs: sourceTimeoutMs(process.env) },
      cleanRecord: mongoRecordCleaner(config.usage, process.env),
      aliases: aliasesOf(config, flags, spec?.aliases),
    });
  } finally {
    await opened.close();
  }
}

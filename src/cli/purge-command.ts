import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { writeAudit } from "../apply/audit.js";
import { loadConfig } from "../config/load-config.js";
import { UsageError } from "../errors.js";
import { makePlan } from "../pipeline/make-plan.js";
import { purgePolicy } from "../pipeline/plan.js";
import { printPlan, writePlan } from "../pipeline/plan-file.js";
import { refuseDeletionWithoutSources } from "../plan/no-usage-sources.js";
import { parseShard } from "../policy/shard.js";
import { formatPlanCommands } from "../report/plan-commands.js";
import { formatPlanHtml } from "../report/plan-html.js";
import { formatPlanText } from "../report/plan-text.js";
import { refuseSharedStdin } from "../usage/build-sources.js";
import { sourceTimeoutMs } from "../usage/load-usages.js";
import { mongoRecordCleaner } from "../usage/record-cleaner.js";
import { setAsideNote } from "../usage/set-aside-note.js";
import { runApplyInTerminal } from "./apply-run.js";
import { printWarnings } from "./print-events.js";
import { type PullRequestFlags, pullRequestSpec } from "./pull-request-options.js";
import { openRegistryFromFlags, type RegistryFlags, withConfig } from "./registry-options.js";
import { identityOf, redactedConfiguration } from "./run-record.js";
import { readStdinOnce } from "./stdin.js";
import { aliasesOf, type UsageFlags, usageSourcesOf, usageSpec } from "./usage-options.js";

export interface PurgeFlags extends RegistryFlags, UsageFlags, PullRequestFlags {
  filter?: string[];
  ago?: string;
  keep?: number;
  untagged?: boolean;
  untaggedOnly?: boolean;
  ageFrom?: "created" | "updated";
  scope?: "all" | "used-repositories";
  protectPulledWithin?: string;
  /** --protect-tag, repeatable: added to policy.protectTags. */
  protectTag?: string[];
  /** --shard I/N or auto/N as typed; parsed by parseShard. */
  shard?: string;
  dryRun?: boolean;
  apply?: boolean;
  yes?: boolean;
  output?: string;
  format: "text" | "json" | "html" | "commands";
  auditDir?: string;
  confirm?: "normal" | "strict";
  backup?: string;
  s3Endpoint?: string;
  /** false with --no-usage-sources: deleting with no usage source was asked for by name. */
  usageSources?: boolean;
}

/** What plan and run select when no filter is set anywhere. */
const EVERYTHING = [".*:.*"];

/** `plan` never deletes; `purge` deletes with --apply; `run` is the configured pipeline, applied. */
export async function runPurge(cliFlags: PurgeFlags, command: "plan" | "purge" | "run"): Promise<number> {
  const startedAt = new Date();
  const config = await loadConfig(cliFlags.config);
  const flags = { ...cliFlags, ...withConfig(cliFlags, config) };
  if (flags.apply && flags.dryRun) throw new UsageError("--apply and --dry-run contradict each other");
  if (command === "plan" && flags.apply)
    throw new UsageError("plan never deletes: use purge --apply or apply PLAN.json");
  if (flags.format === "commands" && flags.apply) {
    throw new UsageError(
      `--format commands prints the commands that would delete the plan and deletes nothing: drop ${command === "run" ? "it (run always applies; use plan --format commands)" : "--apply"}`,
    );
  }
  const shard = flags.shard === undefined ? undefined : parseShard(flags.shard, process.env);
  const untaggedOnly = flags.untaggedOnly ?? config.policy.untaggedOnly;
  // A filter may come from the flags, policy.filters or REGSWEEP_FILTER: purge only needs one somewhere.
  const configured = flags.filter ?? config.policy.filters;
  if (command === "purge" && !configured?.length && !untaggedOnly) {
    throw new UsageError(
      "purge needs --filter 'REPO_REGEX:TAG_REGEX' (e.g. --filter 'team/api:.*'; or policy.filters in the configuration, or REGSWEEP_FILTER), or --untagged-only to purge untagged manifests of every repository",
    );
  }
  const sources = usageSourcesOf(config, flags, readStdinOnce);
  refuseSharedStdin(sources, flags.passwordStdin);
  if (sources.length === 0 && flags.apply && flags.usageSources !== false) {
    refuseDeletionWithoutSources(command === "run" ? "run" : "purge --apply");
  }
  const policy = purgePolicy({
    filters: configured ?? EVERYTHING,
    ...((flags.ago ?? config.policy.ago) !== undefined ? { ago: flags.ago ?? config.policy.ago } : {}),
    ...((flags.keep ?? config.policy.keep) !== undefined ? { keep: flags.keep ?? config.policy.keep } : {}),
    untagged: flags.untagged ?? config.policy.untagged,
    ...(untaggedOnly ? { untaggedOnly } : {}),
    ...((flags.ageFrom ?? config.policy.ageFrom) ? { ageFrom: flags.ageFrom ?? config.policy.ageFrom } : {}),
    scope: flags.scope ?? config.policy.scope,
    ...((flags.protectPulledWithin ?? config.policy.protectPulledWithin)
      ? { protectPulledWithin: flags.protectPulledWithin ?? config.policy.protectPulledWithin }
      : {}),
    protectTags: [...(config.policy.protectTags ?? []), ...(flags.protectTag ?? [])],
  });
  const auditDir = flags.auditDir ?? config.audit.dir;
  const aliases = aliasesOf(config, flags);
  const pullRequests = await pullRequestSpec(flags, config);
  const opened = await openRegistryFromFlags(flags, config, readStdinOnce);
  try {
    const { plan, resolution } = await makePlan({
      ...(pullRequests ? { pullRequests } : {}),
      registry: opened,
      sources,
      usage: { timeoutMs: sourceTimeoutMs(process.env) },
      policy,
      aliases,
      usageSpec: usageSpec(flags),
      onEvent: printWarnings,
      ...(shard ? { shard } : {}),
      ...(config.owner?.annotation
        ? { owner: { annotation: config.owner.annotation } }
        : config.owner?.label
          ? { owner: { label: config.owner.label } }
          : {}),
    });
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
    if (planFile) await writePlan(plan, planFile);
    if (flags.format === "json") await printPlan(plan, process.stdout);
    else if (flags.format === "html") process.stdout.write(formatPlanHtml(plan));
    else if (flags.format === "commands") process.stdout.write(formatPlanCommands(plan));
    else process.stdout.write(formatPlanText(plan, new Date(plan.createdAt)));
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
        identity: identityOf(),
      });
      process.stderr.write(`Dry run: nothing was deleted. Audit: ${audit}\n`);
      if (command === "purge")
        process.stderr.write("Re-run with --apply --yes to delete what the plan lists.\n");
      return 0;
    }
    return await runApplyInTerminal(plan, {
      registry: opened,
      yes: flags.yes ?? false,
      confirm: flags.confirm ?? "normal",
      audit: { dir: auditDir, command, configuration, startedAt, identity: identityOf() },
      concurrency: flags.concurrency,
      journalPath: `${planFile}.journal`,
      resume: false,
      ...(flags.backup ? { backup: flags.backup } : {}),
      ...(flags.s3Endpoint ? { s3Endpoint: flags.s3Endpoint } : {}),
      cleanRecord: mongoRecordCleaner(config.usage, process.env),
      // Just read: a second read moments later would only cost time.
      aliases,
    });
  } finally {
    await opened.close();
  }
}

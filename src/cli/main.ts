import { Command, CommanderError, Option } from "commander";
import { ExitCode, exitCodeOf, UsageSourceError } from "../errors.js";
import { VERSION } from "../version.js";
import type { ApplyFlags } from "./apply-command.js";
import type { ConfigImportFlags } from "./config-import-command.js";
import type { DoctorFlags } from "./doctor-command.js";
import { completeHelp } from "./help-text.js";
import { addPullRequestOptions } from "./pull-request-options.js";
import type { PurgeFlags } from "./purge-command.js";
import { addRegistryOptions, positiveInt } from "./registry-options.js";
import type { ReportFlags } from "./report-command.js";
import type { RestoreFlags } from "./restore-command.js";
import type { ScanFlags } from "./scan-command.js";
import { addSelectionOptions } from "./selection-options.js";
import { atTerminal } from "./terminal.js";
import { addUsageOptions } from "./usage-options.js";
import type { WizardFlags } from "./wizard.js";

// Each command's module is loaded when it runs: a scan does not pay for loading what plan, apply,
// restore or config import need (the YAML parser, the plan writer, backups), in time or memory.

const NO_USAGE_SOURCES_HELP =
  "delete even though no usage source protects anything (required to delete with none)";

function program(setCode: (code: number) => void): Command {
  const cli = new Command("regsweep")
    .description(
      "Reclaims registry space without breaking a running workload: deletes only what nothing uses, and says why.",
    )
    .version(VERSION)
    .exitOverride();

  addUsageOptions(
    addRegistryOptions(
      cli.command("scan").description("inventory: repositories, manifests, tags, bytes, oldest/newest"),
    ),
  )
    .option(
      "--filter <repo:tag>",
      "only repositories matching REPO_REGEX (repeatable)",
      (v: string, p: string[] = []) => [...p, v],
    )
    .addOption(new Option("--format <format>", "what to print").choices(["text", "json"]).default("text"))
    .action(async (flags: ScanFlags) => setCode(await (await import("./scan-command.js")).runScan(flags)));

  addSelectionOptions(
    cli.command("plan").description("decide what to delete and why; never deletes"),
    false,
  ).action(async (flags: PurgeFlags) =>
    setCode(await (await import("./purge-command.js")).runPurge(flags, "plan")),
  );

  addApplyOptions(
    addSelectionOptions(
      cli.command("purge").description("acr purge, plus in-use protection: dry run unless --apply"),
      true,
    ),
  )
    .option("--dry-run", "only show the plan (the default)")
    .option("--apply", "delete what the plan lists")
    .option("--no-usage-sources", NO_USAGE_SOURCES_HELP)
    .action(async (flags: PurgeFlags) =>
      setCode(await (await import("./purge-command.js")).runPurge(flags, "purge")),
    );

  addApplyOptions(
    addSelectionOptions(
      cli
        .command("run")
        .description("plan from the configuration and apply it: scheduled cleanups (--yes, --backup)"),
      false,
    ),
  )
    .option("--no-usage-sources", NO_USAGE_SOURCES_HELP)
    .action(async (flags: PurgeFlags) =>
      setCode(await (await import("./purge-command.js")).runPurge({ ...flags, apply: true }, "run")),
    );

  addApplyOptions(
    addUsageOptions(
      addRegistryOptions(cli.command("apply").description("execute a reviewed plan").argument("<plan.json>")),
      "re-check",
    ),
  )
    .option("--resume", "continue an interrupted apply from its journal (plan.json.journal)")
    .option("--retry-failed", "with --resume: attempt again the items an earlier run failed")
    .option("--max-plan-age <duration>", "refuse plans older than this (0 = any age)", "24h")
    .option("--no-recheck", "do not read the usage sources again before deleting")
    .option("--no-usage-sources", NO_USAGE_SOURCES_HELP)
    .option("--audit-dir <dir>", "where audit records go (default audits)")
    .action(async (planPath: string, flags: ApplyFlags) =>
      setCode(await (await import("./apply-command.js")).runApply(planPath, flags)),
    );

  addRegistryOptions(cli.command("restore").description("push backed-up images back, byte for byte"))
    .requiredOption("--from <dest>", "the backup: dir:PATH, oci-archive:PATH.tar, s3://bucket/prefix")
    .option("--image <ref>", "only REPO@DIGEST or REPO:TAG (repeatable)", (v: string, p: string[] = []) => [
      ...p,
      v,
    ])
    .option("--to <registry>", "where to push (default --registry or registry.url)")
    .option("--s3-endpoint <url>", "S3-compatible endpoint for s3:// backups (path-style)")
    .addOption(new Option("--format <format>", "what to print").choices(["text", "json"]).default("text"))
    .action(async (flags: RestoreFlags) =>
      setCode(await (await import("./restore-command.js")).runRestore(flags)),
    );

  addPullRequestOptions(
    addUsageOptions(
      addRegistryOptions(cli.command("doctor").description("health checks of every configured part")),
      "check",
    ),
  ).action(async (flags: DoctorFlags) =>
    setCode(await (await import("./doctor-command.js")).runDoctor(flags)),
  );

  cli
    .command("report")
    .description("render a plan as text, JSON or HTML, or with --by its sizes per image, repository or owner")
    .option("--plan <file>", "the plan (default: the newest one kept under the audit directory)")
    .option("--html <file>", "write an HTML report here")
    .addOption(
      new Option(
        "--by <group>",
        "sizes per group: total, and what deleting it frees (each blob once)",
      ).choices(["image", "repository", "owner"]),
    )
    .addOption(
      new Option(
        "--format <format>",
        "what to print (default text); commands: az / regctl deletions",
      ).choices(["text", "json", "html", "commands"]),
    )
    .option("--config <file>", "regsweep.yaml (for audit.dir)")
    .option("--audit-dir <dir>", "where plans were kept (default audits)")
    .action(async (flags: ReportFlags) =>
      setCode(await (await import("./report-command.js")).runReport(flags)),
    );

  cli
    .command("wizard")
    .description(
      "asks what to clean, shows the plan, dry run or delete; writes regsweep.yaml (bare regsweep at a terminal)",
    )
    .option("--config <file>", "start from this configuration: what it sets is not asked")
    .option("-o, --output <file>", "write the configuration here (default regsweep.yaml)")
    .action(async (flags: WizardFlags) => {
      // Loaded on use: the wizard brings the Azure SDKs and the prompt library, ~90 MiB and a
      // second of start-up that every scan and plan would otherwise pay.
      const { runWizard } = await import("./wizard.js");
      setCode(await runWizard(flags));
    });

  const config = cli.command("config").description("configuration helpers");
  config
    .command("schema")
    .description("print the JSON Schema of regsweep.yaml")
    .action(async () => {
      const { configJsonSchema } = await import("../config/config-schema.js");
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });
  config
    .command("import")
    .description(
      "write regsweep.yaml from the AKS cleanup script's JSON file, or from an acr purge command line; says what maps and what does not",
    )
    .argument("[file]", "the AKS cleanup script's configuration (kubernetes_clusters, container_registry)")
    .addOption(
      new Option("--days <n>", "with FILE: the script's age argument in days (default 7)").argParser(
        positiveInt("--days"),
      ),
    )
    .option("--from-acr-purge <command>", 'an acr purge command line, optionally inside az acr run --cmd "…"')
    .option(
      "-o, --output <file>",
      "write the configuration here (never over an existing file); default stdout",
    )
    .action(async (file: string | undefined, flags: ConfigImportFlags) =>
      setCode(await (await import("./config-import-command.js")).runConfigImport(file, flags)),
    );

  completeHelp(cli);
  return cli;
}

/** What deleting takes, for `purge --apply` and `apply`. */
function addApplyOptions(cmd: Command): Command {
  return (
    cmd
      .option("--yes", "do not ask for confirmation")
      .option("--force", "the same as --yes (as the Domino cleaner spells it)")
      // One meaning, two spellings: what reads --yes never has to know about --force.
      .hook("preAction", (cmd) => {
        if (cmd.getOptionValue("force")) cmd.setOptionValueWithSource("yes", true, "cli");
      })
      .addOption(
        new Option("--confirm <mode>", "strict: ask yes, then DELETE")
          .choices(["normal", "strict"])
          .default("normal"),
      )
      .option(
        "--backup <dest>",
        "copy each manifest whole before deleting it: dir:PATH, oci-archive:PATH.tar, s3://bucket/prefix",
      )
      .option("--s3-endpoint <url>", "S3-compatible endpoint for s3:// backups (path-style)")
  );
}

/** Runs the CLI and returns the exit code: 0 ok, 1 failure, 2 usage/config, 3 usage source failed. */
export async function main(argv: readonly string[]): Promise<number> {
  let code: number = ExitCode.ok;
  // Bare `regsweep` is the wizard for a person at a terminal; a script without one gets the help
  // (exit 2) rather than a question it could never answer.
  const args = argv.length <= 2 && atTerminal() ? [...argv, "wizard"] : [...argv];
  try {
    await program((c) => {
      code = c;
    }).parseAsync(args);
    return code;
  } catch (error) {
    return report(error);
  }
}

function report(error: unknown): number {
  if (error instanceof CommanderError) {
    // Help and version are successes; everything else commander rejects is bad usage.
    return error.exitCode === 0 ||
      error.code === "commander.helpDisplayed" ||
      error.code === "commander.version"
      ? ExitCode.ok
      : ExitCode.usage;
  }
  const e = error as Error;
  process.stderr.write(`regsweep: ${e?.message ?? String(error)}\n`);
  if (error instanceof UsageSourceError) {
    process.stderr.write("Nothing was deleted: every required usage source must load.\n");
  }
  // By name: importing zod only to recognise its error would load it for every command.
  const code = (error as Error)?.name === "ZodError" ? ExitCode.failure : exitCodeOf(error);
  if (code === ExitCode.failure && process.env.REGSWEEP_DEBUG) process.stderr.write(`${e?.stack ?? ""}\n`);
  return code;
}

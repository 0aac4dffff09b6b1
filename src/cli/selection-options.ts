import { type Command, Option } from "commander";
import { addPullRequestOptions } from "./pull-request-options.js";
import { addRegistryOptions, positiveInt } from "./registry-options.js";
import { addUsageOptions } from "./usage-options.js";

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Options shared by `plan`, `purge` and `run`: what to select and what protects. */
export function addSelectionOptions(cmd: Command, filterRequired: boolean): Command {
  // purge needs --filter unless --untagged-only (as acr purge): runPurge checks, once both are read.
  const filter = new Option(
    "--filter <repo:tag>",
    `REPO_REGEX:TAG_REGEX, repeatable (repository anchored, tag not; RE2 syntax as acr purge)${filterRequired ? "; required unless --untagged-only" : ""}`,
  ).argParser(collect);
  return addUsageOptions(
    addPullRequestOptions(addRegistryOptions(cmd))
      .addOption(filter)
      .option("--ago <duration>", "only manifests older than this (30d, 1d12h, 90m); default any age")
      .addOption(
        new Option(
          "--keep <n>",
          "keep the newest N images (distinct digests) that would otherwise go",
        ).argParser(positiveInt("--keep")),
      )
      .option("--untagged", "purge untagged manifests too")
      .option(
        "--untagged-only",
        "purge only untagged manifests, no tagged ones; --filter optional (its tag part is ignored)",
      )
      .addOption(
        new Option(
          "--age-from <time>",
          "which time --ago and --keep read: created (default) or updated (ACR's last update, as acr purge)",
        ).choices(["created", "updated"]),
      )
      .addOption(
        new Option(
          "--protect-tag <regex>",
          "keep every manifest carrying a tag this matches whole (repeatable; e.g. latest, 'v?[0-9]+\\.[0-9]+\\.[0-9]+')",
        ).argParser(collect),
      )
      .option(
        "--protect-pulled-within <duration>",
        "keep what the registry says was pulled within this long (30d; ECR records pulls)",
      )
      .addOption(
        new Option(
          "--scope <scope>",
          "used-repositories: only delete in repositories a usage source references",
        ).choices(["all", "used-repositories"]),
      )
      .option(
        "--shard <I/N>",
        "only the repositories of shard I of N (0-based, by a hash of the name); auto/N takes I from JOB_COMPLETION_INDEX",
      ),
  )
    .option("-o, --output <file>", "write the plan JSON here")
    .addOption(
      new Option(
        "--format <format>",
        "what to print; commands: the az / regctl commands that would delete the plan by hand (never with --apply)",
      )
        .choices(["text", "json", "html", "commands"])
        .default("text"),
    )
    .option("--audit-dir <dir>", "where audit records go (default audits)");
}

import type { Command } from "commander";
import { Option } from "commander";
import { type Config, type PullRequestRuleConfig, pullRequestRuleSchema } from "../config/config-schema.js";
import { UsageError } from "../errors.js";
import type { PullRequestSpec } from "../pipeline/pull-requests.js";
import { defaultDeleteWhen, makePullRequestProvider } from "../pullrequest/make-provider.js";
import { pullRequestCredentials } from "./pull-request-credentials.js";

export interface PullRequestFlags {
  prProvider?: "azure-devops" | "github";
  prOrg?: string;
  prProject?: string;
  prTagPattern?: string;
  prBaseUrl?: string;
  prAction?: "delete" | "untag";
}

/** --pr-provider, --pr-org, --pr-project, --pr-tag-pattern, --pr-base-url. */
export function addPullRequestOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        "--pr-provider <provider>",
        "delete the images of closed pull requests: where PRs live",
      ).choices(["azure-devops", "github"]),
    )
    .option(
      "--pr-org <org>",
      "azure-devops: organization URL (https://dev.azure.com/contoso); github: owner/repo",
    )
    .option("--pr-project <project>", "azure-devops: the project")
    .option("--pr-tag-pattern <regex>", "pull-request tags; first capture = PR number (default ^PR(\\d+))")
    .option("--pr-base-url <url>", "github: the GitHub Enterprise API (https://ghe.example.com/api/v3)")
    .addOption(
      new Option(
        "--pr-action <action>",
        "delete the manifests (default) or untag: remove only the closed PRs' tags",
      ).choices(["delete", "untag"]),
    );
}

/** The pull-request rule: from the flags when --pr-provider is given, else from the configuration. */
export async function pullRequestSpec(
  flags: PullRequestFlags,
  config: Config,
): Promise<PullRequestSpec | undefined> {
  let rule: PullRequestRuleConfig | undefined = config.policy.rules.find((r) => r.pullRequest)?.pullRequest;
  if (flags.prProvider) {
    if (!flags.prOrg) {
      throw new UsageError(
        "--pr-provider needs --pr-org (azure-devops: the organization URL; github: owner/repo)",
      );
    }
    const parsed = pullRequestRuleSchema.safeParse({
      provider: flags.prProvider,
      organization: flags.prOrg,
      ...(flags.prProject ? { project: flags.prProject } : {}),
      ...(flags.prTagPattern ? { tagPattern: flags.prTagPattern } : {}),
      ...(flags.prBaseUrl ? { baseUrl: flags.prBaseUrl } : {}),
      ...(flags.prAction ? { action: flags.prAction } : {}),
    });
    if (!parsed.success) {
      const flag: Record<string, string> = {
        organization: "--pr-org",
        project: "--pr-project",
        tagPattern: "--pr-tag-pattern",
      };
      throw new UsageError(
        `--pr-provider ${flags.prProvider}: ${parsed.error.issues.map((i) => `${flag[String(i.path[0])] ?? "it"}: ${i.message}`).join("; ")}`,
      );
    }
    rule = parsed.data;
  }
  if (!rule) return undefined;
  return {
    provider: await makePullRequestProvider(rule, pullRequestCredentials(process.env)),
    tagPattern: rule.tagPattern,
    deleteWhen: rule.deleteWhen ?? defaultDeleteWhen(rule.provider),
    action: rule.action,
    deleteLeftUntagged: rule.untaggedAfterUntag,
  };
}

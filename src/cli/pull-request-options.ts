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
  let credentials = pullRequestCredentials(process.env);
  if (rule.provider === "azure-devops" && !credentials.azureDevOpsPat && !credentials.azureDevOpsBearer) {
    credentials = { ...credentials, azureDevOpsBearer: await entraTokenForAzureDevOps(config) };
  }
  return {
    provider: await makePullRequestProvider(rule, credentials),
    tagPattern: rule.tagPattern,
    deleteWhen: rule.deleteWhen ?? defaultDeleteWhen(rule.provider),
    action: rule.action,
    deleteLeftUntagged: rule.untaggedAfterUntag,
  };
}

/** Azure DevOps' Entra application: tokens for it are accepted as bearer tokens. */
const AZURE_DEVOPS_SCOPE = "499b84ac-1321-427f-aa17-267ca6975798/.default";

/**
 * Without a PAT or the pipeline's token, the Entra identity (az login, workload or managed identity,
 * or REGSWEEP_AZURE_TOKEN) signs in to Azure DevOps, as `az devops` can.
 */
async function entraTokenForAzureDevOps(config: Config): Promise<string> {
  try {
    const { azureContext } = await import("../usage/azure/azure-context.js");
    const token = await azureContext(config.azure).credential.getToken(AZURE_DEVOPS_SCOPE);
    if (!token?.token) throw new Error("no token");
    return token.token;
  } catch (error) {
    throw new UsageError(
      `the pull-request rule reads Azure DevOps, but no credential was found (${oneLine((error as Error).message)}): set AZURE_DEVOPS_EXT_PAT (a PAT with Code read), pass $(System.AccessToken) as SYSTEM_ACCESSTOKEN in a pipeline, or sign in with az login`,
    );
  }
}

function oneLine(text: string): string {
  return text.split("\n")[0]?.slice(0, 160) ?? "";
}

import type { PullRequestRuleConfig } from "../config/config-schema.js";
import { UsageError } from "../errors.js";
import type { PullRequestProvider, PullRequestStatus } from "./provider.js";

/** Credentials for the PR providers, as the caller found them (the CLI: from the environment). */
export interface PullRequestCredentials {
  /** Azure DevOps personal access token (AZURE_DEVOPS_EXT_PAT). */
  readonly azureDevOpsPat?: string;
  /** A bearer token for Azure DevOps: the pipeline's $(System.AccessToken) (SYSTEM_ACCESSTOKEN) or an Entra token. */
  readonly azureDevOpsBearer?: string;
  /** GITHUB_TOKEN. */
  readonly gitHubToken?: string;
}

/** Which statuses let a PR's tags go when the rule does not say: the script's `status -ne active`. */
export function defaultDeleteWhen(provider: PullRequestRuleConfig["provider"]): PullRequestStatus[] {
  return provider === "azure-devops" ? ["abandoned", "completed"] : ["closed", "merged"];
}

/**
 * The provider a rule names, with its credentials. Its client library is loaded here, on use, so
 * runs without a pull-request rule never load it.
 */
export async function makePullRequestProvider(
  rule: PullRequestRuleConfig,
  credentials: PullRequestCredentials,
  options: { readonly timeoutMs?: number } = {},
): Promise<PullRequestProvider> {
  if (rule.provider === "azure-devops") {
    const token = credentials.azureDevOpsPat
      ? ({ kind: "pat", value: credentials.azureDevOpsPat } as const)
      : credentials.azureDevOpsBearer
        ? ({ kind: "bearer", value: credentials.azureDevOpsBearer } as const)
        : undefined;
    if (!token) {
      throw new UsageError(
        `the pull-request rule reads ${rule.organization}: set AZURE_DEVOPS_EXT_PAT (a PAT with Code read) or, in a pipeline, SYSTEM_ACCESSTOKEN: $(System.AccessToken)`,
      );
    }
    const { azureDevOpsProvider } = await import("./azure-devops.js");
    return azureDevOpsProvider({
      organization: rule.organization,
      project: rule.project as string,
      token,
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    });
  }
  const { gitHubProvider } = await import("./github.js");
  return gitHubProvider({
    repository: rule.organization,
    ...(credentials.gitHubToken ? { token: credentials.gitHubToken } : {}),
    ...(rule.baseUrl ? { baseUrl: rule.baseUrl } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  });
}

import type { PullRequestCredentials } from "../pullrequest/make-provider.js";

/**
 * Where the PR providers' tokens come from: AZURE_DEVOPS_EXT_PAT (as the az devops CLI), or the
 * pipeline's $(System.AccessToken) passed as SYSTEM_ACCESSTOKEN; GITHUB_TOKEN.
 */
export function pullRequestCredentials(env: Record<string, string | undefined>): PullRequestCredentials {
  return {
    ...(env.AZURE_DEVOPS_EXT_PAT ? { azureDevOpsPat: env.AZURE_DEVOPS_EXT_PAT } : {}),
    ...(env.SYSTEM_ACCESSTOKEN ? { azureDevOpsBearer: env.SYSTEM_ACCESSTOKEN } : {}),
    ...(env.GITHUB_TOKEN ? { gitHubToken: env.GITHUB_TOKEN } : {}),
  };
}

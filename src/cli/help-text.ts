import type { Command } from "commander";

/** The exit codes every command keeps (DESIGN.md's CLI contract); scripts branch on them. */
export const EXIT_CODES_HELP = `Exit codes:
  0  success (a dry run included)
  1  runtime failure (registry error, unverifiable bytes, an incomplete listing, a failed deletion)
  2  bad usage or configuration (the message says which flag or key)
  3  a usage source failed: nothing was deleted`;

/** Every environment variable regsweep reads, with what it stands for; flags win over them. */
export const ENVIRONMENT: readonly (readonly [string, string])[] = [
  ["REGSWEEP_REGISTRY", "registry URL (registry.url; --registry wins)"],
  ["REGSWEEP_USERNAME", "registry user name (--username)"],
  ["REGSWEEP_PASSWORD", "registry password or token (instead of --password-stdin)"],
  ["REGSWEEP_FILTER", "REPO_REGEX:TAG_REGEX filters, space-separated (policy.filters)"],
  ["REGSWEEP_AGO", "age threshold, e.g. 30d (policy.ago)"],
  ["REGSWEEP_KEEP", "newest N images kept per repository (policy.keep)"],
  ["REGSWEEP_AUDIT_DIR", "where audit records and apply plans go (audit.dir)"],
  ["REGSWEEP_SOURCE_TIMEOUT_SECONDS", "how long a usage source may take before the run fails closed"],
  [
    "REGSWEEP_AZURE_CLOUD",
    "Azure cloud: AzurePublicCloud, AzureUSGovernment, AzureChinaCloud (also AZURE_CLOUD)",
  ],
  ["REGSWEEP_AZURE_TOKEN", "a ready Entra ID access token, instead of DefaultAzureCredential"],
  ["REGSWEEP_LOG_LEVEL", "log level of the JSON logs on stderr (--log-level)"],
  ["REGSWEEP_DEBUG", "print stack traces of unexpected failures"],
  ["AZURE_SUBSCRIPTION_ID", "subscription of the Azure usage sources (the App Service script's variable)"],
  ["AZURE_ACR_NAME", "ACR name: registry https://NAME.azurecr.io (the App Service script's variable)"],
  ["AZURE_ACR_RESOURCE_GROUP", "resource group of that registry (the App Service script's variable)"],
  [
    "AZURE_TENANT_ID, AZURE_CLIENT_ID",
    "read by DefaultAzureCredential (service principal, workload identity)",
  ],
  ["AZURE_DEVOPS_EXT_PAT, SYSTEM_ACCESSTOKEN", "Azure DevOps token for the pull-request rule"],
  ["GITHUB_TOKEN", "GitHub token for the pull-request rule"],
  [
    "AWS_REGION, AWS_DEFAULT_REGION",
    "AWS region of an ECR registry and of s3:// backups (the AWS SDK's credential chain)",
  ],
  [
    "DOCKER_CONFIG, REGISTRY_AUTH_FILE",
    "where stored registry logins are read (docker config.json, auth.json)",
  ],
  ["KUBECONFIG", "kubeconfig of the kubernetes usage source (--kubeconfig wins)"],
  ["JOB_COMPLETION_INDEX", "shard index for --shard auto/N (an Indexed Kubernetes Job)"],
];

function environmentHelp(): string {
  const width = Math.max(...ENVIRONMENT.map(([name]) => name.length));
  return `Environment:\n${ENVIRONMENT.map(([name, what]) => `  ${name.padEnd(width)}  ${what}`).join("\n")}`;
}

/**
 * Ends every help text with the exit codes, the root's with the environment too, and makes a
 * usage error print one line and where the help is rather than the whole help.
 */
export function completeHelp(root: Command): void {
  root.addHelpText("after", `\n${EXIT_CODES_HELP}\n\n${environmentHelp()}\n`);
  const visit = (cmd: Command, path: string): void => {
    cmd.showHelpAfterError(`see '${path} --help'`);
    for (const sub of cmd.commands) {
      const subPath = `${path} ${sub.name()}`;
      if (sub.commands.length === 0) {
        sub.addHelpText("after", `\n${EXIT_CODES_HELP}\nEnvironment variables: see 'regsweep --help'.\n`);
      }
      visit(sub, subPath);
    }
  };
  visit(root, root.name());
}

import { access, constants, mkdir } from "node:fs/promises";
import { DELETE_ENABLED_VAR, inClusterSettings } from "../apply/in-cluster-registry.js";
import { loadConfig } from "../config/load-config.js";
import { UsageError } from "../errors.js";
import { defaultCacheDir } from "../inventory/content-cache.js";
import type { OpenedRegistry } from "../pipeline/open-registry.js";
import { openRegistry } from "../pipeline/open-registry.js";
import { DistributionRegistry } from "../registry/distribution.js";
import type { EcrRegistry } from "../registry/ecr.js";
import { refuseSharedStdin } from "../usage/build-sources.js";
import { loadFindings, sourceTimeoutMs } from "../usage/load-usages.js";
import { type PullRequestFlags, pullRequestSpec } from "./pull-request-options.js";
import { type RegistryFlags, registryOptions, withConfig } from "./registry-options.js";
import { readStdinOnce } from "./stdin.js";
import { type UsageFlags, usageSourcesOf } from "./usage-options.js";

/**
 * ECR's own API first (the sign-in, then the repository list), where a missing IAM action shows
 * up; then /v2/ with the token it gave.
 */
async function checkEcr(registry: OpenedRegistry["registry"]): Promise<string> {
  const ecr = registry as EcrRegistry;
  const found = await ecr.check(1000);
  await ecr.ping();
  const count = `${found.repositories}${found.repositories >= 1000 ? "+" : ""}`;
  return `${ecr.host} (ECR${found.region ? `, ${found.region}` : ""}) signed in with GetAuthorizationToken (token expires ${found.tokenExpiresAt}); DescribeRepositories answered: ${count} repositories; /v2/ answers`;
}

export interface DoctorFlags extends RegistryFlags, UsageFlags, PullRequestFlags {}

interface Check {
  readonly name: string;
  readonly run: () => Promise<string>;
}

/**
 * `doctor`: checks every configured part on its own — runtime, configuration, registry (reachable,
 * credentials accepted), cache directory, each usage source — and says which fails and why.
 */
export async function runDoctor(cliFlags: DoctorFlags): Promise<number> {
  let failed = 0;
  // A check that fails because of what was given (a flag, the file) is bad configuration: exit 2.
  let misconfigured = false;
  const check = async ({ name, run }: Check) => {
    try {
      process.stdout.write(`ok    ${name}: ${await run()}\n`);
    } catch (error) {
      failed++;
      if (error instanceof UsageError) misconfigured = true;
      process.stdout.write(`FAIL  ${name}: ${(error as Error).message}\n`);
    }
  };
  await check({
    name: "runtime",
    run: async () => {
      const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
      if (major < 22 || (major === 22 && minor < 19))
        throw new Error(`Node.js ${process.version}; regsweep needs 22.19 or newer`);
      return `Node.js ${process.version}`;
    },
  });
  let config: Awaited<ReturnType<typeof loadConfig>> | undefined;
  await check({
    name: "configuration",
    run: async () => {
      config = await loadConfig(cliFlags.config);
      return cliFlags.config ? `${cliFlags.config} is valid` : "no file; defaults and environment";
    },
  });
  if (!config) return 2;
  const cfg = config;
  const flags = { ...cliFlags, ...withConfig(cliFlags, cfg) };
  const sources = usageSourcesOf(cfg, cliFlags, readStdinOnce);
  // Before the registry check, which would read the password from standard input.
  refuseSharedStdin(sources, flags.passwordStdin);
  await check({
    name: "registry",
    run: async () => {
      const { url, options, login } = await registryOptions(flags, cfg, readStdinOnce);
      const opened = await openRegistry(url, options);
      // Which credential, never the secret: a stale stored login is a common cause of 401s.
      const signedIn = login ? `; credentials from ${login}` : "";
      try {
        if (opened.type === "ecr") return await checkEcr(opened.registry);
        if (opened.registry instanceof DistributionRegistry) await opened.registry.ping();
        let count = 0;
        for await (const _ of opened.registry.repositories()) if (++count >= 1000) break;
        return `${opened.registry.host} answers; ${count}${count >= 1000 ? "+" : ""} repositories listed${signedIn}`;
      } finally {
        await opened.close();
      }
    },
  });
  const inCluster = cfg.registry.kubernetes;
  if (inCluster) {
    await check({
      name: "in-cluster registry",
      run: async () => {
        const { openInClusterRegistry } = await import("../apply/in-cluster-kube.js");
        const cluster = openInClusterRegistry({ ...inClusterSettings(inCluster), callTimeoutMs: 15_000 });
        const setting = await cluster.readDeleteSetting();
        // A server-side dry run: the API server checks RBAC and admission, and changes nothing.
        await cluster.setDeleteSetting("true", undefined, { dryRun: true });
        const value = setting.value === undefined ? "absent" : JSON.stringify(setting.value);
        return `${cluster.description}, container ${setting.container}: ${DELETE_ENABLED_VAR} ${value}; may patch it (dry run)`;
      },
    });
  }
  await check({
    name: "cache",
    run: async () => {
      if (!flags.cache) return "disabled (--no-cache)";
      const dir = flags.cacheDir ?? defaultCacheDir();
      await mkdir(dir, { recursive: true });
      await access(dir, constants.W_OK);
      return `${dir} is writable`;
    },
  });
  if (sources.length === 0) {
    process.stdout.write("note  usage: no usage source configured: nothing would be protected as in use\n");
  }
  for (const source of sources) {
    await check({
      name: `usage source ${source.name}${source.optional ? " (optional)" : ""}`,
      // Through loadUsages for its timeout, which cancels a hung source; optional or not, a check reports failure.
      run: async () => {
        const found = await loadFindings([{ ...source, optional: false }], {
          timeoutMs: sourceTimeoutMs(process.env),
        });
        const records = found.records.length ? `; ${found.records.length} records naming images` : "";
        return `${found.usages.length} image references in use${records}`;
      },
    });
  }
  for (const source of cfg.usage) {
    if (source.type !== "mongodb" || !source.keycloak) continue;
    const keycloak = source.keycloak;
    await check({
      name: `keycloak ${keycloak.url} (for mongodb ${source.preset ?? ""} preset)`,
      run: async () => {
        const clientSecret = process.env[keycloak.secretEnv];
        if (!clientSecret)
          throw new UsageError(`${keycloak.secretEnv} is not set: it must hold the Keycloak client secret`);
        const { checkKeycloak } = await import("../usage/keycloak-users.js");
        return checkKeycloak({
          url: keycloak.url,
          realm: keycloak.realm,
          clientId: keycloak.clientId,
          clientSecret,
        });
      },
    });
  }
  if (cliFlags.prProvider || cfg.policy.rules.some((r) => r.pullRequest)) {
    await check({
      name: "pull requests",
      run: async () => {
        const spec = await pullRequestSpec(cliFlags, cfg);
        return `${spec?.provider.name}: ${await spec?.provider.check()}`;
      },
    });
  }
  process.stderr.write(failed ? `${failed} check(s) failed.\n` : "All checks passed.\n");
  return misconfigured ? 2 : failed ? 1 : 0;
}

import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { AzureAuthorityHosts, DefaultAzureCredential } from "@azure/identity";
import type { Config } from "../../config/config-schema.js";

const CLOUDS: Record<Config["azure"]["cloud"], { resourceManager: string; authorityHost: string }> = {
  AzurePublicCloud: {
    resourceManager: "https://management.azure.com",
    authorityHost: AzureAuthorityHosts.AzurePublicCloud,
  },
  AzureUSGovernment: {
    resourceManager: "https://management.usgovcloudapi.net",
    authorityHost: AzureAuthorityHosts.AzureGovernment,
  },
  AzureChinaCloud: {
    resourceManager: "https://management.chinacloudapi.cn",
    authorityHost: AzureAuthorityHosts.AzureChina,
  },
};

/** What every Azure usage source needs: who we are, where ARM is, which subscriptions. */
export interface AzureContext {
  readonly credential: TokenCredential;
  readonly subscriptions: readonly string[];
  /** Options every ARM SDK client takes: the cloud's endpoint and token audience, and an optional HTTP client. */
  readonly clientOptions: {
    readonly endpoint: string;
    /** The token audience: older SDK clients read `credentialScopes`, newer ones `credentials.scopes`. */
    readonly credentialScopes: string[];
    readonly credentials: { readonly scopes: string[] };
    readonly tlsOptions?: { readonly ca: string[] };
  };
}

/** A token handed over by a pipeline (`az account get-access-token`), used for every scope asked. */
export class StaticTokenCredential implements TokenCredential {
  constructor(private readonly token: string) {}
  async getToken(): Promise<AccessToken> {
    return { token: this.token, expiresOnTimestamp: Date.now() + 3_600_000 };
  }
}

/**
 * DefaultAzureCredential (az login, environment, workload or managed identity) in the configured
 * cloud, unless REGSWEEP_AZURE_TOKEN carries a ready access token.
 */
export function azureContext(
  azure: Config["azure"],
  options: {
    env?: Record<string, string | undefined>;
    credential?: TokenCredential;
  } = {},
): AzureContext {
  const env = options.env ?? process.env;
  const cloud = CLOUDS[azure.cloud];
  const endpoint = (azure.resourceManagerEndpoint ?? cloud.resourceManager).replace(/\/+$/, "");
  const credential =
    options.credential ??
    (env.REGSWEEP_AZURE_TOKEN
      ? new StaticTokenCredential(env.REGSWEEP_AZURE_TOKEN)
      : new DefaultAzureCredential({
          authorityHost: cloud.authorityHost,
          ...(azure.tenantId ? { tenantId: azure.tenantId } : {}),
        }));
  const scopes = [`${cloud.resourceManager}/.default`];
  // Node's `ca` replaces the default roots, so the extra CA joins them rather than standing alone.
  const ca = azure.caFile ? [...rootCertificates, readFileSync(azure.caFile, "utf8")] : undefined;
  return {
    credential,
    subscriptions: azure.subscriptions,
    clientOptions: {
      endpoint,
      credentialScopes: scopes,
      credentials: { scopes },
      ...(ca ? { tlsOptions: { ca } } : {}),
    },
  };
}

/** Collects an SDK's paged async iterator. */
export async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** `/subscriptions/s/resourceGroups/RG/providers/...` → `RG`. */
export function resourceGroupOf(id: string | undefined): string {
  return /\/resourceGroups\/([^/]+)/i.exec(id ?? "")?.[1] ?? "";
}

/** Subscriptions a source reads: its own list, else azure.subscriptions; none is a configuration error. */
export function subscriptionsFor(
  own: readonly string[] | undefined,
  context: AzureContext,
  source: string,
): readonly string[] {
  const subs = own?.length ? own : context.subscriptions;
  if (subs.length === 0) {
    throw new Error(
      `${source}: no subscription given (set azure.subscriptions, the source's subscriptions, or AZURE_SUBSCRIPTION_ID)`,
    );
  }
  return subs;
}

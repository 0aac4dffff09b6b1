import type { Config } from "../config/config-schema.js";
import { ContentCache } from "../inventory/content-cache.js";
import { parseRegistryTarget } from "../oci/reference.js";
import { AcrRegistry } from "../registry/acr.js";
import { acrCredentialsFromEntra, looksLikeAcr } from "../registry/acr-auth.js";
import { DistributionRegistry } from "../registry/distribution.js";
import type { EcrApi } from "../registry/ecr.js";
import { ecrHostParts, looksLikeEcr } from "../registry/ecr-host.js";
import { OciLayoutRegistry } from "../registry/oci-layout.js";
import { HttpTransport } from "../registry/transport.js";
import type { Registry } from "../registry/types.js";
import type { RunOptions } from "./events.js";

export interface OpenRegistryOptions extends RunOptions {
  /** Plain http, or TLS without verification (plain http to a loopback address needs no flag). */
  readonly insecure?: boolean;
  /** A PEM CA certificate trusted besides the system ones. */
  readonly caFile?: string;
  /** Requests in flight at once (default 8). */
  readonly concurrency?: number;
  /** At most this many requests per second. */
  readonly rps?: number;
  /** Connect, first-byte and body timeout of each request (default 30 s). */
  readonly timeoutMs?: number;
  readonly username?: string;
  readonly password?: string;
  /** A refresh token instead of a password (`docker login`'s `identitytoken`), with `username`. */
  readonly identityToken?: string;
  /** `auto` (default) uses ACR's API for *.azurecr.io hosts, ECR's for <account>.dkr.ecr.<region>.amazonaws.com. */
  readonly registryType?: "auto" | "distribution" | "acr" | "ecr";
  /** For ACR without a username: the Entra identity to sign in with (settings, environment). */
  readonly azure?: { readonly settings: Config["azure"]; readonly env?: Record<string, string | undefined> };
  /**
   * For ECR: the API endpoint (default AWS's own, or AWS_ENDPOINT_URL_ECR), the region (default
   * the host name's, else AWS_REGION or the profile's), or a client of your own. Without a
   * username, /v2/ is signed in with GetAuthorizationToken through the AWS default credential chain.
   */
  readonly ecr?: { readonly endpoint?: string; readonly region?: string; readonly client?: EcrApi };
  /** Where manifests and configs are cached by digest between runs; absent: no on-disk cache. */
  readonly cacheDir?: string;
}

export type RegistryType = "distribution" | "acr" | "ecr" | "oci-layout";

/**
 * ACR's documented limits per SKU: reads 1,000 / 3,000 / 10,000 and writes 100 / 500 / 2,000 per
 * minute (Basic / Standard / Premium). The default stays under Basic's reads; a 429 (writes past
 * Basic's, or a busy registry) pauses the whole transport and is retried, as for any registry.
 */
export const ACR_DEFAULT_RPS = 15;
/** acr purge's cap on parallel requests, which ACR recommends. */
export const ACR_MAX_CONCURRENCY = 32;

/** Requests in flight and per second for a registry flavour: what was asked, within ACR's limits. */
export function requestLimits(
  type: "distribution" | "acr" | "ecr",
  options: Pick<OpenRegistryOptions, "concurrency" | "rps">,
): { concurrency: number; rps?: number } {
  const concurrency = Math.max(1, options.concurrency ?? 8);
  if (type !== "acr") return { concurrency, ...(options.rps ? { rps: options.rps } : {}) };
  return { concurrency: Math.min(concurrency, ACR_MAX_CONCURRENCY), rps: options.rps ?? ACR_DEFAULT_RPS };
}

/** A registry ready to scan, plan against, apply to or restore into; close() when done. */
export interface OpenedRegistry {
  readonly registry: Registry;
  /** How it was reached (`https://…`, `http://…`, `oci:DIR`), recorded in plans so apply reaches it the same way. */
  readonly url: string;
  readonly type: RegistryType;
  readonly cache: ContentCache;
  /** Requests it runs at once (absent for an OCI layout: no network). */
  readonly concurrency?: number;
  /** Requests sent so far (0 for an OCI layout). */
  requests(): number;
  /** Ends every request still queued or in flight. */
  close(): Promise<void>;
}

/**
 * Opens `oci:DIR` (a tree of OCI image layouts), `https://host[:port]`, `http://127.0.0.1:PORT` or
 * a bare `host[:port]`; *.azurecr.io (or `registryType: "acr"`) through ACR's metadata API, signed
 * in with the Entra identity when no username is given, as `az acr login` does; ECR hosts (or
 * `registryType: "ecr"`) through ECR's DescribeImages, signed in with GetAuthorizationToken.
 */
export async function openRegistry(url: string, options: OpenRegistryOptions = {}): Promise<OpenedRegistry> {
  const cache = new ContentCache(options.cacheDir);
  const target = parseRegistryTarget(url, options.insecure ?? false);
  if (target.kind === "oci-layout") {
    return {
      registry: new OciLayoutRegistry(target.path),
      url,
      type: "oci-layout",
      cache,
      requests: () => 0,
      close: async () => {},
    };
  }
  const auto = options.registryType === undefined || options.registryType === "auto";
  const acr = options.registryType === "acr" || (auto && looksLikeAcr(target.host));
  const ecr = options.registryType === "ecr" || (auto && looksLikeEcr(target.host));
  const limits = requestLimits(acr ? "acr" : ecr ? "ecr" : "distribution", options);
  const transport = new HttpTransport({
    insecure: options.insecure ?? false,
    ...(options.caFile ? { caFile: options.caFile } : {}),
    concurrency: limits.concurrency,
    ...(limits.rps ? { rps: limits.rps } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  let credentials =
    options.username !== undefined && options.identityToken !== undefined
      ? { username: options.username, password: "", identityToken: options.identityToken }
      : options.username !== undefined && options.password !== undefined
        ? { username: options.username, password: options.password }
        : undefined;
  if (acr && !credentials && options.azure) {
    try {
      const { azureContext } = await import("../usage/azure/azure-context.js");
      const context = azureContext(
        options.azure.settings,
        options.azure.env ? { env: options.azure.env } : {},
      );
      credentials = await acrCredentialsFromEntra(
        transport,
        target,
        context.credential,
        options.azure.settings.tenantId,
      );
    } catch (error) {
      await transport.close();
      throw error;
    }
  }
  const client = credentials ? { credentials } : {};
  const common = {
    url: target.baseUrl,
    cache,
    concurrency: limits.concurrency,
    requests: () => transport.stats.requests,
    close: () => transport.close(),
  };
  if (ecr) {
    // The AWS SDK loads only for ECR registries: other runs stay as fast to start as before.
    const { EcrRegistry, createEcrClient } = await import("../registry/ecr.js");
    const host = ecrHostParts(target.host);
    const region = options.ecr?.region ?? host?.region;
    const ecrClient =
      options.ecr?.client ??
      createEcrClient({
        ...(region ? { region } : {}),
        ...(options.ecr?.endpoint ? { endpoint: options.ecr.endpoint } : {}),
        ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
      });
    return {
      ...common,
      registry: new EcrRegistry(target, transport, {
        ...client,
        client: ecrClient,
        ...(host ? { registryId: host.account } : {}),
        ...(region ? { region } : {}),
        ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      }),
      type: "ecr",
    };
  }
  return {
    ...common,
    registry: acr
      ? new AcrRegistry(target, transport, client)
      : new DistributionRegistry(target, transport, client),
    type: acr ? "acr" : "distribution",
  };
}

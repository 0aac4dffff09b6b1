import { ContainerServiceClient } from "@azure/arm-containerservice";
import { parse, stringify } from "yaml";
import { UsageSourceError } from "../../errors.js";
import { usagesOf } from "../found-image.js";
import { kubernetesSource } from "../kubernetes-source.js";
import type { Usage, UsageSource } from "../usage.js";
import { runCommandImages } from "./aks-run-command.js";
import { type AzureContext, all, resourceGroupOf, subscriptionsFor } from "./azure-context.js";

/** The AKS Entra server application: tokens for it are what kubelogin would fetch. */
export const AKS_SERVER_APP_SCOPE = "6dae42f8-4368-4678-94ff-3960e28e3630/.default";

export interface AksScope {
  readonly subscriptions?: readonly string[];
  /** alias -> cluster; default every cluster in the subscriptions. */
  readonly clusters?: Readonly<
    Record<string, { name: string; subscriptionId: string; resourceGroup: string }>
  >;
  readonly namespaces?: { readonly include?: readonly string[]; readonly exclude?: readonly string[] };
  /**
   * api: the cluster's API server with user credentials (default); run-command: kubectl inside the
   * cluster through AKS run-command (private clusters); auto: the API server unless the cluster is
   * private or its API server cannot be reached, then run-command.
   */
  readonly access?: AksAccess;
  readonly optional?: boolean;
}

export type AksAccess = "api" | "run-command" | "auto";

/** How long auto mode waits for an API server before taking it as unreachable and using run-command. */
const API_PROBE_TIMEOUT_MS = 60_000;

interface ClusterRef {
  readonly alias: string;
  readonly name: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
}

/**
 * Finds AKS clusters (the named ones, or all in the subscriptions), fetches user credentials, and
 * reads each as a Kubernetes source. Entra-enabled clusters get a token for the AKS server app from
 * our own credential, so kubelogin need not be installed.
 */
export function aksSource(context: AzureContext, scope: AksScope): UsageSource {
  return {
    name: "aks",
    optional: scope.optional ?? false,
    async load(signal) {
      const clusters = await discover(context, scope, signal);
      const perCluster = await Promise.all(
        clusters.map((cluster) => readCluster(context, scope, cluster, signal)),
      );
      return perCluster.flat();
    },
  };
}

async function readCluster(
  context: AzureContext,
  scope: AksScope,
  cluster: ClusterRef,
  signal: AbortSignal | undefined,
): Promise<Usage[]> {
  const access = scope.access ?? "api";
  const client = new ContainerServiceClient(
    context.credential,
    cluster.subscriptionId,
    context.clientOptions,
  );
  if (access === "api") return readThroughApi(context, scope, cluster, client, signal);
  const described = await describeCluster(cluster, client, signal);
  if (access === "run-command" || described.private)
    return readThroughRunCommand(context, scope, cluster, client, described.entra, signal);
  // auto, public cluster: one whose API server does not answer (we are outside its authorized
  // ranges, or its name resolves only inside a network) is read from inside instead.
  const probe = AbortSignal.timeout(API_PROBE_TIMEOUT_MS);
  const attempt = signal ? AbortSignal.any([signal, probe]) : probe;
  try {
    return await readThroughApi(context, scope, cluster, client, attempt);
  } catch (error) {
    if (signal?.aborted || !(probe.aborted || isUnreachable(error))) throw error;
    return readThroughRunCommand(context, scope, cluster, client, described.entra, signal);
  }
}

/** Whether an error is the API server not answering at all (a 401/403 answer is not: that fails closed). */
export function isUnreachable(error: unknown): boolean {
  const codes = new Set([
    "ECONNREFUSED",
    "ECONNRESET",
    "ENOTFOUND",
    "EAI_AGAIN",
    "EHOSTUNREACH",
    "ENETUNREACH",
    "ETIMEDOUT",
    "UND_ERR_CONNECT_TIMEOUT",
    "UND_ERR_SOCKET",
  ]);
  const seen = new Set<unknown>();
  const walk = (e: unknown): boolean => {
    if (!e || typeof e !== "object" || seen.has(e)) return false;
    seen.add(e);
    const { code, cause, errors } = e as { code?: unknown; cause?: unknown; errors?: unknown };
    if (typeof code === "string" && codes.has(code)) return true;
    if (Array.isArray(errors) && errors.some(walk)) return true;
    return walk(cause);
  };
  return walk(error);
}

function clusterLabel(cluster: ClusterRef): string {
  return `aks ${cluster.alias} (${cluster.subscriptionId}/${cluster.resourceGroup}/${cluster.name})`;
}

/** Whether the cluster's API server is private, and whether it uses Entra ID (then run-command needs a cluster token). */
async function describeCluster(
  cluster: ClusterRef,
  client: ContainerServiceClient,
  abortSignal: AbortSignal | undefined,
): Promise<{ private: boolean; entra: boolean }> {
  try {
    const found = await client.managedClusters.get(cluster.resourceGroup, cluster.name, { abortSignal });
    return {
      // The SDK flattens ARM's `properties` into the model.
      private: found.apiServerAccessProfile?.enablePrivateCluster === true,
      entra: found.aadProfile !== undefined && found.aadProfile !== null,
    };
  } catch (error) {
    throw new UsageSourceError(
      clusterLabel(cluster),
      `reading the cluster: ${(error as Error).message} — the identity needs Microsoft.ContainerService/managedClusters/read (e.g. the Azure Kubernetes Service Cluster User role)`,
      { cause: error },
    );
  }
}

async function readThroughRunCommand(
  context: AzureContext,
  scope: AksScope,
  cluster: ClusterRef,
  client: ContainerServiceClient,
  entra: boolean,
  signal: AbortSignal | undefined,
): Promise<Usage[]> {
  const label = clusterLabel(cluster);
  try {
    const clusterToken = entra
      ? (await context.credential.getToken(AKS_SERVER_APP_SCOPE, { abortSignal: signal }))?.token
      : undefined;
    if (entra && !clusterToken) throw new Error(`no token for ${AKS_SERVER_APP_SCOPE}`);
    const found = await runCommandImages(
      {
        client,
        resourceGroup: cluster.resourceGroup,
        name: cluster.name,
        ...(clusterToken ? { clusterToken } : {}),
        ...(scope.namespaces ? { namespaces: scope.namespaces } : {}),
      },
      signal,
    );
    return usagesOf(found, `aks ${cluster.alias}`);
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new UsageSourceError(
      label,
      `run-command: ${(error as Error).message} — run-command needs Microsoft.ContainerService/managedClusters/runCommand/action (e.g. the Azure Kubernetes Service Cluster Admin Role)`,
      { cause: error },
    );
  }
}

async function readThroughApi(
  context: AzureContext,
  scope: AksScope,
  cluster: ClusterRef,
  client: ContainerServiceClient,
  signal: AbortSignal | undefined,
): Promise<Usage[]> {
  let kubeconfigText: string;
  try {
    const creds = await client.managedClusters.listClusterUserCredentials(
      cluster.resourceGroup,
      cluster.name,
      {
        format: "exec",
        abortSignal: signal,
      },
    );
    const value = creds.kubeconfigs?.[0]?.value;
    if (!value) throw new Error("the credentials response holds no kubeconfig");
    kubeconfigText = await withEntraToken(Buffer.from(value).toString("utf8"), context, signal);
  } catch (error) {
    throw new UsageSourceError(
      clusterLabel(cluster),
      `${(error as Error).message} — the identity needs the Azure Kubernetes Service Cluster User role`,
      { cause: error },
    );
  }
  const usages = await kubernetesSource({
    kubeconfigText,
    label: cluster.alias,
    ...(scope.namespaces ? { namespaces: scope.namespaces } : {}),
  }).load(signal);
  return usages.map((u) => ({ ...u, source: u.source.replace(/^kubernetes /, "aks ") }));
}

async function discover(
  context: AzureContext,
  scope: AksScope,
  abortSignal: AbortSignal | undefined,
): Promise<ClusterRef[]> {
  if (scope.clusters && Object.keys(scope.clusters).length > 0) {
    return Object.entries(scope.clusters).map(([alias, c]) => ({ alias, ...c }));
  }
  let subscriptions: readonly string[];
  try {
    subscriptions = subscriptionsFor(scope.subscriptions, context, "aks");
  } catch (error) {
    throw new UsageSourceError("aks", (error as Error).message);
  }
  const found = await Promise.all(
    subscriptions.map(async (subscriptionId) => {
      try {
        const client = new ContainerServiceClient(context.credential, subscriptionId, context.clientOptions);
        return (await all(client.managedClusters.list({ abortSignal }))).map((c) => ({
          alias: c.name ?? "?",
          name: c.name ?? "",
          subscriptionId,
          resourceGroup: resourceGroupOf(c.id),
        }));
      } catch (error) {
        throw new UsageSourceError(`aks ${subscriptionId}`, `listing clusters: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }),
  );
  return found.flat();
}

/** Replaces exec users (kubelogin) with a bearer token for the AKS server application. */
async function withEntraToken(
  kubeconfig: string,
  context: AzureContext,
  abortSignal: AbortSignal | undefined,
): Promise<string> {
  const doc = parse(kubeconfig) as { users?: { name?: string; user?: Record<string, unknown> }[] };
  const execUsers = (doc.users ?? []).filter((u) => u.user && "exec" in u.user);
  if (execUsers.length === 0) return kubeconfig;
  const token = await context.credential.getToken(AKS_SERVER_APP_SCOPE, { abortSignal });
  if (!token) throw new Error(`no token for ${AKS_SERVER_APP_SCOPE}`);
  for (const u of execUsers) u.user = { token: token.token };
  return stringify(doc);
}

import { ContainerServiceClient } from "@azure/arm-containerservice";
import { parse, stringify } from "yaml";
import { UsageSourceError } from "../../errors.js";
import { kubernetesSource } from "../kubernetes-source.js";
import type { Usage, UsageSource } from "../usage.js";
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
  readonly optional?: boolean;
}

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
        clusters.map(async (cluster): Promise<Usage[]> => {
          const label = `aks ${cluster.alias}`;
          let kubeconfigText: string;
          try {
            const client = new ContainerServiceClient(
              context.credential,
              cluster.subscriptionId,
              context.clientOptions,
            );
            const creds = await client.managedClusters.listClusterUserCredentials(
              cluster.resourceGroup,
              cluster.name,
              { format: "exec", abortSignal: signal },
            );
            const value = creds.kubeconfigs?.[0]?.value;
            if (!value) throw new Error("the credentials response holds no kubeconfig");
            kubeconfigText = await withEntraToken(Buffer.from(value).toString("utf8"), context, signal);
          } catch (error) {
            throw new UsageSourceError(
              `${label} (${cluster.subscriptionId}/${cluster.resourceGroup}/${cluster.name})`,
              `${(error as Error).message} — the identity needs the Azure Kubernetes Service Cluster User role`,
              { cause: error },
            );
          }
          return kubernetesSource({
            kubeconfigText,
            label: cluster.alias,
            ...(scope.namespaces ? { namespaces: scope.namespaces } : {}),
          })
            .load(signal)
            .then((usages) =>
              usages.map((u) => ({ ...u, source: u.source.replace(/^kubernetes /, "aks ") })),
            );
        }),
      );
      return perCluster.flat();
    },
  };
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

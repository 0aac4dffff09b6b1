import {
  ApiException,
  AppsV1Api,
  BatchV1Api,
  type ConfigurationOptions,
  CoreV1Api,
  KubeConfig,
  Observable,
  type RequestContext,
  type ResponseContext,
} from "@kubernetes/client-node";
import { expandHome } from "../config/expand-home.js";
import { UsageSourceError } from "../errors.js";
import { type FoundImage, usagesOf } from "./found-image.js";
import { imagesOf, type KubeObject, type WorkloadKind } from "./kubernetes-images.js";
import type { UsageSource } from "./usage.js";

export interface KubernetesSourceOptions {
  /** Kubeconfig file; default $KUBECONFIG or ~/.kube/config. */
  readonly kubeconfig?: string;
  /** One context; default the kubeconfig's current context. */
  readonly context?: string;
  readonly namespaces?: { readonly include?: readonly string[]; readonly exclude?: readonly string[] };
  readonly optional?: boolean;
  readonly pageSize?: number;
  /** A kubeconfig given as text rather than a file (AKS discovery hands these over). */
  readonly kubeconfigText?: string;
  /** How this cluster is named in reasons; default the context name. */
  readonly label?: string;
}

interface Page {
  readonly items: readonly unknown[];
  readonly metadata?: { readonly _continue?: string };
}
type ListParams = { limit: number; _continue?: string; namespace?: string };
type Lister = (params: ListParams, options?: ConfigurationOptions) => Promise<Page>;

/**
 * Per-call options that hand the source's signal to the client's fetch: an aborted signal cancels
 * the undici request and closes its socket, so a hung API server cannot keep the process alive.
 */
export function withSignal(signal: AbortSignal | undefined): ConfigurationOptions | undefined {
  if (!signal) return undefined;
  return {
    middleware: [
      {
        pre: (context: RequestContext) => {
          context.setSignal(signal);
          return new Observable(Promise.resolve(context));
        },
        post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: "append",
  };
}

/** Loads a kubeconfig as the official client does; a missing file or context is the source failing. */
export function loadKubeConfig(options: KubernetesSourceOptions): KubeConfig {
  const kc = new KubeConfig();
  if (options.kubeconfigText !== undefined) kc.loadFromString(options.kubeconfigText);
  else if (options.kubeconfig) kc.loadFromFile(expandHome(options.kubeconfig));
  else kc.loadFromDefault();
  if (options.context) {
    if (!kc.getContextObject(options.context)) {
      throw new Error(
        `no context named '${options.context}' in ${options.kubeconfig ?? "the default kubeconfig"}`,
      );
    }
    kc.setCurrentContext(options.context);
  }
  return kc;
}

/**
 * Every image a cluster runs or could roll back to or start next: Pods (spec and the digests
 * the runtime pulled), Deployments, every ReplicaSet (0-replica ones are rollback history),
 * StatefulSets, DaemonSets, Jobs, CronJobs and ReplicationControllers. Lists are paged.
 */
export function kubernetesSource(options: KubernetesSourceOptions): UsageSource {
  const name = `kubernetes ${options.label ?? options.context ?? "(current context)"}`;
  return {
    name,
    optional: options.optional ?? false,
    async load(signal?: AbortSignal) {
      let kc: KubeConfig;
      try {
        kc = loadKubeConfig(options);
      } catch (error) {
        throw new UsageSourceError(name, (error as Error).message, { cause: error });
      }
      const label = options.label ?? kc.getCurrentContext();
      const core = kc.makeApiClient(CoreV1Api);
      const apps = kc.makeApiClient(AppsV1Api);
      const batch = kc.makeApiClient(BatchV1Api);
      const kinds: [WorkloadKind, Lister, Lister][] = [
        [
          "pod",
          (p, o) => core.listPodForAllNamespaces(p, o),
          (p, o) => core.listNamespacedPod(p as never, o),
        ],
        [
          "replicationcontroller",
          (p, o) => core.listReplicationControllerForAllNamespaces(p, o),
          (p, o) => core.listNamespacedReplicationController(p as never, o),
        ],
        [
          "deployment",
          (p, o) => apps.listDeploymentForAllNamespaces(p, o),
          (p, o) => apps.listNamespacedDeployment(p as never, o),
        ],
        [
          "replicaset",
          (p, o) => apps.listReplicaSetForAllNamespaces(p, o),
          (p, o) => apps.listNamespacedReplicaSet(p as never, o),
        ],
        [
          "statefulset",
          (p, o) => apps.listStatefulSetForAllNamespaces(p, o),
          (p, o) => apps.listNamespacedStatefulSet(p as never, o),
        ],
        [
          "daemonset",
          (p, o) => apps.listDaemonSetForAllNamespaces(p, o),
          (p, o) => apps.listNamespacedDaemonSet(p as never, o),
        ],
        [
          "job",
          (p, o) => batch.listJobForAllNamespaces(p, o),
          (p, o) => batch.listNamespacedJob(p as never, o),
        ],
        [
          "cronjob",
          (p, o) => batch.listCronJobForAllNamespaces(p, o),
          (p, o) => batch.listNamespacedCronJob(p as never, o),
        ],
      ];
      const include = options.namespaces?.include;
      const exclude = new Set(options.namespaces?.exclude ?? []);
      const pageSize = options.pageSize ?? 500;
      const found: FoundImage[] = [];
      const callOptions = withSignal(signal);
      try {
        await Promise.all(
          kinds.map(async ([kind, listAll, listNamespaced]) => {
            const scopes = include
              ? include.map((ns) => ({ ns, list: listNamespaced }))
              : [{ ns: undefined, list: listAll }];
            for (const { ns, list } of scopes) {
              let next: string | undefined;
              do {
                signal?.throwIfAborted();
                const page = await list(
                  {
                    limit: pageSize,
                    ...(next ? { _continue: next } : {}),
                    ...(ns ? { namespace: ns } : {}),
                  },
                  callOptions,
                );
                for (const item of page.items as KubeObject[]) {
                  if (exclude.has(item.metadata?.namespace ?? "")) continue;
                  found.push(...imagesOf(kind, item));
                }
                next = page.metadata?._continue || undefined;
              } while (next);
            }
          }),
        );
      } catch (error) {
        throw new UsageSourceError(`kubernetes ${label}`, describeKubeError(error, label, kc), {
          cause: error,
        });
      }
      return usagesOf(found, `kubernetes ${label}`);
    },
  };
}

function describeKubeError(error: unknown, context: string, kc: KubeConfig): string {
  const server = kc.getCurrentCluster()?.server ?? "?";
  if (error instanceof ApiException) {
    const hint =
      error.code === 401
        ? " — the credentials were refused: refresh them (az aks get-credentials, kubelogin, or a new token)"
        : error.code === 403
          ? " — the identity may not list workloads cluster-wide: grant it read access (e.g. the view ClusterRole)"
          : "";
    return `context '${context}' (${server}): HTTP ${error.code}${hint}`;
  }
  return `context '${context}' (${server}): ${(error as Error).message}`;
}

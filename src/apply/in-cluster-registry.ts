/**
 * A registry that runs in Kubernetes, as apply sees it: the settings, the outcome types and the
 * interface. The adapter over @kubernetes/client-node is in-cluster-kube.ts, loaded only when used.
 */
import type { InClusterRegistryConfig } from "../config/config-schema.js";
import { ExitCode, type ExitCodeValue } from "../errors.js";

/** The variable distribution reads for `storage.delete.enabled`. */
export const DELETE_ENABLED_VAR = "REGISTRY_STORAGE_DELETE_ENABLED";

/** A call to the in-cluster registry's workload failed: says which workload and what to do. */
export class InClusterRegistryError extends Error {
  override name = "InClusterRegistryError";
  readonly exitCode: ExitCodeValue = ExitCode.failure;
}

export interface InClusterRegistrySettings {
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly namespace: string;
  readonly kind: "statefulset" | "deployment";
  readonly name: string;
  /** Default: the workload's only container. */
  readonly container?: string;
  readonly configPath: string;
  readonly garbageCollect: boolean;
  readonly readyTimeoutMs: number;
  /** How often rollout status is read while waiting (default 1 s). */
  readonly pollIntervalMs?: number;
  /** Timeout of each single API call (default 30 s). */
  readonly callTimeoutMs?: number;
}

/** The configuration file's `registry.kubernetes` as settings. */
export function inClusterSettings(config: InClusterRegistryConfig): InClusterRegistrySettings {
  return {
    ...(config.kubeconfig ? { kubeconfig: config.kubeconfig } : {}),
    ...(config.context ? { context: config.context } : {}),
    namespace: config.namespace,
    kind: config.deployment ? "deployment" : "statefulset",
    name: config.deployment ?? config.statefulset ?? "docker-registry",
    ...(config.container ? { container: config.container } : {}),
    configPath: config.configPath,
    garbageCollect: config.garbageCollect,
    readyTimeoutMs: config.readyTimeoutSeconds * 1000,
  };
}

/** What the registry container says about deletes: the env entry's value, or undefined when it has none. */
export interface DeleteSetting {
  readonly container: string;
  readonly value: string | undefined;
}

export interface GarbageCollection {
  readonly pod: string;
  readonly command: readonly string[];
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The I/O the apply needs from a registry workload in Kubernetes. */
export interface InClusterRegistry {
  /** `statefulset default/docker-registry` */
  readonly description: string;
  readonly settings: InClusterRegistrySettings;
  readDeleteSetting(signal?: AbortSignal): Promise<DeleteSetting>;
  /** Sets the variable to `value`, or removes the env entry for undefined. */
  setDeleteSetting(
    value: string | undefined,
    signal?: AbortSignal,
    options?: { dryRun?: boolean },
  ): Promise<void>;
  /** Until the rollout of the current spec is complete; bounded by readyTimeoutMs. */
  waitReady(signal?: AbortSignal): Promise<void>;
  /** `registry garbage-collect <configPath>` in one ready pod; never --delete-untagged. */
  garbageCollect(signal?: AbortSignal): Promise<GarbageCollection>;
}

/** The command garbage collection runs. `--delete-untagged` is never added: it deletes the children of multi-arch images. */
export function garbageCollectCommand(configPath: string): string[] {
  return ["registry", "garbage-collect", configPath];
}

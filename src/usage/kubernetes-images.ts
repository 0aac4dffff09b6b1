import type { FoundImage } from "./found-image.js";
import { referenceOfImageId } from "./image-id.js";

interface Container {
  readonly name?: string;
  readonly image?: string;
}
interface ContainerStatus {
  readonly name?: string;
  readonly image?: string;
  readonly imageID?: string;
}
interface PodSpec {
  readonly containers?: readonly Container[];
  readonly initContainers?: readonly Container[];
  readonly ephemeralContainers?: readonly Container[];
}
interface PodStatus {
  readonly containerStatuses?: readonly ContainerStatus[];
  readonly initContainerStatuses?: readonly ContainerStatus[];
  readonly ephemeralContainerStatuses?: readonly ContainerStatus[];
}
export interface KubeObject {
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
  readonly spec?: {
    readonly containers?: readonly Container[];
    readonly template?: { readonly spec?: PodSpec };
    readonly jobTemplate?: { readonly spec?: { readonly template?: { readonly spec?: PodSpec } } };
  } & PodSpec;
  readonly status?: PodStatus;
}

export type WorkloadKind =
  | "pod"
  | "deployment"
  | "replicaset"
  | "statefulset"
  | "daemonset"
  | "job"
  | "cronjob"
  | "replicationcontroller";

/** The pod spec a workload of this kind runs (or would run when scaled up or scheduled). */
function podSpecOf(kind: WorkloadKind, obj: KubeObject): PodSpec | undefined {
  if (kind === "pod") return obj.spec;
  if (kind === "cronjob") return obj.spec?.jobTemplate?.spec?.template?.spec;
  return obj.spec?.template?.spec;
}

/**
 * Every image a workload references: spec containers, init and ephemeral containers, and for pods
 * the digests the runtime actually pulled (status imageID), which protect the exact manifest even
 * after a tag moved.
 */
export function imagesOf(kind: WorkloadKind, obj: KubeObject): FoundImage[] {
  const ns = obj.metadata?.namespace ?? "default";
  const base = `${ns}/${kind}/${obj.metadata?.name ?? "?"}`;
  const found: FoundImage[] = [];
  const spec = podSpecOf(kind, obj);
  for (const [list, label] of [
    [spec?.containers, "container"],
    [spec?.initContainers, "init container"],
    [spec?.ephemeralContainers, "ephemeral container"],
  ] as const) {
    for (const c of list ?? [])
      if (c.image) found.push({ image: c.image, where: `${base} (${label} ${c.name ?? "?"})` });
  }
  if (kind === "pod") {
    for (const statuses of [
      obj.status?.containerStatuses,
      obj.status?.initContainerStatuses,
      obj.status?.ephemeralContainerStatuses,
    ]) {
      for (const s of statuses ?? []) {
        const ref = referenceOfImageId(s.imageID);
        if (ref) found.push({ image: ref, where: `${base} (running ${s.name ?? "?"})` });
      }
    }
  }
  return found;
}

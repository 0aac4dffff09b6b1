/**
 * Builders for Kubernetes objects shaped as the API server returns them (core/v1, apps/v1, batch/v1),
 * including the defaults the server fills in. Only what image scanning reads is configurable; the rest
 * is there so code written against these fixtures also works against a real cluster.
 *
 * Each builder returns the object as a single GET would (with `apiVersion` and `kind`); the server
 * strips both from list items, as the real API server does.
 */
import { createHash, randomUUID } from "node:crypto";

export interface ContainerInput {
  name: string;
  image: string;
  /** Pods only: what the runtime reports in `status.*Statuses[].imageID`. Absent → not pulled yet (""). */
  imageID?: string;
  /** Pods only: `status.*Statuses[].image` when the runtime reports it differently (e.g. `docker.io/library/nginx:1.25`). */
  statusImage?: string;
  /** Literal environment variables, as `spec.containers[].env`. */
  env?: { name: string; value: string }[];
}

export interface MetaInput {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: object[];
  /** RFC 3339 (second precision is what the API returns) or a Date; default now. */
  creationTimestamp?: string | Date;
  uid?: string;
}

export interface PodInput extends MetaInput {
  containers: ContainerInput[];
  initContainers?: ContainerInput[];
  ephemeralContainers?: (ContainerInput & { targetContainerName?: string })[];
  /** Default: Running when every container has an imageID, else Pending. */
  phase?: "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown";
  nodeName?: string;
}

export interface WorkloadInput extends MetaInput {
  containers: ContainerInput[];
  initContainers?: ContainerInput[];
  replicas?: number;
}

export type K8sObject = Record<string, unknown> & { metadata: Record<string, unknown> };

/** API timestamps are RFC 3339 with second precision: `2025-06-01T12:00:00Z`. */
export function k8sTime(d: Date | string = new Date()): string {
  const date = typeof d === "string" ? new Date(d) : d;
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

let nextResourceVersion = 1000;
/** Resource versions are opaque strings; etcd hands out increasing integers. */
export function newResourceVersion(): string {
  nextResourceVersion += 1;
  return String(nextResourceVersion);
}

function meta(ns: string | undefined, name: string, input: MetaInput, extra: Record<string, unknown> = {}) {
  return {
    name,
    ...(ns === undefined ? {} : { namespace: ns }),
    uid: input.uid ?? randomUUID(),
    resourceVersion: newResourceVersion(),
    creationTimestamp: k8sTime(input.creationTimestamp),
    ...extra,
    ...(input.labels ? { labels: { ...input.labels } } : {}),
    ...(input.annotations ? { annotations: { ...input.annotations } } : {}),
    ...(input.ownerReferences ? { ownerReferences: structuredClone(input.ownerReferences) } : {}),
  };
}

/** The defaults the API server adds to every container. */
function containerSpec(c: ContainerInput): Record<string, unknown> {
  const tagless = !/[:@][^/]*$/.test(c.image);
  return {
    name: c.name,
    image: c.image,
    resources: {},
    ...(c.env ? { env: c.env.map((e) => ({ ...e })) } : {}),
    terminationMessagePath: "/dev/termination-log",
    terminationMessagePolicy: "File",
    imagePullPolicy: tagless || c.image.endsWith(":latest") ? "Always" : "IfNotPresent",
  };
}

function podSpec(input: {
  containers: ContainerInput[];
  initContainers?: ContainerInput[];
  restartPolicy?: string;
}): Record<string, unknown> {
  return {
    ...(input.initContainers?.length ? { initContainers: input.initContainers.map(containerSpec) } : {}),
    containers: input.containers.map(containerSpec),
    restartPolicy: input.restartPolicy ?? "Always",
    terminationGracePeriodSeconds: 30,
    dnsPolicy: "ClusterFirst",
    securityContext: {},
    schedulerName: "default-scheduler",
  };
}

function template(labels: Record<string, string>, input: WorkloadInput, restartPolicy?: string) {
  return {
    metadata: { labels: { ...labels } },
    spec: podSpec({
      containers: input.containers,
      ...(input.initContainers ? { initContainers: input.initContainers } : {}),
      ...(restartPolicy ? { restartPolicy } : {}),
    }),
  };
}

function fakeContainerId(seed: string): string {
  return `containerd://${createHash("sha256").update(seed).digest("hex")}`;
}

function containerStatus(c: ContainerInput, kind: "main" | "init" | "ephemeral", since: string, uid: string) {
  const pulled = c.imageID !== undefined && c.imageID !== "";
  const base = { name: c.name, image: c.statusImage ?? c.image, imageID: c.imageID ?? "" };
  if (!pulled) {
    const reason = kind === "init" ? "PodInitializing" : "ContainerCreating";
    return {
      ...base,
      state: { waiting: { reason } },
      lastState: {},
      ready: false,
      restartCount: 0,
      started: false,
    };
  }
  const containerID = fakeContainerId(`${uid}/${c.name}`);
  if (kind === "init") {
    const terminated = { exitCode: 0, reason: "Completed", startedAt: since, finishedAt: since, containerID };
    return {
      ...base,
      containerID,
      state: { terminated },
      lastState: {},
      ready: true,
      restartCount: 0,
      started: false,
    };
  }
  const ready = kind === "main";
  return {
    ...base,
    containerID,
    state: { running: { startedAt: since } },
    lastState: {},
    ready,
    restartCount: 0,
    started: true,
  };
}

/** A v1 Pod with spec and the container statuses the kubelet reports. */
export function pod(ns: string, name: string, input: PodInput): K8sObject {
  const metadata = meta(ns, name, input);
  const since = metadata.creationTimestamp;
  const all = [...input.containers, ...(input.initContainers ?? [])];
  const phase = input.phase ?? (all.every((c) => c.imageID) ? "Running" : "Pending");
  const running = phase === "Running";
  const spec: Record<string, unknown> = {
    ...podSpec(input),
    serviceAccountName: "default",
    serviceAccount: "default",
    nodeName: input.nodeName ?? "node-1",
    enableServiceLinks: true,
    priority: 0,
    preemptionPolicy: "PreemptLowerPriority",
  };
  if (input.ephemeralContainers?.length) {
    spec.ephemeralContainers = input.ephemeralContainers.map((c) => ({
      ...containerSpec(c),
      ...(c.targetContainerName ? { targetContainerName: c.targetContainerName } : {}),
    }));
  }
  const condition = (type: string, ok: boolean) => ({
    type,
    status: ok ? "True" : "False",
    lastProbeTime: null,
    lastTransitionTime: since,
  });
  const status: Record<string, unknown> = {
    phase,
    conditions: [
      condition("Initialized", running),
      condition("Ready", running),
      condition("ContainersReady", running),
      condition("PodScheduled", true),
    ],
    hostIP: "10.0.0.10",
    podIP: running ? "10.244.0.10" : undefined,
    startTime: since,
    ...(input.initContainers?.length
      ? {
          initContainerStatuses: input.initContainers.map((c) =>
            containerStatus(c, "init", since, metadata.uid),
          ),
        }
      : {}),
    containerStatuses: input.containers.map((c) => containerStatus(c, "main", since, metadata.uid)),
    ...(input.ephemeralContainers?.length
      ? {
          ephemeralContainerStatuses: input.ephemeralContainers.map((c) =>
            containerStatus(c, "ephemeral", since, metadata.uid),
          ),
        }
      : {}),
    qosClass: "BestEffort",
  };
  if (status.podIP === undefined) delete status.podIP;
  return { apiVersion: "v1", kind: "Pod", metadata, spec, status };
}

function appLabels(name: string, input: MetaInput): Record<string, string> {
  return input.labels ?? { app: name };
}

/** Integer status fields are `omitempty` in most workload statuses: zero means absent. */
function nonZero(fields: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== 0));
}

/** apps/v1 Deployment. */
export function deployment(ns: string, name: string, input: WorkloadInput): K8sObject {
  const labels = appLabels(name, input);
  const replicas = input.replicas ?? 1;
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: meta(ns, name, { ...input, labels }, { generation: 1 }),
    spec: {
      replicas,
      selector: { matchLabels: { ...labels } },
      template: template(labels, input),
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "25%", maxSurge: "25%" } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
    },
    status: {
      observedGeneration: 1,
      ...nonZero({
        replicas,
        updatedReplicas: replicas,
        readyReplicas: replicas,
        availableReplicas: replicas,
      }),
    },
  };
}

/** apps/v1 ReplicaSet; 0-replica ones are a Deployment's rollback history. */
export function replicaSet(ns: string, name: string, input: WorkloadInput & { replicas: number }): K8sObject {
  const labels = appLabels(name, input);
  const { replicas } = input;
  return {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: meta(ns, name, { ...input, labels }, { generation: 1 }),
    spec: { replicas, selector: { matchLabels: { ...labels } }, template: template(labels, input) },
    status: {
      replicas,
      ...nonZero({ fullyLabeledReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas }),
      observedGeneration: 1,
    },
  };
}

/** apps/v1 StatefulSet. */
export function statefulSet(ns: string, name: string, input: WorkloadInput): K8sObject {
  const labels = appLabels(name, input);
  const replicas = input.replicas ?? 1;
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: meta(ns, name, { ...input, labels }, { generation: 1 }),
    spec: {
      replicas,
      selector: { matchLabels: { ...labels } },
      template: template(labels, input),
      serviceName: name,
      podManagementPolicy: "OrderedReady",
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 0 } },
      revisionHistoryLimit: 10,
      persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
    },
    status: {
      observedGeneration: 1,
      replicas,
      ...nonZero({ readyReplicas: replicas, currentReplicas: replicas, updatedReplicas: replicas }),
      availableReplicas: replicas,
      collisionCount: 0,
      currentRevision: `${name}-${revisionHash(1)}`,
      updateRevision: `${name}-${revisionHash(1)}`,
    },
  };
}

/** apps/v1 DaemonSet (scheduled on one node). */
export function daemonSet(ns: string, name: string, input: WorkloadInput): K8sObject {
  const labels = appLabels(name, input);
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: meta(ns, name, { ...input, labels }, { generation: 1 }),
    spec: {
      selector: { matchLabels: { ...labels } },
      template: template(labels, input),
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
      revisionHistoryLimit: 10,
    },
    status: {
      currentNumberScheduled: 1,
      numberMisscheduled: 0,
      desiredNumberScheduled: 1,
      numberReady: 1,
      observedGeneration: 1,
      updatedNumberScheduled: 1,
      numberAvailable: 1,
    },
  };
}

/** batch/v1 Job (running); the server labels it and its template with the controller uid. */
export function job(ns: string, name: string, input: WorkloadInput): K8sObject {
  const metadata = meta(ns, name, input, { generation: 1 });
  const labels = {
    "batch.kubernetes.io/controller-uid": metadata.uid,
    "batch.kubernetes.io/job-name": name,
    "controller-uid": metadata.uid,
    "job-name": name,
  };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { ...metadata, labels: input.labels ? { ...input.labels } : { ...labels } },
    spec: {
      parallelism: 1,
      completions: 1,
      backoffLimit: 6,
      selector: { matchLabels: { "batch.kubernetes.io/controller-uid": metadata.uid } },
      manualSelector: false,
      template: template(labels, input, "Never"),
      completionMode: "NonIndexed",
      suspend: false,
      podReplacementPolicy: "TerminatingOrFailed",
    },
    status: {
      startTime: metadata.creationTimestamp,
      active: 1,
      ready: 0,
      terminating: 0,
      uncountedTerminatedPods: {},
    },
  };
}

/** batch/v1 CronJob; the pod template is at `spec.jobTemplate.spec.template`. */
export function cronJob(
  ns: string,
  name: string,
  input: WorkloadInput & { schedule?: string; suspend?: boolean },
): K8sObject {
  return {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: meta(ns, name, input, { generation: 1 }),
    spec: {
      schedule: input.schedule ?? "*/5 * * * *",
      concurrencyPolicy: "Allow",
      suspend: input.suspend ?? false,
      jobTemplate: {
        metadata: { creationTimestamp: null },
        spec: {
          template: {
            metadata: { creationTimestamp: null },
            spec: podSpec({ ...input, restartPolicy: "OnFailure" }),
          },
        },
      },
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 1,
    },
    status: {},
  };
}

/** core/v1 ReplicationController (selector is a plain label map). */
export function replicationController(ns: string, name: string, input: WorkloadInput): K8sObject {
  const labels = appLabels(name, input);
  const replicas = input.replicas ?? 1;
  return {
    apiVersion: "v1",
    kind: "ReplicationController",
    metadata: meta(ns, name, { ...input, labels }, { generation: 1 }),
    spec: { replicas, selector: { ...labels }, template: template(labels, input) },
    status: {
      replicas,
      ...nonZero({ fullyLabeledReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas }),
      observedGeneration: 1,
    },
  };
}

/** core/v1 Namespace, as the server lists it. */
export function namespace(name: string): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: meta(undefined, name, { labels: { "kubernetes.io/metadata.name": name } }),
    spec: { finalizers: ["kubernetes"] },
    status: { phase: "Active" },
  };
}

/** A controller revision's name suffix, as the StatefulSet controller derives it from the template. */
export function revisionHash(generation: number): string {
  return createHash("sha256").update(String(generation)).digest("hex").slice(0, 10);
}

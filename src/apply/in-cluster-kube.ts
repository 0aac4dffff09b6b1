import { Writable } from "node:stream";
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  Exec,
  type KubeConfig,
  type V1Deployment,
  type V1Pod,
  type V1StatefulSet,
  type V1Status,
} from "@kubernetes/client-node";
import { AbortedError, UsageError } from "../errors.js";
import { loadKubeConfig, withSignal } from "../usage/kubernetes-source.js";
import {
  DELETE_ENABLED_VAR,
  type DeleteSetting,
  type GarbageCollection,
  garbageCollectCommand,
  type InClusterRegistry,
  InClusterRegistryError,
  type InClusterRegistrySettings,
} from "./in-cluster-registry.js";

type Workload = V1StatefulSet | V1Deployment;

export function openInClusterRegistry(settings: InClusterRegistrySettings): InClusterRegistry {
  const description = `${settings.kind} ${settings.namespace}/${settings.name}`;
  let kc: KubeConfig;
  try {
    kc = loadKubeConfig({
      ...(settings.kubeconfig ? { kubeconfig: settings.kubeconfig } : {}),
      ...(settings.context ? { context: settings.context } : {}),
    });
  } catch (error) {
    throw new UsageError(`registry.kubernetes (${description}): ${(error as Error).message}`);
  }
  const apps = kc.makeApiClient(AppsV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const callTimeoutMs = settings.callTimeoutMs ?? 30_000;
  const pollMs = settings.pollIntervalMs ?? 1_000;
  const { namespace, name } = settings;

  const bounded = (signal: AbortSignal | undefined) =>
    signal
      ? AbortSignal.any([signal, AbortSignal.timeout(callTimeoutMs)])
      : AbortSignal.timeout(callTimeoutMs);

  const call = async <T>(
    what: string,
    signal: AbortSignal | undefined,
    fn: (s: AbortSignal) => Promise<T>,
  ) => {
    if (signal?.aborted) throw new AbortedError(`${description}: cancelled`, { cause: signal.reason });
    try {
      return await fn(bounded(signal));
    } catch (error) {
      if (signal?.aborted) throw new AbortedError(`${description}: cancelled`, { cause: error });
      throw new InClusterRegistryError(describe(error, what, description, kc), { cause: error });
    }
  };

  const read = (signal?: AbortSignal): Promise<Workload> =>
    call<Workload>("get", signal, (s) =>
      settings.kind === "statefulset"
        ? apps.readNamespacedStatefulSet({ name, namespace }, withSignal(s))
        : apps.readNamespacedDeployment({ name, namespace }, withSignal(s)),
    );

  const containerOf = (workload: Workload) => {
    const containers = workload.spec?.template?.spec?.containers ?? [];
    if (settings.container) {
      const index = containers.findIndex((c) => c.name === settings.container);
      if (index < 0) {
        throw new UsageError(
          `${description} has no container '${settings.container}' (it has ${containers.map((c) => c.name).join(", ") || "none"}): fix registry.kubernetes.container`,
        );
      }
      return { index, container: containers[index] as (typeof containers)[number] };
    }
    if (containers.length !== 1) {
      throw new UsageError(
        `${description} has ${containers.length} containers (${containers.map((c) => c.name).join(", ")}): name the registry's in registry.kubernetes.container`,
      );
    }
    return { index: 0, container: containers[0] as (typeof containers)[number] };
  };

  const readDeleteSetting = async (signal?: AbortSignal): Promise<DeleteSetting> => {
    const { container } = containerOf(await read(signal));
    const entry = container.env?.find((e) => e.name === DELETE_ENABLED_VAR);
    if (entry?.valueFrom) {
      throw new UsageError(
        `${description}: container ${container.name} sets ${DELETE_ENABLED_VAR} from a ConfigMap or Secret; regsweep can only toggle a literal value: set it with value: "false"`,
      );
    }
    return { container: container.name, value: entry ? (entry.value ?? "") : undefined };
  };

  const setDeleteSetting = async (
    value: string | undefined,
    signal?: AbortSignal,
    options: { dryRun?: boolean } = {},
  ): Promise<void> => {
    const workload = await read(signal);
    const { index, container } = containerOf(workload);
    const base = `/spec/template/spec/containers/${index}`;
    const env = container.env ?? [];
    const at = env.findIndex((e) => e.name === DELETE_ENABLED_VAR);
    // The test ops make the patch fail rather than change another container or entry if the
    // workload was edited between the read and the patch.
    const ops: object[] = [{ op: "test", path: `${base}/name`, value: container.name }];
    if (at >= 0) {
      ops.push({ op: "test", path: `${base}/env/${at}/name`, value: DELETE_ENABLED_VAR });
      ops.push(
        value === undefined
          ? { op: "remove", path: `${base}/env/${at}` }
          : { op: "replace", path: `${base}/env/${at}/value`, value },
      );
    } else if (value !== undefined) {
      ops.push(
        container.env
          ? { op: "add", path: `${base}/env/-`, value: { name: DELETE_ENABLED_VAR, value } }
          : { op: "add", path: `${base}/env`, value: [{ name: DELETE_ENABLED_VAR, value }] },
      );
    } else if (!options.dryRun) {
      return; // already absent
    }
    const dryRun = options.dryRun ? "All" : undefined;
    await call<Workload>("patch", signal, (s) =>
      settings.kind === "statefulset"
        ? apps.patchNamespacedStatefulSet(
            { name, namespace, body: ops, ...(dryRun ? { dryRun } : {}) },
            withSignal(s),
          )
        : apps.patchNamespacedDeployment(
            { name, namespace, body: ops, ...(dryRun ? { dryRun } : {}) },
            withSignal(s),
          ),
    );
  };

  const waitReady = async (signal?: AbortSignal): Promise<void> => {
    const deadline = AbortSignal.timeout(settings.readyTimeoutMs);
    const both = signal ? AbortSignal.any([signal, deadline]) : deadline;
    let last = "not read yet";
    // Short first polls: a rollout often completes within a second; then every pollMs.
    let wait = Math.min(100, pollMs);
    for (;;) {
      if (signal?.aborted) throw new AbortedError(`${description}: cancelled while waiting for its pods`);
      if (deadline.aborted) {
        throw new InClusterRegistryError(
          `${description}: pods not ready after ${Math.round(settings.readyTimeoutMs / 1000)} s (${last}): check kubectl -n ${namespace} rollout status ${settings.kind}/${name}, or raise registry.kubernetes.readyTimeoutSeconds`,
        );
      }
      const workload = await read(both).catch((error) => {
        if (deadline.aborted && !signal?.aborted) return undefined;
        throw error;
      });
      if (workload) {
        last = rolloutState(workload);
        if (last === "ready") return;
      }
      await pause(wait, both);
      wait = Math.min(wait * 2, pollMs);
    }
  };

  const readyPod = async (signal?: AbortSignal): Promise<V1Pod> => {
    const workload = await read(signal);
    const labels = workload.spec?.selector?.matchLabels ?? {};
    const labelSelector = Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    const pods = await call("list pods of", signal, (s) =>
      core.listNamespacedPod({ namespace, labelSelector }, withSignal(s)),
    );
    const ready = pods.items.find(
      (p) =>
        !p.metadata?.deletionTimestamp &&
        p.status?.phase === "Running" &&
        p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
    );
    if (!ready?.metadata?.name) {
      throw new InClusterRegistryError(
        `${description}: no ready pod matches its selector ${labelSelector || "(none)"}: check kubectl -n ${namespace} get pods -l ${labelSelector}`,
      );
    }
    return ready;
  };

  const garbageCollect = async (signal?: AbortSignal): Promise<GarbageCollection> => {
    const { container } = containerOf(await read(signal));
    const pod = await readyPod(signal);
    const podName = pod.metadata?.name as string;
    const command = garbageCollectCommand(settings.configPath);
    let stdout = "";
    let stderr = "";
    const sink = (append: (text: string) => void) =>
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          append(chunk.toString("utf8"));
          done();
        },
      });
    // Garbage collection walks the whole storage: it may take as long as a rollout.
    const limit = AbortSignal.timeout(settings.readyTimeoutMs);
    const both = signal ? AbortSignal.any([signal, limit]) : limit;
    const status = await new Promise<V1Status>((resolve, reject) => {
      let result: V1Status | undefined;
      const fail = (error: unknown) =>
        reject(
          signal?.aborted
            ? new AbortedError(`${description}: garbage-collect cancelled`)
            : new InClusterRegistryError(describe(error, "exec into pods of", description, kc), {
                cause: error,
              }),
        );
      new Exec(kc)
        .exec(
          namespace,
          podName,
          container.name,
          command,
          sink((t) => (stdout += t)),
          sink((t) => (stderr += t)),
          null,
          false,
          (s) => (result = s),
        )
        .then((ws) => {
          const onAbort = () => {
            ws.terminate?.();
            fail(both.reason);
          };
          if (both.aborted) return onAbort();
          both.addEventListener("abort", onAbort, { once: true });
          ws.on("close", () => {
            both.removeEventListener("abort", onAbort);
            if (result) resolve(result);
            else fail(new Error("the exec stream closed without an exit status"));
          });
        }, fail);
    });
    return { pod: podName, command, exitCode: exitCodeOf(status), stdout, stderr };
  };

  return { description, settings, readDeleteSetting, setDeleteSetting, waitReady, garbageCollect };
}

/** "ready", or what is still rolling, as `kubectl rollout status` judges it. */
export function rolloutState(workload: Workload): string {
  const generation = workload.metadata?.generation ?? 0;
  const status = workload.status;
  const want = workload.spec?.replicas ?? 1;
  if ((status?.observedGeneration ?? 0) < generation) return "the controller has not seen the change yet";
  const updated = status?.updatedReplicas ?? 0;
  const ready = status?.readyReplicas ?? 0;
  const total = status?.replicas ?? 0;
  if (updated < want) return `${updated} of ${want} pods updated`;
  if (total > updated) return `${total - updated} old pods still terminating`;
  if (ready < want) return `${ready} of ${want} pods ready`;
  const sts = status as V1StatefulSet["status"];
  if (sts && "updateRevision" in sts && sts.updateRevision && sts.currentRevision !== sts.updateRevision)
    return `revision ${sts.updateRevision} not rolled out yet`;
  return "ready";
}

function exitCodeOf(status: V1Status): number {
  if (status.status === "Success") return 0;
  const cause = status.details?.causes?.find((c) => c.reason === "ExitCode");
  const code = Number(cause?.message);
  return Number.isInteger(code) ? code : -1;
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

function describe(error: unknown, what: string, description: string, kc: KubeConfig): string {
  const server = kc.getCurrentCluster()?.server ?? "?";
  const where = `${what} ${description} (${server})`;
  const rbac = `grant get and patch on ${description.split(" ")[0]}s, list on pods and create on pods/exec in namespace ${description.split(" ")[1]?.split("/")[0]}`;
  if (error instanceof ApiException) {
    if (error.code === 403) return `${where}: forbidden — ${rbac}`;
    if (error.code === 404)
      return `${where}: not found — check registry.kubernetes (namespace, statefulset or deployment)`;
    if (error.code === 401) return `${where}: credentials refused — refresh the kubeconfig's credentials`;
    return `${where}: HTTP ${error.code}`;
  }
  const message = (error as { message?: string })?.message ?? String(error);
  if (/Unexpected server response: 403/.test(message)) return `${where}: forbidden — ${rbac}`;
  return `${where}: ${message.split("\n")[0]}`;
}

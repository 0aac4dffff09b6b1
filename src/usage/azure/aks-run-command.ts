import type { ContainerServiceClient, RunCommandResult } from "@azure/arm-containerservice";
import type { FoundImage } from "../found-image.js";
import { imagesOf, type KubeObject, type WorkloadKind } from "../kubernetes-images.js";

/** The kinds the kubernetes source reads, as kubectl names them: one command per kind keeps each output small. */
export const RUN_COMMAND_KINDS: readonly (readonly [WorkloadKind, string])[] = [
  ["pod", "pods"],
  ["replicationcontroller", "replicationcontrollers"],
  ["deployment", "deployments"],
  ["replicaset", "replicasets"],
  ["statefulset", "statefulsets"],
  ["daemonset", "daemonsets"],
  ["job", "jobs"],
  ["cronjob", "cronjobs"],
];

/** AKS runs every command in a pod of its own: a few at a time reads a cluster quickly without crowding it. */
const CONCURRENCY = 4;
/** How often the run-command operation is polled when ARM does not say (Retry-After). */
const POLL_INTERVAL_MS = 1000;

export interface RunCommandTarget {
  readonly client: ContainerServiceClient;
  readonly resourceGroup: string;
  readonly name: string;
  /** An Entra token for the AKS server application, for clusters with Entra ID integration. */
  readonly clusterToken?: string;
  readonly namespaces?: { readonly include?: readonly string[]; readonly exclude?: readonly string[] };
}

/** The kubectl commands that read every workload (of the included namespaces, or of all). */
export function runCommandLines(
  include: readonly string[] | undefined,
): { kind: WorkloadKind; command: string }[] {
  const scopes = include?.length ? include.map((ns) => `-n ${shellWord(ns)}`) : ["-A"];
  return RUN_COMMAND_KINDS.flatMap(([kind, resource]) =>
    scopes.map((scope) => ({ kind, command: `kubectl get ${resource} ${scope} -o json` })),
  );
}

/** Namespace names are DNS labels; anything else is quoted so the command stays one kubectl call. */
function shellWord(word: string): string {
  return /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

/**
 * Every image the cluster's workloads reference, read by `kubectl` inside the cluster through AKS
 * run-command (the way into a private cluster from outside its network). Any command that fails,
 * or whose output is cut short, fails the whole read: a partial list would let in-use images go.
 */
export async function runCommandImages(
  target: RunCommandTarget,
  signal?: AbortSignal,
): Promise<FoundImage[]> {
  const lines = runCommandLines(target.namespaces?.include);
  const exclude = new Set(target.namespaces?.exclude ?? []);
  const found: FoundImage[] = [];
  let next = 0;
  const worker = async () => {
    while (next < lines.length) {
      const line = lines[next++] as (typeof lines)[number];
      signal?.throwIfAborted();
      const result = await target.client.managedClusters.beginRunCommandAndWait(
        target.resourceGroup,
        target.name,
        { command: line.command, ...(target.clusterToken ? { clusterToken: target.clusterToken } : {}) },
        { updateIntervalInMs: POLL_INTERVAL_MS, ...(signal ? { abortSignal: signal } : {}) },
      );
      for (const item of parseRunCommandOutput(result, line.command)) {
        if (exclude.has(item.metadata?.namespace ?? "")) continue;
        for (const image of imagesOf(line.kind, item))
          found.push({ ...image, where: `${image.where} (via run-command)` });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, lines.length) }, worker));
  return found;
}

/**
 * The objects of one `kubectl get … -o json` run: a `List` with `items`. A failed command
 * (provisioningState other than Succeeded, a non-zero exit code) or output that is not one whole
 * JSON list (run-command caps what it returns) is an error naming the command.
 */
export function parseRunCommandOutput(result: RunCommandResult, command: string): KubeObject[] {
  const state = result.provisioningState ?? "(none)";
  if (state.toLowerCase() !== "succeeded") {
    throw new Error(
      `\`${command}\` ended ${state}${result.reason ? `: ${result.reason}` : ""} — check that the cluster is running and the identity may run commands (Microsoft.ContainerService/managedClusters/runCommand/action)`,
    );
  }
  if (result.exitCode !== 0) {
    throw new Error(
      `\`${command}\` exited ${result.exitCode ?? "(no exit code)"}: ${firstLine(result.logs)} — the identity needs read access to workloads in the cluster (e.g. the view ClusterRole)`,
    );
  }
  const logs = result.logs ?? "";
  let parsed: unknown;
  try {
    // The logs may carry kubectl's warnings (stderr) before the document; the document itself must be whole.
    parsed = JSON.parse(logs.slice(Math.max(0, logs.search(/^\{/m))));
  } catch {
    throw new Error(
      `\`${command}\` returned ${logs.length} characters that are not whole JSON (run-command caps its output): read fewer namespaces per source (namespaces.include), or give the cluster access: api`,
    );
  }
  const items = (parsed as { items?: unknown } | null)?.items;
  if (typeof parsed !== "object" || parsed === null || !Array.isArray(items)) {
    throw new Error(`\`${command}\` returned JSON that is not a kubectl List with items`);
  }
  return items as KubeObject[];
}

function firstLine(text: string | undefined): string {
  const line = (text ?? "").split("\n").find((l) => l.trim() !== "");
  return line ? line.trim().slice(0, 300) : "(no output)";
}

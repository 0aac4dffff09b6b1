import { z } from "zod";
import { UsageError } from "../errors.js";
import { type ImportedConfig, type ImportNote, imported, registryUrlOf } from "./imported-config.js";

/** The AKS cleanup script's configuration file (SEEDS 001); other keys are reported, not refused. */
const aksCleanupSchema = z.object({
  kubernetes_clusters: z
    .record(
      z.string(),
      z.looseObject({
        name: z.string().min(1),
        subscription_id: z.string().min(1),
        resource_group: z.string().min(1),
      }),
    )
    .refine((c) => Object.keys(c).length > 0, "no cluster: the script needs at least one"),
  container_registry: z.looseObject({
    url: z.string().min(1),
    subscription_id: z.string().optional(),
    resource_group: z.string().optional(),
  }),
});

/** The script's default age threshold, in days. */
export const AKS_CLEANUP_DEFAULT_DAYS = 7;

const CLOUD_OF_SUFFIX: Record<string, string> = { us: "AzureUSGovernment", cn: "AzureChinaCloud" };

/**
 * The regsweep configuration equivalent to the AKS cleanup script's JSON file and its day
 * threshold: an aks source with the same clusters, only repositories they run images of, older
 * than the threshold, `latest` never. Pure; a file of another shape is bad usage naming the key.
 */
export function importAksCleanup(
  json: unknown,
  options: { days?: number /** The file's name, for the header. */; source?: string } = {},
): ImportedConfig {
  const parsed = aksCleanupSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue?.path.map(String).join(".") || "(top level)";
    throw new UsageError(
      `${key}: ${issue?.message} (expected {"kubernetes_clusters": {"<alias>": {"name", "subscription_id", "resource_group"}}, "container_registry": {"url", "subscription_id", "resource_group"}})`,
    );
  }
  const file = parsed.data;
  const days = options.days ?? AKS_CLEANUP_DEFAULT_DAYS;
  const notes: ImportNote[] = [];
  const url = registryUrlOf(file.container_registry.url);
  let host: string;
  try {
    host = new URL(url).host;
  } catch {
    throw new UsageError(
      `container_registry.url ${JSON.stringify(file.container_registry.url)} is not a registry host`,
    );
  }
  notes.push({
    kind: "mapped",
    text: `container_registry.url ${file.container_registry.url} → registry.url ${url}`,
  });

  const azure: Record<string, unknown> = {};
  const suffix = /\.azurecr\.(io|us|cn)(?::\d+)?$/i.exec(host)?.[1]?.toLowerCase();
  const cloud = suffix ? CLOUD_OF_SUFFIX[suffix] : undefined;
  if (cloud) {
    azure.cloud = cloud;
    notes.push({
      kind: "mapped",
      text: `registry host *.azurecr.${suffix} → azure.cloud ${cloud} (the script's ARM_ENVIRONMENT)`,
    });
  }
  if (!suffix) {
    notes.push({
      kind: "differs",
      text: `${host} is not an *.azurecr.* host: pass --registry-type acr so regsweep reads it through ACR's API`,
    });
  }
  if (file.container_registry.subscription_id) {
    azure.subscriptions = [file.container_registry.subscription_id];
    notes.push({ kind: "mapped", text: "container_registry.subscription_id → azure.subscriptions" });
  }
  if (file.container_registry.resource_group) {
    azure.registryResourceGroup = file.container_registry.resource_group;
    notes.push({ kind: "mapped", text: "container_registry.resource_group → azure.registryResourceGroup" });
  }

  const clusters = Object.fromEntries(
    Object.entries(file.kubernetes_clusters).map(([alias, c]) => [
      alias,
      { name: c.name, subscriptionId: c.subscription_id, resourceGroup: c.resource_group },
    ]),
  );
  notes.push({
    kind: "mapped",
    text: `kubernetes_clusters (${Object.keys(clusters).join(", ")}) → an aks usage source with those clusters`,
  });
  notes.push({
    kind: "differs",
    text: "the script reached every cluster through run-command → access: auto (the API server where it answers, run-command for private or unreachable clusters; needs Microsoft.ContainerService/managedClusters/runCommand/action); write access: run-command to always use it",
  });
  notes.push({
    kind: "differs",
    text: "in use means more than running pods: Deployments, every ReplicaSet (rollback history), StatefulSets, DaemonSets, Jobs, CronJobs; nested repositories (team/app) and @sha256 references are matched too",
  });
  notes.push({
    kind: "mapped",
    text: "only repositories a cluster runs an image of → policy.scope: used-repositories",
  });
  notes.push({
    kind: "differs",
    text: `${days} days (${options.days === undefined ? "the script's default; --days N to change" : "--days"}) → policy.ago ${days}d: by the manifest's push time, not each tag's; strictly older than ${days} days`,
  });
  notes.push({ kind: "mapped", text: "never latest → policy.protectTags: [latest]" });
  notes.push({ kind: "mapped", text: "untagged manifests ignored → policy.untagged: false" });
  notes.push({
    kind: "differs",
    text: "the script deleted by tag, which removes the manifest and every other tag on it; regsweep deletes a manifest only when it is not in use and every tag on it is old, so a running tag keeps its manifest with all its tags",
  });
  for (const extra of extraKeys(json)) {
    notes.push({ kind: "no-equivalent", text: `${extra}: not read by the script's format; left out` });
  }

  return imported(
    {
      registry: { url },
      ...(Object.keys(azure).length ? { azure } : {}),
      usage: [{ type: "aks", access: "auto", clusters }],
      policy: {
        filters: [".*:.*"],
        ago: `${days}d`,
        scope: "used-repositories",
        protectTags: ["latest"],
        untagged: false,
      },
    },
    notes,
    `${options.source ?? "an AKS cleanup file"} (days ${days})`,
  );
}

/** Keys the script's format does not have, as dotted paths. */
function extraKeys(json: unknown): string[] {
  const top = json as Record<string, Record<string, unknown>>;
  const known = new Set(["kubernetes_clusters", "container_registry"]);
  const out = Object.keys(top).filter((k) => !known.has(k));
  for (const k of Object.keys(top.container_registry ?? {})) {
    if (!["url", "subscription_id", "resource_group"].includes(k)) out.push(`container_registry.${k}`);
  }
  for (const [alias, c] of Object.entries(top.kubernetes_clusters ?? {})) {
    for (const k of Object.keys((c as Record<string, unknown>) ?? {})) {
      if (!["name", "subscription_id", "resource_group"].includes(k))
        out.push(`kubernetes_clusters.${alias}.${k}`);
    }
  }
  return out;
}

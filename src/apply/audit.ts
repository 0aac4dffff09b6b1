import { mkdir } from "node:fs/promises";
import { hostname, userInfo } from "node:os";
import { join } from "node:path";
import type { Plan } from "../plan/plan-schema.js";
import { parseAgo } from "../policy/duration.js";
import { VERSION } from "../version.js";
import type { ItemResult } from "./execute-plan.js";
import { writeNewJsonFile } from "./json-writer.js";

export interface AuditInput {
  readonly mode: "dry-run" | "apply";
  readonly command: string;
  readonly plan: Plan;
  readonly results: readonly ItemResult[];
  readonly startedAt: Date;
  readonly finishedAt: Date;
  /** Options as given, already free of secrets. */
  readonly configuration: Record<string, unknown>;
  readonly error?: string;
  /** Who the run acted as (registry user, Azure client), as the caller knows it. */
  readonly identity?: Record<string, unknown>;
  /** What apply did to an in-cluster registry's workload (deletes enabled, restored, garbage-collected). */
  readonly inClusterRegistry?: Record<string, unknown>;
}

/**
 * Writes one audit record per run (dry runs too) as
 * `<dir>/<UTC timestamp>_<dry-run|apply>_<registry>_<n>_manifests.json`. It carries no
 * credential: only the configuration the caller passes, which is redacted before it gets here.
 */
export async function writeAudit(dir: string, input: AuditInput): Promise<string> {
  const { plan, results } = input;
  const resultOf = new Map(results.filter((r) => !r.tag).map((r) => [`${r.repository}@${r.digest}`, r]));
  const tagResultOf = new Map(results.filter((r) => r.tag).map((r) => [`${r.repository}:${r.tag}`, r]));
  const untags = plan.untag ?? [];
  const counts = { deleted: 0, untagged: 0, "already-gone": 0, skipped: 0, failed: 0 };
  for (const r of results) counts[r.status]++;
  const attempted = results.length;
  const agoMs = plan.options.ago ? (parseAgo(plan.options.ago) ?? 0) : 0;
  let olderThanThreshold = 0;
  for (const list of [plan.delete, plan.keep]) {
    for (const m of list)
      if (m.created && input.startedAt.getTime() - Date.parse(m.created) > agoMs) olderThanThreshold++;
  }
  const config = input.configuration as { context?: string[]; kubeconfig?: string };
  const record = {
    audit: { schema: "regsweep.audit/v1", toolVersion: VERSION },
    execution: {
      command: input.command,
      mode: input.mode,
      startedAt: input.startedAt.toISOString(),
      finishedAt: input.finishedAt.toISOString(),
      durationMs: input.finishedAt.getTime() - input.startedAt.getTime(),
      user: safeUser(),
      // Who the run acted as, where known without asking a service.
      identity: {
        ...input.identity,
        ...(config.context?.length ? { kubernetesContexts: config.context } : {}),
      },
      host: hostname(),
      platform: `${process.platform}/${process.arch}`,
      node: process.version,
      ...(input.error ? { error: input.error } : {}),
    },
    configuration: input.configuration,
    registry: plan.registry,
    summary: {
      scanned: plan.summary.manifests,
      olderThanThreshold,
      selected: plan.delete.length,
      ...plan.summary,
      ...counts,
      notAttempted: input.mode === "apply" ? plan.delete.length + untags.length - attempted : 0,
      successRate: attempted ? (counts.deleted + counts.untagged + counts["already-gone"]) / attempted : null,
    },
    // Mapped as it is written: a million entries are never copied at once.
    manifests: lazyMap(plan.delete, (d) => ({
      ...d,
      ageDays: d.created
        ? Math.floor((input.startedAt.getTime() - Date.parse(d.created)) / 86_400_000)
        : null,
      result: resultOf.get(`${d.repository}@${d.digest}`) ?? {
        status: input.mode === "dry-run" ? "dry-run" : "not-attempted",
      },
    })),
    inUse: plan.keep.filter((k) => k.reasons.some((r) => r.rule === "in-use")),
    oldInUse: plan.oldInUse,
    warnings: plan.warnings,
    ...(input.inClusterRegistry ? { inClusterRegistry: input.inClusterRegistry } : {}),
    ...(plan.pullRequests ? { pullRequests: plan.pullRequests } : {}),
    ...(untags.length
      ? {
          untagged: untags.map((u) => ({
            ...u,
            result: tagResultOf.get(`${u.repository}:${u.tag}`) ?? {
              status: input.mode === "dry-run" ? "dry-run" : "not-attempted",
            },
          })),
        }
      : {}),
  };
  await mkdir(dir, { recursive: true });
  const stamp = input.startedAt
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  const registry = plan.registry.replace(/[^a-zA-Z0-9.-]+/g, "_");
  const base = join(dir, `${stamp}_${input.mode}_${registry}_${plan.delete.length}_manifests`);
  // Two runs in the same second must never overwrite each other's record.
  for (let n = 0; ; n++) {
    const path = n === 0 ? `${base}.json` : `${base}_${n}.json`;
    try {
      await writeNewJsonFile(path, record);
      return path;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || n > 100) throw error;
    }
  }
}

/** A view of `list` through `f`, one entry at a time, that can be walked more than once. */
function lazyMap<T, U>(list: readonly T[], f: (item: T) => U): Iterable<U> {
  return {
    *[Symbol.iterator]() {
      for (const item of list) yield f(item);
    },
  };
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? "unknown";
  }
}

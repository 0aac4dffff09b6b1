import PQueue from "p-queue";
import type { Digest } from "../oci/digest.js";
import type { DeleteEntry, Plan } from "../plan/plan-schema.js";
import { type Registry, RegistryError } from "../registry/types.js";

export type ItemStatus = "deleted" | "already-gone" | "skipped" | "failed";

export interface ItemResult {
  readonly repository: string;
  readonly digest: Digest;
  readonly status: ItemStatus;
  readonly detail?: string;
  readonly at: string;
}

export interface ExecuteOptions {
  readonly concurrency?: number;
  readonly onResult?: (result: ItemResult) => void;
  readonly now?: () => Date;
}

/**
 * Deletes what a plan lists, repository by repository, in the plan's order. Before each deletion
 * the live registry must still agree with the plan: every tag still on the planned digest. A
 * changed item is skipped, and so is everything whose deletion depended on it (the children of
 * an index that stays, the subject of a referrer that stays). One failure never stops the rest;
 * a registry that refuses deletes altogether stops the run at once.
 */
export async function executePlan(
  plan: Plan,
  registry: Registry,
  options: ExecuteOptions = {},
): Promise<ItemResult[]> {
  const now = options.now ?? (() => new Date());
  const results: ItemResult[] = [];
  const record = (entry: DeleteEntry, status: ItemStatus, detail?: string) => {
    const r: ItemResult = {
      repository: entry.repository,
      digest: entry.digest as Digest,
      status,
      ...(detail ? { detail } : {}),
      at: now().toISOString(),
    };
    results.push(r);
    options.onResult?.(r);
  };
  const byRepo = new Map<string, DeleteEntry[]>();
  for (const e of plan.delete) byRepo.set(e.repository, [...(byRepo.get(e.repository) ?? []), e]);

  let refused: RegistryError | undefined;
  const queue = new PQueue({ concurrency: options.concurrency ?? 4 });
  await Promise.all(
    [...byRepo].map(([, entries]) =>
      queue.add(async () => {
        const heldBack = new Map<string, string>(); // digest -> why it must not go
        for (const entry of entries) {
          if (refused) return;
          const why = heldBack.get(entry.digest);
          if (why) {
            record(entry, "skipped", why);
            continue;
          }
          let status: ItemStatus;
          let detail: string | undefined;
          try {
            const drift = await driftSincePlan(registry, entry);
            if (drift) {
              status = "skipped";
              detail = drift;
            } else {
              status =
                (await registry.deleteManifest(entry.repository, entry.digest as Digest)) === "deleted"
                  ? "deleted"
                  : "already-gone";
            }
          } catch (error) {
            if (error instanceof RegistryError && error.code === "deletes-disabled") {
              refused = error;
              record(entry, "failed", error.message);
              return;
            }
            status = "failed";
            detail = (error as Error).message;
          }
          record(entry, status, detail);
          if (status === "skipped" || status === "failed") {
            const because = `held back: ${entry.digest.slice(0, 19)} was ${status}`;
            for (const child of entry.children ?? []) heldBack.set(child, because);
            if (entry.subject) heldBack.set(entry.subject, because);
          }
        }
      }),
    ),
  );
  if (refused) throw refused;
  return results;
}

/** Why the live registry no longer matches the plan for this entry, or undefined when it does. */
async function driftSincePlan(registry: Registry, entry: DeleteEntry): Promise<string | undefined> {
  for (const tag of entry.tags) {
    const head = await registry.headManifest(entry.repository, tag);
    if (head && head.digest !== entry.digest) return `tag ${tag} now points at ${head.digest}`;
  }
  return undefined;
}

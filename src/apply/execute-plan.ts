import PQueue from "p-queue";
import type { Digest } from "../oci/digest.js";
import type { DeleteEntry, Plan } from "../plan/plan-schema.js";
import { type Registry, RegistryError } from "../registry/types.js";
import type { BackupTarget } from "./backup/backup-target.js";
import type { Journal } from "./journal.js";
import { type LiveTags, tagDrift } from "./live-tags.js";

export type ItemStatus = "deleted" | "already-gone" | "skipped" | "failed";

export interface ItemResult {
  readonly repository: string;
  readonly digest: Digest;
  readonly status: ItemStatus;
  readonly detail?: string;
  readonly at: string;
  /** True when a previous, interrupted run did this and the journal says so. */
  readonly fromJournal?: boolean;
  readonly backedUp?: boolean;
}

export interface ExecuteOptions {
  readonly concurrency?: number;
  readonly onResult?: (result: ItemResult) => void;
  readonly now?: () => Date;
  /** Where each manifest is copied, and verified, before it is deleted. */
  readonly backup?: BackupTarget;
  readonly journal?: Journal;
  /** Tags as they are now (see readLiveTags); without it only the planned tags are re-checked. */
  readonly liveTags?: LiveTags;
  /** `repo@digest` → why it must stay: newly in use since the plan (see newlyProtected). */
  readonly heldBack?: ReadonlyMap<string, string>;
  /** Set by Ctrl+C: no new item starts; the ones in flight finish and are journaled. */
  readonly stopSignal?: { readonly stopped: boolean };
}

export interface ExecuteOutcome {
  readonly results: ItemResult[];
  readonly interrupted: boolean;
}

/**
 * Deletes what a plan lists, repository by repository, in the plan's order. Before each deletion
 * the live registry must still agree with the plan (no tag moved onto or off the digest) and the
 * digest must not have become in use; a backup, when asked for, must be complete and verified. A
 * changed item is skipped, and so is everything whose deletion depended on it (the children of an
 * index that stays, the subject of a referrer that stays). Every step is journaled before the next
 * begins. One failure never stops the rest; a registry that refuses deletes stops the run at once.
 */
export async function executePlan(
  plan: Plan,
  registry: Registry,
  options: ExecuteOptions = {},
): Promise<ExecuteOutcome> {
  const now = options.now ?? (() => new Date());
  const journal = options.journal;
  const results: ItemResult[] = [];
  const record = (
    entry: DeleteEntry,
    status: ItemStatus,
    extra: { detail?: string; fromJournal?: boolean; backedUp?: boolean } = {},
  ) => {
    const at = now().toISOString();
    if (!extra.fromJournal) {
      journal?.append({
        at,
        step: status,
        repository: entry.repository,
        digest: entry.digest,
        ...(extra.detail ? { detail: extra.detail } : {}),
      });
    }
    const r: ItemResult = {
      repository: entry.repository,
      digest: entry.digest as Digest,
      status,
      at,
      ...clean(extra),
    };
    results.push(r);
    options.onResult?.(r);
  };
  const byRepo = new Map<string, DeleteEntry[]>();
  for (const e of plan.delete) byRepo.set(e.repository, [...(byRepo.get(e.repository) ?? []), e]);

  let refused: RegistryError | undefined;
  let interrupted = false;
  const queue = new PQueue({ concurrency: options.concurrency ?? 4 });
  await Promise.all(
    [...byRepo].map(([repository, entries]) =>
      queue.add(async () => {
        const heldBack = new Map<string, string>(); // digest -> why it must not go
        for (const entry of entries) {
          if (refused) return;
          if (options.stopSignal?.stopped) {
            interrupted = true;
            return;
          }
          const done = journal?.isFinished(entry.repository, entry.digest);
          if (done) {
            record(entry, done.step as ItemStatus, {
              ...(done.detail ? { detail: done.detail } : {}),
              fromJournal: true,
            });
            holdDependants(entry, done.step as ItemStatus, heldBack);
            continue;
          }
          const why =
            heldBack.get(entry.digest) ??
            options.heldBack?.get(`${entry.repository}@${entry.digest}`) ??
            tagDrift(options.liveTags?.get(repository), entry.digest, entry.tags);
          if (why) {
            record(entry, "skipped", { detail: why });
            holdDependants(entry, "skipped", heldBack);
            continue;
          }
          let status: ItemStatus;
          let detail: string | undefined;
          let backedUp = false;
          try {
            // The live tag map is a snapshot from the start of the run: right before deleting,
            // every planned tag must still point here (a long run gives others time to push).
            const drift = await driftOfPlannedTags(registry, entry);
            if (drift) {
              record(entry, "skipped", { detail: drift });
              holdDependants(entry, "skipped", heldBack);
              continue;
            }
            if (options.backup) {
              backedUp = await backUp(options.backup, registry, entry, journal, now);
            }
            status =
              (await registry.deleteManifest(entry.repository, entry.digest as Digest)) === "deleted"
                ? "deleted"
                : "already-gone";
          } catch (error) {
            if (error instanceof RegistryError && error.code === "deletes-disabled") {
              refused = error;
              record(entry, "failed", { detail: error.message, backedUp });
              return;
            }
            status = "failed";
            detail = (error as Error).message;
          }
          record(entry, status, { ...(detail ? { detail } : {}), backedUp });
          holdDependants(entry, status, heldBack);
        }
      }),
    ),
  );
  if (refused) throw refused;
  return { results, interrupted };
}

/** A skipped or failed item keeps what its deletion would have released. */
function holdDependants(entry: DeleteEntry, status: ItemStatus, heldBack: Map<string, string>): void {
  if (status !== "skipped" && status !== "failed") return;
  const because = `held back: ${entry.digest.slice(0, 19)} was ${status}`;
  for (const child of entry.children ?? []) if (!heldBack.has(child)) heldBack.set(child, because);
  if (entry.subject && !heldBack.has(entry.subject)) heldBack.set(entry.subject, because);
}

/** Backs the manifest up unless the journal says a previous run already did; a failure means no deletion. */
async function backUp(
  target: BackupTarget,
  registry: Registry,
  entry: DeleteEntry,
  journal: Journal | undefined,
  now: () => Date,
): Promise<boolean> {
  if (journal?.isBackedUp(entry.repository, entry.digest)) return true;
  try {
    await target.backup(
      { repository: entry.repository, digest: entry.digest as Digest, tags: entry.tags },
      registry,
    );
  } catch (error) {
    throw new Error(
      `backup to ${target.description} failed, so it was not deleted: ${(error as Error).message}`,
      { cause: error },
    );
  }
  journal?.append({
    at: now().toISOString(),
    step: "backed-up",
    repository: entry.repository,
    digest: entry.digest,
    detail: target.description,
  });
  return true;
}

/** Every planned tag must still point at the planned digest. */
async function driftOfPlannedTags(registry: Registry, entry: DeleteEntry): Promise<string | undefined> {
  for (const tag of entry.tags) {
    const head = await registry.headManifest(entry.repository, tag);
    if (head && head.digest !== entry.digest) return `tag ${tag} now points at ${head.digest}`;
  }
  return undefined;
}

function clean<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== false)) as T;
}

import PQueue from "p-queue";
import { RegistryError } from "../errors.js";
import type { Digest } from "../oci/digest.js";
import { deletionGroups } from "../plan/deletion-groups.js";
import type { DeleteEntry, Plan, UntagEntry } from "../plan/plan-schema.js";
import type { Registry } from "../registry/types.js";
import type { BackupTarget } from "./backup/backup-target.js";
import type { Journal } from "./journal.js";
import { LiveTags, tagDrift } from "./live-tags.js";

export type ItemStatus = "deleted" | "untagged" | "already-gone" | "skipped" | "failed";

export interface ItemResult {
  readonly repository: string;
  readonly digest: Digest;
  /** Set for a tag removed (plan.untag[]): the result is the tag's; the manifest stays. */
  readonly tag?: string;
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
  /** `repo@digest` → why it must stay: newly in use since the plan (see newlyProtected). */
  readonly heldBack?: ReadonlyMap<string, string>;
  /** `repo:tag` → who references that tag now: such a tag is never removed. */
  readonly tagsInUse?: ReadonlyMap<string, string>;
  /** Aborted by Ctrl+C or the caller: no new group starts; the ones in flight finish and are journaled. */
  readonly stopSignal?: AbortSignal;
}

export interface ExecuteOutcome {
  readonly results: ItemResult[];
  readonly interrupted: boolean;
}

/**
 * Deletes what a plan lists, repository by repository, group by group (a subject with its
 * referrers, an index with its children), each in the plan's order: subject and index first, so a
 * stop at any point leaves only garbage. Right before a group's first deletion the whole group is
 * re-checked against the live registry — the repository's tag list read again, new tags and the
 * planned ones read by GET — and against what became in use; if any member changed, the whole
 * group stays. Once a member is not deleted (skipped, failed), the rest of its group stays too. A
 * backup, when asked for, must be complete and verified before each deletion. Every step is
 * journaled before the next begins. One failed deletion never stops other groups; a registry that
 * refuses deletes, or whose tags cannot be read again, stops the run at once.
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
    entry: { readonly repository: string; readonly digest: string; readonly tag?: string },
    status: ItemStatus,
    extra: { detail?: string; fromJournal?: boolean; backedUp?: boolean } = {},
  ) => {
    const at = now().toISOString();
    const tag = "tag" in entry && entry.tag !== undefined ? { tag: entry.tag } : {};
    if (!extra.fromJournal) {
      journal?.append({
        at,
        step: status,
        repository: entry.repository,
        digest: entry.digest,
        ...tag,
        ...(extra.detail ? { detail: extra.detail } : {}),
      });
    }
    const r: ItemResult = {
      repository: entry.repository,
      digest: entry.digest as Digest,
      ...tag,
      status,
      at,
      ...clean(extra),
    };
    results.push(r);
    options.onResult?.(r);
  };
  const byRepo = new Map<string, DeleteEntry[]>();
  for (const e of plan.delete) byRepo.set(e.repository, [...(byRepo.get(e.repository) ?? []), e]);
  const untagsOf = new Map<string, UntagEntry[]>();
  for (const u of plan.untag ?? []) {
    untagsOf.set(u.repository, [...(untagsOf.get(u.repository) ?? []), u]);
    if (!byRepo.has(u.repository)) byRepo.set(u.repository, []);
  }

  let refused: RegistryError | undefined;
  let stopped: Error | undefined;
  let interrupted = false;

  /** Deletes one group, or none of it. */
  const runGroup = async (group: readonly DeleteEntry[], live: LiveTags): Promise<void> => {
    const pending: DeleteEntry[] = [];
    let stay: string | undefined; // why the rest of the group must stay
    for (const entry of group) {
      const done = journal?.isFinished(entry.repository, entry.digest);
      if (!done) {
        pending.push(entry);
        continue;
      }
      record(entry, done.step as ItemStatus, {
        ...(done.detail ? { detail: done.detail } : {}),
        fromJournal: true,
      });
      if (done.step === "skipped" || done.step === "failed") stay ??= heldBy(entry, done.step);
    }
    if (pending.length === 0) return;
    const holdAll = (why: string, own?: ReadonlyMap<DeleteEntry, string>) => {
      for (const entry of pending) record(entry, "skipped", { detail: own?.get(entry) ?? why });
    };
    if (stay) return holdAll(stay);

    // The group is checked as a whole, right before its first deletion.
    await live.refresh(pending.flatMap((e) => e.tags));
    const reasons = new Map<DeleteEntry, string>();
    for (const entry of pending) {
      const why =
        options.heldBack?.get(`${entry.repository}@${entry.digest}`) ??
        tagDrift(live.tags, entry.digest, entry.tags) ??
        (await lockedNow(registry, entry));
      if (why) reasons.set(entry, why);
    }
    const [first] = reasons;
    if (first) return holdAll(heldBy(first[0], `skipped (${first[1]})`), reasons);

    for (const [i, entry] of pending.entries()) {
      if (refused || stopped) return;
      let status: ItemStatus;
      let detail: string | undefined;
      let backedUp = false;
      try {
        if (options.backup) backedUp = await backUp(options.backup, registry, entry, journal, now);
        status =
          (await registry.deleteManifest(entry.repository, entry.digest as Digest)) === "deleted"
            ? "deleted"
            : "already-gone";
      } catch (error) {
        status = "failed";
        detail = (error as Error).message;
        if (error instanceof RegistryError && error.code === "deletes-disabled") refused = error;
      }
      record(entry, status, { ...(detail ? { detail } : {}), backedUp });
      if (status === "failed") {
        const why = heldBy(entry, "failed");
        for (const rest of pending.slice(i + 1)) record(rest, "skipped", { detail: why });
        return;
      }
    }
  };

  /** Removes one tag, the manifest staying, once the tag still names the planned digest and nothing uses it. */
  const runUntag = async (entry: UntagEntry, live: LiveTags): Promise<void> => {
    const done = journal?.isFinished(entry.repository, entry.digest, entry.tag);
    if (done) {
      record(entry, done.step as ItemStatus, {
        ...(done.detail ? { detail: done.detail } : {}),
        fromJournal: true,
      });
      return;
    }
    await live.refresh([entry.tag]);
    const now = live.tags.get(entry.tag);
    const why =
      options.tagsInUse?.get(`${entry.repository}:${entry.tag}`) ??
      (now && now !== entry.digest ? `tag ${entry.tag} now points at ${now}` : undefined);
    if (why) return record(entry, "skipped", { detail: why });
    if (!now) return record(entry, "already-gone", { detail: `tag ${entry.tag} is gone already` });
    try {
      const outcome = await registry.untag(entry.repository, entry.tag);
      record(entry, outcome === "deleted" ? "untagged" : "already-gone");
    } catch (error) {
      if (error instanceof RegistryError && error.code === "unsupported") refused = error;
      record(entry, "failed", { detail: (error as Error).message });
    }
  };

  const queue = new PQueue({ concurrency: options.concurrency ?? 4 });
  await Promise.all(
    [...byRepo].map(([repository, entries]) =>
      queue.add(async () => {
        const live = new LiveTags(registry, repository);
        for (const group of deletionGroups(entries)) {
          if (refused || stopped) return;
          if (options.stopSignal?.aborted) {
            interrupted = true;
            return;
          }
          try {
            await runGroup(group, live);
          } catch (error) {
            // The live registry could not be read (a listing that cannot be completed, a registry
            // gone): nothing more is deleted anywhere; the journal lets a later run resume.
            stopped ??= error as Error;
            return;
          }
        }
        for (const entry of untagsOf.get(repository) ?? []) {
          if (refused || stopped) return;
          if (options.stopSignal?.aborted) {
            interrupted = true;
            return;
          }
          try {
            await runUntag(entry, live);
          } catch (error) {
            stopped ??= error as Error;
            return;
          }
        }
      }),
    ),
  );
  if (refused) throw refused;
  if (stopped) throw stopped;
  return { results, interrupted };
}

/**
 * Why a planned manifest is locked now, by the registry's single reads of the manifest and of
 * each of its tags (ACR); undefined when nothing is locked or the registry has no locks.
 */
async function lockedNow(registry: Registry, entry: DeleteEntry): Promise<string | undefined> {
  if (!registry.liveLocks) return undefined;
  const locks = await registry.liveLocks(entry.repository, entry.digest as Digest, entry.tags);
  if (locks.manifest) return "locked: the registry now marks the manifest locked (delete or write disabled)";
  if (locks.tags.length > 0)
    return `locked: tag ${locks.tags.join(", ")} is locked (delete or write disabled)`;
  return undefined;
}

/**
 * Why the rest of a group stays once one of its members did not go. A hold caused by a failure
 * starts with "held back:", which --retry-failed reopens; a hold caused by drift stays.
 */
function heldBy(entry: DeleteEntry, what: string): string {
  return what === "failed"
    ? `held back: ${entry.digest.slice(0, 19)} of its group failed`
    : `held back with its group: ${entry.digest.slice(0, 19)} was ${what}`;
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

function clean<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== false)) as T;
}

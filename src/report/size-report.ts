import type { DeleteEntry, KeepEntry, Plan } from "../plan/plan-schema.js";

export type SizeReportBy = "image" | "repository" | "owner";

export const UNKNOWN_OWNER = "(unknown owner)";

export interface SizeReportRow {
  /** `repository@digest` (by image), the repository, or the owner. */
  readonly group: string;
  /** By image: the manifest's tags. */
  readonly tags?: readonly string[];
  /** Manifests in the group, kept and deleted. */
  readonly images: number;
  readonly deleteImages: number;
  /** Every distinct blob (manifest bodies, configs, layers) the group's manifests hold, once each. */
  readonly totalBytes: number;
  /**
   * Blobs the plan frees that, among everything deleted, only this group's manifests hold: what
   * deleting this group's images alone would free, the plan's kept images staying.
   */
  readonly freedBytes: number;
  /**
   * Blobs the plan frees that this group's deleted manifests share with other groups' deleted
   * manifests: freed only because those go too, so no single group is credited with them.
   */
  readonly sharedFreedBytes: number;
}

export interface SizeReport {
  readonly by: SizeReportBy;
  readonly registry: string;
  /** Largest freedBytes first. */
  readonly rows: readonly SizeReportRow[];
  /**
   * The whole plan, each blob once: `freedBytes` is what the plan frees (equal to the plan's
   * `summary.reclaimableBytes`), the groups' own freed bytes plus the blobs shared among groups.
   */
  readonly total: Omit<SizeReportRow, "group" | "tags">;
}

type Entry = (DeleteEntry | KeepEntry) & { readonly deleted: boolean };

/** A plan without blob lists cannot say which layers are shared: it must be made again. */
export class MissingBlobsError extends Error {
  override name = "MissingBlobsError";
}

/**
 * Shared-layer-aware sizes per image, repository or owner. Pure. A blob is freed when a deleted
 * manifest holds it and no kept manifest in the plan does; each freed blob is credited to the one
 * group whose deleted manifests alone hold it, or else counted as shared among groups.
 */
export function sizeReport(plan: Plan, by: SizeReportBy): SizeReport {
  const entries: Entry[] = [
    ...plan.delete.map((e) => ({ ...e, deleted: true })),
    ...plan.keep.map((e) => ({ ...e, deleted: false })),
  ];
  const missing = entries.find((e) => e.blobs === undefined);
  if (missing) {
    throw new MissingBlobsError(
      `${missing.repository}@${missing.digest} has no blob list: the plan predates size reports`,
    );
  }
  const keyOf = (e: Entry) =>
    by === "image"
      ? `${e.repository}@${e.digest}`
      : by === "repository"
        ? e.repository
        : (e.owner ?? UNKNOWN_OWNER);

  const sizes = new Map<string, number>();
  const stillNeeded = new Set<string>();
  /** Freed blob → the groups whose deleted manifests hold it. */
  const freedBy = new Map<string, Set<string>>();
  for (const e of entries) {
    for (const b of e.blobs ?? []) {
      sizes.set(b.digest, b.size);
      if (!e.deleted) stillNeeded.add(b.digest);
    }
  }
  for (const e of entries) {
    if (!e.deleted) continue;
    for (const b of e.blobs ?? []) {
      if (stillNeeded.has(b.digest)) continue;
      const groups = freedBy.get(b.digest) ?? new Set<string>();
      groups.add(keyOf(e));
      freedBy.set(b.digest, groups);
    }
  }

  const groups = new Map<string, { entries: Entry[]; blobs: Set<string>; tags?: string[] }>();
  for (const e of entries) {
    const key = keyOf(e);
    const g = groups.get(key) ?? { entries: [], blobs: new Set<string>() };
    g.entries.push(e);
    for (const b of e.blobs ?? []) g.blobs.add(b.digest);
    if (by === "image") g.tags = [...e.tags];
    groups.set(key, g);
  }
  const sum = (digests: Iterable<string>) => {
    let total = 0;
    for (const d of digests) total += sizes.get(d) ?? 0;
    return total;
  };

  const rows: SizeReportRow[] = [...groups].map(([group, g]) => {
    const freed = [...g.blobs].filter((d) => freedBy.get(d)?.has(group));
    const own = freed.filter((d) => freedBy.get(d)?.size === 1);
    return {
      group,
      ...(g.tags ? { tags: g.tags } : {}),
      images: g.entries.length,
      deleteImages: g.entries.filter((e) => e.deleted).length,
      totalBytes: sum(g.blobs),
      freedBytes: sum(own),
      sharedFreedBytes: sum(freed) - sum(own),
    };
  });
  rows.sort(
    (a, b) => b.freedBytes - a.freedBytes || b.totalBytes - a.totalBytes || a.group.localeCompare(b.group),
  );
  const shared = [...freedBy].filter(([, g]) => g.size > 1).map(([d]) => d);
  return {
    by,
    registry: plan.registry,
    rows,
    total: {
      images: entries.length,
      deleteImages: plan.delete.length,
      totalBytes: sum(sizes.keys()),
      freedBytes: sum(freedBy.keys()),
      sharedFreedBytes: sum(shared),
    },
  };
}

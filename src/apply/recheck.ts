import type { Digest } from "../oci/digest.js";
import type { DeleteEntry } from "../plan/plan-schema.js";
import type { InUseIndex } from "../usage/resolve.js";

/**
 * Planned deletions that became protected since the plan: a digest now in use, every planned index
 * listing a digest now in use, the planned children of an index now in use, and the planned
 * referrers of a subject now in use. Pure: what to hold back, and why.
 */
export function newlyProtected(entries: readonly DeleteEntry[], inUse: InUseIndex): Map<string, string> {
  const held = new Map<string, string>();
  const key = (repo: string, digest: string) => `${repo}@${digest}`;
  const hold = (repo: string, digest: string, why: string) => {
    if (!held.has(key(repo, digest))) held.set(key(repo, digest), why);
  };
  const byRepo = new Map<string, DeleteEntry[]>();
  for (const e of entries) byRepo.set(e.repository, [...(byRepo.get(e.repository) ?? []), e]);
  for (const [repo, list] of byRepo) {
    const used = inUse.get(repo);
    if (!used) continue;
    const isUsed = (d: string) => used.has(d as Digest);
    let changed = true;
    while (changed) {
      changed = false;
      for (const e of list) {
        if (held.has(key(repo, e.digest))) continue;
        const users = used.get(e.digest as Digest);
        let why: string | undefined;
        if (users?.length) why = `now in use: ${users.map((u) => u.source).join("; ")}`;
        else if ((e.children ?? []).some((c) => isUsed(c) || held.has(key(repo, c))))
          why = "lists a manifest now in use";
        else if (
          list.some((p) => held.has(key(repo, p.digest)) && (p.children ?? []).includes(e.digest as never))
        ) {
          why = "listed by an index now kept";
        } else if (e.subject && (isUsed(e.subject) || held.has(key(repo, e.subject))))
          why = "refers to a subject now in use";
        if (why) {
          hold(repo, e.digest, why);
          changed = true;
        }
      }
    }
  }
  return held;
}

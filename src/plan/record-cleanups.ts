import type { Digest } from "../oci/digest.js";
import type { RecordIndex } from "../usage/resolve.js";
import type { RecordCleanup } from "../usage/usage.js";
import type { DeleteEntry, RecordCleanupEntry } from "./plan-schema.js";

/**
 * The database changes a plan would make: a clean-up is planned only when every image carrying it
 * is planned for deletion (an environment is archived only once its active revision goes). Pure.
 */
export function recordCleanups(
  records: RecordIndex,
  deletions: readonly DeleteEntry[],
): RecordCleanupEntry[] {
  // Without records there is nothing to clean up, and no key per deletion to build.
  if (records.size === 0) return [];
  const deleted = new Set(deletions.map((d) => `${d.repository}@${d.digest}`));
  const byCleanup = new Map<
    string,
    { cleanup: RecordCleanup; record: string; images: Map<string, { repository: string; digest: Digest }> }
  >();
  for (const [repository, digests] of records) {
    for (const [digest, list] of digests) {
      for (const r of list) {
        if (!r.cleanup) continue;
        const c = r.cleanup;
        const key = JSON.stringify([c.source, c.database, c.collection, c.id, c.change]);
        const group = byCleanup.get(key) ?? {
          cleanup: c,
          record: `${c.source} ${c.database}.${c.collection} ${c.id}`,
          images: new Map(),
        };
        byCleanup.set(key, group);
        group.images.set(`${repository}@${digest}`, { repository, digest });
      }
    }
  }
  const out: RecordCleanupEntry[] = [];
  for (const { cleanup, record, images } of byCleanup.values()) {
    if (![...images.keys()].every((k) => deleted.has(k))) continue;
    out.push({ ...cleanup, change: { ...cleanup.change }, record, images: [...images.values()] });
  }
  return out.sort((a, b) => a.record.localeCompare(b.record));
}

import type { Inventory } from "../inventory/graph.js";
import { canonicalHost, formatReference } from "../oci/reference.js";
import type { ImageRecord } from "./usage.js";

/** A database record naming an image this registry does not have (the Domino cleaner's unused references). */
export interface UnusedReference {
  readonly reference: string;
  readonly record: string;
}

/**
 * Records whose tag the scanned registry lacks. Only repositories the scan read are judged, and a
 * scan whose listing could not be completed has already failed, so a listing error can never make
 * a record look unused. Digest references are not judged: a registry that cannot list untagged
 * manifests may hold them unseen. Pure.
 */
export function unusedReferences(
  inventory: Inventory,
  records: readonly ImageRecord[],
  scanned: (repository: string) => boolean,
  aliases: readonly string[] = [],
): UnusedReference[] {
  const hosts = new Set([inventory.registry, ...aliases].map(canonicalHost));
  const tags = new Map(
    inventory.repositories.map((r) => [r.name, new Set(r.manifests.flatMap((m) => m.tags))]),
  );
  const seen = new Set<string>();
  const out: UnusedReference[] = [];
  for (const r of records) {
    const ref = r.reference;
    if (ref.tag === undefined || ref.digest !== undefined || !hosts.has(canonicalHost(ref.host))) continue;
    if (!scanned(ref.repository) || tags.get(ref.repository)?.has(ref.tag)) continue;
    const reference = formatReference(ref);
    const key = `${r.record} ${reference}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ reference, record: r.record });
  }
  return out.sort((a, b) => a.record.localeCompare(b.record) || a.reference.localeCompare(b.reference));
}

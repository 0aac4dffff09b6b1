import { type Digest, isDigest } from "../../oci/digest.js";
import type { BackupEntry } from "./layout-index.js";

/** A `--image` argument: `REPO@sha256:…` or `REPO:TAG`, as recorded in the backup (no registry host). */
export type ImageSelector =
  | { readonly text: string; readonly repository: string; readonly digest: Digest }
  | { readonly text: string; readonly repository: string; readonly tag: string };

export function parseImageSelector(text: string): ImageSelector {
  const at = text.indexOf("@");
  if (at > 0) {
    const digest = text.slice(at + 1);
    if (!isDigest(digest)) throw new Error(`--image ${text}: ${digest} is not a sha256:<64 hex> digest`);
    return { text, repository: text.slice(0, at), digest };
  }
  const colon = text.lastIndexOf(":");
  // A colon before the last slash belongs to a host:port, not to a tag.
  if (colon > 0 && colon > text.lastIndexOf("/") && colon < text.length - 1) {
    return { text, repository: text.slice(0, colon), tag: text.slice(colon + 1) };
  }
  throw new Error(`--image ${text}: expected REPO@sha256:<digest> or REPO:TAG`);
}

/**
 * The entries the selectors name, in backup order, each once. `REPO:TAG` picks the most recently
 * recorded entry carrying that tag (a tag may have named different digests in different runs).
 * A selector that matches nothing is an error naming it, never a silent no-op.
 */
export function selectEntries(
  entries: readonly BackupEntry[],
  selectors: readonly string[] | undefined,
): BackupEntry[] {
  if (!selectors || selectors.length === 0) return [...entries];
  const chosen = new Set<BackupEntry>();
  const unmatched: string[] = [];
  for (const s of selectors.map(parseImageSelector)) {
    const match =
      "digest" in s
        ? entries.find((e) => e.repository === s.repository && e.digest === s.digest)
        : entries.findLast((e) => e.repository === s.repository && e.tags.includes(s.tag));
    if (match) chosen.add(match);
    else unmatched.push(s.text);
  }
  if (unmatched.length) {
    throw new Error(
      `not in the backup: ${unmatched.join(", ")} (repository names are as recorded, without the registry host)`,
    );
  }
  return entries.filter((e) => chosen.has(e));
}

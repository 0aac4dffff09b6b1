import type { Digest } from "../../oci/digest.js";
import {
  type ImageIndex,
  type LayoutDescriptor,
  parseImageIndex,
  REF_NAME_ANNOTATION,
  serializeImageIndex,
} from "../../oci/image-layout.js";

/** Annotations on each index.json descriptor; the README documents them. */
export const Annotation = {
  repository: "io.regsweep.repository",
  tags: "io.regsweep.tags",
  refName: REF_NAME_ANNOTATION,
} as const;

/** One backed-up top-level manifest: the (repository, digest) pair index.json records. */
export interface BackupEntry {
  readonly repository: string;
  readonly digest: Digest;
  readonly mediaType: string;
  readonly size: number;
  readonly tags: readonly string[];
}

/**
 * A backup's index.json as a list of entries. Descriptors without our repository annotation (a
 * layout some other tool also writes to) are kept verbatim in `foreign`, so rewriting the index
 * never drops them.
 */
export interface BackupIndex {
  readonly entries: readonly BackupEntry[];
  readonly foreign: readonly LayoutDescriptor[];
}

export const EMPTY_BACKUP_INDEX: BackupIndex = { entries: [], foreign: [] };

export function entryKey(e: { repository: string; digest: string }): string {
  return `${e.repository}@${e.digest}`;
}

export function backupIndexOf(index: ImageIndex): BackupIndex {
  const entries: BackupEntry[] = [];
  const foreign: LayoutDescriptor[] = [];
  for (const d of index.manifests) {
    const repository = d.annotations?.[Annotation.repository];
    if (!repository) {
      foreign.push(d);
      continue;
    }
    const tags = d.annotations?.[Annotation.tags] ?? "";
    entries.push({
      repository,
      digest: d.digest,
      mediaType: d.mediaType,
      size: d.size,
      tags: tags ? tags.split(",") : [],
    });
  }
  return { entries, foreign };
}

/** Foreign descriptors first, then ours in the order they were recorded. */
export function imageIndexOf(index: BackupIndex): ImageIndex {
  return {
    manifests: [
      ...index.foreign,
      ...index.entries.map(
        (e): LayoutDescriptor => ({
          mediaType: e.mediaType,
          digest: e.digest,
          size: e.size,
          annotations: {
            [Annotation.repository]: e.repository,
            [Annotation.tags]: e.tags.join(","),
            ...(e.tags[0] ? { [Annotation.refName]: `${e.repository}:${e.tags[0]}` } : {}),
          },
        }),
      ),
    ],
  };
}

export function parseBackupIndex(bytes: Uint8Array, where: string): BackupIndex {
  return backupIndexOf(parseImageIndex(bytes, where));
}

export function serializeBackupIndex(index: BackupIndex): Buffer {
  return serializeImageIndex(imageIndexOf(index));
}

/** Adds or replaces the entry for (repository, digest); a re-recorded entry moves last (most recent). */
export function withEntry(index: BackupIndex, entry: BackupEntry): BackupIndex {
  const key = entryKey(entry);
  return { ...index, entries: [...index.entries.filter((e) => entryKey(e) !== key), entry] };
}

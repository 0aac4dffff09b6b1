import { z } from "zod";
import { type Digest, isDigest } from "../../oci/digest.js";
import { MediaType } from "../../oci/media-types.js";

/** Annotations on each index.json descriptor; the README documents them. */
export const Annotation = {
  repository: "io.regsweep.repository",
  tags: "io.regsweep.tags",
  refName: "org.opencontainers.image.ref.name",
} as const;

/** One backed-up top-level manifest: the (repository, digest) pair index.json records. */
export interface BackupEntry {
  readonly repository: string;
  readonly digest: Digest;
  readonly mediaType: string;
  readonly size: number;
  readonly tags: readonly string[];
}

const descriptorSchema = z
  .object({
    mediaType: z.string(),
    digest: z.string().refine(isDigest, "not a sha256 digest"),
    size: z.number().int().nonnegative(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .passthrough();
type RawDescriptor = z.infer<typeof descriptorSchema>;

const indexSchema = z.object({
  schemaVersion: z.literal(2),
  manifests: z.array(descriptorSchema).default([]),
});

/**
 * index.json as a list of entries. Descriptors without our repository annotation (a layout some
 * other tool also writes to) are kept verbatim in `foreign`, so rewriting the index never drops them.
 */
export interface LayoutIndex {
  readonly entries: readonly BackupEntry[];
  readonly foreign: readonly RawDescriptor[];
}

export const EMPTY_INDEX: LayoutIndex = { entries: [], foreign: [] };

export function entryKey(e: { repository: string; digest: string }): string {
  return `${e.repository}@${e.digest}`;
}

export function parseLayoutIndex(bytes: Uint8Array, where: string): LayoutIndex {
  let raw: z.infer<typeof indexSchema>;
  try {
    raw = indexSchema.parse(JSON.parse(Buffer.from(bytes).toString("utf8")));
  } catch (error) {
    throw new Error(`${where}/index.json is not an OCI image index: ${(error as Error).message}`);
  }
  const entries: BackupEntry[] = [];
  const foreign: RawDescriptor[] = [];
  for (const d of raw.manifests) {
    const repository = d.annotations?.[Annotation.repository];
    if (!repository) {
      foreign.push(d);
      continue;
    }
    const tags = d.annotations?.[Annotation.tags] ?? "";
    entries.push({
      repository,
      digest: d.digest as Digest,
      mediaType: d.mediaType,
      size: d.size,
      tags: tags ? tags.split(",") : [],
    });
  }
  return { entries, foreign };
}

export function serializeLayoutIndex(index: LayoutIndex): Buffer {
  const manifests = [
    ...index.foreign,
    ...index.entries.map((e) => ({
      mediaType: e.mediaType,
      digest: e.digest,
      size: e.size,
      annotations: {
        [Annotation.repository]: e.repository,
        [Annotation.tags]: e.tags.join(","),
        ...(e.tags[0] ? { [Annotation.refName]: `${e.repository}:${e.tags[0]}` } : {}),
      },
    })),
  ];
  return Buffer.from(
    `${JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }, null, 2)}\n`,
  );
}

/** Adds or replaces the entry for (repository, digest); a re-recorded entry moves last (most recent). */
export function withEntry(index: LayoutIndex, entry: BackupEntry): LayoutIndex {
  const key = entryKey(entry);
  return { ...index, entries: [...index.entries.filter((e) => entryKey(e) !== key), entry] };
}

export const OCI_LAYOUT_FILE = Buffer.from(`${JSON.stringify({ imageLayoutVersion: "1.0.0" })}\n`);

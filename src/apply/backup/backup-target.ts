import type { Digest } from "../../oci/digest.js";
import { ImageLayoutDir } from "../../oci/image-layout.js";
import type { RegistryReader } from "../../registry/types.js";
import { openArchiveTarget } from "./archive-target.js";
import { describeDestination, parseBackupDestination } from "./destination.js";
import { LayoutWriter } from "./layout-writer.js";
import { createS3Client, type S3Options, S3Store } from "./s3-store.js";

export interface BackupItem {
  readonly repository: string;
  readonly digest: Digest;
  readonly tags: readonly string[];
}

export interface BackupTarget {
  /** e.g. "dir:/backups"; never contains credentials. */
  readonly description: string;
  /**
   * Copies the manifest whole — the manifest, for an index every child manifest (recursively),
   * every config and layer blob — then verifies it (re-reads every blob and manifest from the
   * backup and checks its sha256 and size) and records it in the backup's index.json. Throws on
   * any failure, and then nothing claims the item is backed up. Blobs already stored (same digest,
   * right size) are not written again, across items and repositories; they are still hashed.
   * Several backup() calls may run at once.
   */
  backup(item: BackupItem, source: RegistryReader): Promise<void>;
  /** Waits for backups in progress and finalises (packs and verifies the tar for oci-archive:). */
  close(): Promise<void>;
}

export type BackupTargetOptions = S3Options;

/**
 * Opens `dir:PATH`, `oci-archive:PATH.tar` or `s3://bucket/prefix`. Local destinations are
 * created and their index.json loaded now; an S3 destination is first contacted by the first
 * backup(), so an unreachable store fails that item (and so skips its deletion) rather than the run.
 */
export async function openBackupTarget(
  dest: string,
  options: BackupTargetOptions = {},
): Promise<BackupTarget> {
  const parsed = parseBackupDestination(dest);
  const description = describeDestination(parsed, options.s3Endpoint);
  switch (parsed.kind) {
    case "dir": {
      const store = new ImageLayoutDir(parsed.path, { description });
      await store.ensure();
      const writer = new LayoutWriter(store, description);
      await writer.ready();
      return writer;
    }
    case "oci-archive":
      return openArchiveTarget(parsed.path);
    case "s3":
      return new LayoutWriter(
        new S3Store(createS3Client(options), parsed.bucket, parsed.prefix, description),
        description,
      );
  }
}

import type { RestoreResult } from "../apply/backup/restore.js";
import { throwIfAborted, UsageError } from "../errors.js";
import type { RunOptions } from "./events.js";
import type { OpenedRegistry } from "./open-registry.js";

export type { RestoreResult };

export interface RestoreOptions extends RunOptions {
  /** The backup: `dir:PATH`, `oci-archive:PATH.tar` or `s3://bucket/prefix`. */
  readonly from: string;
  /** Where to push. */
  readonly to: OpenedRegistry;
  /** `REPO@sha256:…` or `REPO:TAG`; default everything in the backup. */
  readonly images?: readonly string[];
  /** S3-compatible endpoint for s3:// backups (path-style). */
  readonly s3Endpoint?: string;
}

/**
 * Pushes backed-up images back byte for byte (restored digests are the originals), skipping what
 * is there; one image failing does not stop the others. A backup that cannot be read fails the
 * call; an image the backup does not hold is a UsageError.
 */
export async function restore(options: RestoreOptions): Promise<RestoreResult[]> {
  throwIfAborted(options.signal, "restore");
  const registry =
    options.signal && options.to.registry.withSignal
      ? options.to.registry.withSignal(options.signal)
      : options.to.registry;
  // Loaded on use: the S3 client is large, and most runs never restore.
  const { restoreFromBackup } = await import("../apply/backup/restore.js");
  try {
    return await restoreFromBackup(options.from, registry, {
      ...(options.images?.length ? { images: [...options.images] } : {}),
      ...(options.s3Endpoint ? { s3Endpoint: options.s3Endpoint, s3ForcePathStyle: true } : {}),
    });
  } catch (error) {
    const message = (error as Error).message;
    if (/not recognised|not in the backup/.test(message)) throw new UsageError(message);
    throw error;
  }
}

import type { Digest } from "../../oci/digest.js";
import type { HashedBlob, LayoutFile, StoredBlob } from "../../oci/image-layout.js";

/**
 * Read access to a backup's OCI image layout wherever it is kept: a directory
 * (`ImageLayoutDir`), a tar (`ArchiveSource`) or S3 (`S3Store`).
 */
export interface LayoutSource {
  readonly description: string;
  /** undefined when the file does not exist. */
  readFile(name: LayoutFile): Promise<Buffer | undefined>;
  /** The stored bytes; callers verify them against the digest (a store may already have). */
  readBlob(digest: Digest): Promise<Buffer>;
  /** The stored bytes as a stream, unchecked (layers can be gigabytes). */
  openBlob(digest: Digest): Promise<AsyncIterable<Uint8Array>>;
  close(): Promise<void>;
}

/** A writable layout: `blobs/sha256/<hex>` plus the two files, each replaced atomically. */
export interface LayoutStore extends LayoutSource {
  statBlob(digest: Digest): Promise<StoredBlob | undefined>;
  /**
   * Replaces the blob as a whole: readers see the old object or the new one, never a partial one.
   * A stream that throws (e.g. its digest turned out wrong) leaves nothing behind.
   */
  writeBlob(digest: Digest, data: Uint8Array | AsyncIterable<Uint8Array>, size: number): Promise<void>;
  /** Streams the stored bytes (not the ones we meant to write) through sha256. */
  hashBlob(digest: Digest): Promise<HashedBlob>;
  writeFile(name: LayoutFile, bytes: Uint8Array): Promise<void>;
}

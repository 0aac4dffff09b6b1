import type { Digest } from "../../oci/digest.js";

/** The two files of an OCI image layout besides its blobs. */
export type LayoutFile = "index.json" | "oci-layout";

/** What a stored blob looks like without reading it. */
export interface StoredBlob {
  readonly size: number;
  /**
   * Changes whenever the stored object is replaced (inode+mtime for files, ETag for S3), so a
   * blob hashed once need not be re-read until something rewrites it.
   */
  readonly fingerprint: string;
}

/** The result of streaming a stored blob through sha256. */
export interface HashedBlob extends StoredBlob {
  readonly digest: Digest;
}

/** Read access to an OCI image layout wherever it is kept (directory, tar, S3). */
export interface LayoutSource {
  readonly description: string;
  /** undefined when the file does not exist. */
  readFile(name: LayoutFile): Promise<Buffer | undefined>;
  /** The stored bytes, unchecked; callers verify them against the digest. */
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

export function blobPathOf(digest: Digest): string {
  return `blobs/sha256/${digest.slice("sha256:".length)}`;
}

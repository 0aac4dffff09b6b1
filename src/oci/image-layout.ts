import { createHash, randomBytes } from "node:crypto";
import type { BigIntStats } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import PQueue from "p-queue";
import { z } from "zod";
import { type Digest, isDigest, sha256Digest } from "./digest.js";
import { MediaType } from "./media-types.js";
import { DigestMismatchError, verifiedStream } from "./verified-stream.js";

/**
 * The OCI image layout format (image-spec `image-layout.md`), the one place that knows it: the
 * `oci-layout` marker, `index.json`, `blobs/sha256/<hex>`. The `oci:DIR` registry (a layout per
 * repository) and the backups (one layout for all repositories, in a directory, a tar or S3) both
 * read and write layouts through this module; what their annotations mean is theirs.
 */

/** The two files of a layout besides its blobs. */
export type LayoutFile = "index.json" | "oci-layout";

/** The tag of a top-level manifest, as skopeo, umoci and crane write it. */
export const REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name";

/** `oci-layout` as every layout written here has it. */
export const OCI_LAYOUT_BYTES = Buffer.from(`${JSON.stringify({ imageLayoutVersion: "1.0.0" })}\n`);

/** One `index.json` entry; fields other tools add are kept, so a rewrite never drops them. */
export interface LayoutDescriptor {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly [field: string]: unknown;
}

export interface ImageIndex {
  readonly manifests: readonly LayoutDescriptor[];
}

export const EMPTY_IMAGE_INDEX: ImageIndex = { manifests: [] };

const descriptorSchema = z
  .object({
    mediaType: z.string(),
    digest: z.string().refine(isDigest, "not a sha256 digest"),
    size: z.number().int().nonnegative(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .passthrough();

const indexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(descriptorSchema).default([]),
});

/** `where` names the layout in the error ("dir:/backups", "OCI layout team/api"). */
export function parseImageIndex(bytes: Uint8Array, where: string): ImageIndex {
  try {
    const raw = indexSchema.parse(JSON.parse(Buffer.from(bytes).toString("utf8")));
    return { manifests: raw.manifests as LayoutDescriptor[] };
  } catch (error) {
    throw new Error(
      `${where}/index.json is not an OCI image index: ${(error as Error).message}; repair or remove the file`,
    );
  }
}

/** Deterministic bytes: the same index always serialises the same, so archives can byte-compare it. */
export function serializeImageIndex(index: ImageIndex): Buffer {
  const out = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: index.manifests };
  return Buffer.from(`${JSON.stringify(out, null, 2)}\n`);
}

/** `blobs/sha256/<hex>`, relative to the layout root, with `/` separators (tar members, S3 keys). */
export function blobPathOf(digest: Digest): string {
  return `blobs/sha256/${digest.slice("sha256:".length)}`;
}

const BLOB_PATH_RE = /^blobs\/sha256\/([a-f0-9]{64})$/;

/** The digest a layout path stores, or undefined for anything else (temporary files included). */
export function digestOfBlobPath(path: string): Digest | undefined {
  const hex = BLOB_PATH_RE.exec(path)?.[1];
  return hex ? (`sha256:${hex}` as Digest) : undefined;
}

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

export interface ImageLayoutDirOptions {
  /** Names the layout in errors; the directory by default. */
  readonly description?: string;
  /**
   * fsync every file and its directory before a write counts as done: a backup reported done
   * must survive power loss before the deletion it allowed. Default true.
   */
  readonly durable?: boolean;
}

/**
 * An image layout in a local directory. Every file is replaced atomically (temporary name, then
 * rename), blobs are checked against their digest on the way in, and `index.json` updates are
 * serialised, so concurrent writers in one process never lose each other's entries.
 */
export class ImageLayoutDir {
  readonly description: string;
  private readonly durable: boolean;
  private readonly indexUpdates = new PQueue({ concurrency: 1 });
  private ensured: Promise<void> | undefined;

  constructor(
    readonly root: string,
    options: ImageLayoutDirOptions = {},
  ) {
    this.description = options.description ?? root;
    this.durable = options.durable ?? true;
  }

  /** Creates `blobs/sha256/` and `oci-layout` where missing; a layout only read is never touched. */
  ensure(): Promise<void> {
    this.ensured ??= (async () => {
      await mkdir(join(this.root, "blobs", "sha256"), { recursive: true });
      if (!(await this.readFile("oci-layout"))) await this.writeFile("oci-layout", OCI_LAYOUT_BYTES);
    })().catch((error: unknown) => {
      this.ensured = undefined;
      throw error;
    });
    return this.ensured;
  }

  blobPath(digest: Digest): string {
    return join(this.root, ...blobPathOf(digest).split("/"));
  }

  async statBlob(digest: Digest): Promise<StoredBlob | undefined> {
    try {
      const s = await stat(this.blobPath(digest), { bigint: true });
      return { size: Number(s.size), fingerprint: fingerprintOf(s) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
  }

  async hasBlob(digest: Digest): Promise<boolean> {
    return (await this.statBlob(digest)) !== undefined;
  }

  /** The stored bytes, checked against the digest: corrupt bytes throw, they are never returned. */
  async readBlob(digest: Digest): Promise<Buffer> {
    const body = await readFile(this.blobPath(digest));
    const actual = sha256Digest(body);
    if (actual !== digest) {
      throw new DigestMismatchError(
        `${this.description}: blob ${digest} reads back as ${actual}: the stored copy is corrupt`,
      );
    }
    return body;
  }

  /** The stored bytes as a stream from `offset`, unchecked (layers can be gigabytes; callers verify). */
  async openBlob(digest: Digest, offset = 0): Promise<AsyncIterable<Uint8Array>> {
    const file = await open(this.blobPath(digest), "r");
    return file.createReadStream({ start: offset });
  }

  /** Streams the stored bytes (not the ones meant to be written) through sha256. */
  async hashBlob(digest: Digest): Promise<HashedBlob> {
    const file = await open(this.blobPath(digest), "r");
    try {
      // fstat of the open file: the fingerprint belongs to exactly the bytes hashed below.
      const s = await file.stat({ bigint: true });
      const hash = createHash("sha256");
      let size = 0;
      for await (const chunk of file.createReadStream({ autoClose: false })) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).byteLength;
      }
      return { digest: `sha256:${hash.digest("hex")}` as Digest, size, fingerprint: fingerprintOf(s) };
    } finally {
      await file.close();
    }
  }

  /**
   * Stores a blob whole or not at all: the bytes are checked against `digest` (and `size`) as
   * they stream, and a wrong or broken body leaves nothing under the digest.
   */
  async writeBlob(
    digest: Digest,
    data: Uint8Array | AsyncIterable<Uint8Array>,
    size?: number,
  ): Promise<void> {
    if (data instanceof Uint8Array) {
      const actual = sha256Digest(data);
      if (actual !== digest)
        throw new DigestMismatchError(`${this.description}: blob for ${digest} has digest ${actual}`);
    } else if (size === undefined) {
      throw new Error(`${this.description}: blob ${digest} is streamed without its size`);
    }
    await mkdir(join(this.root, "blobs", "sha256"), { recursive: true });
    const body =
      data instanceof Uint8Array
        ? data
        : verifiedStream(data, { digest, size: size as number }, `blob for ${this.description}`);
    await this.replace(this.blobPath(digest), body);
  }

  async removeBlob(digest: Digest): Promise<void> {
    await rm(this.blobPath(digest), { force: true });
  }

  /** The digests stored under `blobs/sha256/`; writes in progress (temporary files) are not blobs. */
  async listBlobs(): Promise<Digest[]> {
    const names = await readdir(join(this.root, "blobs", "sha256")).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return [] as string[];
      throw error;
    });
    return names.map((n) => digestOfBlobPath(`blobs/sha256/${n}`)).filter((d): d is Digest => !!d);
  }

  /** undefined when the file does not exist. */
  async readFile(name: LayoutFile): Promise<Buffer | undefined> {
    try {
      return await readFile(join(this.root, name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
  }

  async writeFile(name: LayoutFile, bytes: Uint8Array): Promise<void> {
    await this.replace(join(this.root, name), bytes);
  }

  /** The parsed `index.json`, or undefined when the layout has none yet. */
  async readIndex(): Promise<ImageIndex | undefined> {
    const bytes = await this.readFile("index.json");
    return bytes && parseImageIndex(bytes, this.description);
  }

  async writeIndex(index: ImageIndex): Promise<void> {
    await this.writeFile("index.json", serializeImageIndex(index));
  }

  /**
   * Read-modify-writes `index.json`, one change at a time, each from the latest file: concurrent
   * callers never lose each other's entries. Creates the layout on first use.
   */
  updateIndex(change: (index: ImageIndex) => ImageIndex): Promise<void> {
    return this.exclusive(async () => {
      await this.ensure();
      await this.writeIndex(change((await this.readIndex()) ?? EMPTY_IMAGE_INDEX));
    });
  }

  /** Runs `work` in turn with index updates (e.g. collecting unreferenced blobs against a stable index). */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.indexUpdates.add(work);
  }

  async close(): Promise<void> {}

  private async replace(path: string, bytes: Uint8Array | AsyncIterable<Uint8Array>): Promise<void> {
    const tmp = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
    try {
      const file = await open(tmp, "w");
      try {
        await file.writeFile(bytes);
        if (this.durable) await file.sync();
      } finally {
        await file.close();
      }
      await rename(tmp, path);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
    if (this.durable) await syncDir(dirname(path));
  }
}

function fingerprintOf(s: BigIntStats): string {
  return `${s.ino}:${s.size}:${s.mtimeNs}`;
}

/** fsyncs a directory, so a rename into it survives power loss. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

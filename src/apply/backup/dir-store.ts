import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Digest } from "../../oci/digest.js";
import {
  blobPathOf,
  type HashedBlob,
  type LayoutFile,
  type LayoutStore,
  type StoredBlob,
} from "./layout-store.js";

/** An OCI image layout in a local directory (`dir:` backups and the `oci-archive:` staging area). */
export class DirStore implements LayoutStore {
  private constructor(
    readonly root: string,
    readonly description: string,
  ) {}

  static async open(root: string, description: string): Promise<DirStore> {
    await mkdir(join(root, "blobs", "sha256"), { recursive: true });
    return new DirStore(root, description);
  }

  /** Opens an existing layout without creating anything (restore must not write). */
  static existing(root: string, description: string): DirStore {
    return new DirStore(root, description);
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

  writeBlob(digest: Digest, data: Uint8Array | AsyncIterable<Uint8Array>): Promise<void> {
    return durableReplace(this.blobPath(digest), data);
  }

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

  async openBlob(digest: Digest): Promise<AsyncIterable<Uint8Array>> {
    const file = await open(this.blobPath(digest), "r");
    return file.createReadStream();
  }

  readBlob(digest: Digest): Promise<Buffer> {
    return readFile(this.blobPath(digest));
  }

  async readFile(name: LayoutFile): Promise<Buffer | undefined> {
    try {
      return await readFile(join(this.root, name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
  }

  writeFile(name: LayoutFile, bytes: Uint8Array): Promise<void> {
    return durableReplace(join(this.root, name), bytes);
  }

  async close(): Promise<void> {}

  blobPath(digest: Digest): string {
    return join(this.root, ...blobPathOf(digest).split("/"));
  }
}

function fingerprintOf(s: import("node:fs").BigIntStats): string {
  return `${s.ino}:${s.size}:${s.mtimeNs}`;
}

/**
 * Write to a temporary name, fsync, rename over the target, fsync the directory: a crash leaves
 * the old file or the new one, and a backup reported as done survives power loss before the
 * deletion it allowed.
 */
export async function durableReplace(
  path: string,
  bytes: Uint8Array | AsyncIterable<Uint8Array>,
): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    const file = await open(tmp, "w");
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  await syncDir(dirname(path));
}

export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { log } from "../log.js";
import { type Digest, isDigest, sha256Digest } from "../oci/digest.js";

export function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "regsweep");
}

/**
 * A content-addressed store of immutable bodies (manifests, configs) keyed by digest, plus the
 * last tag → digest map seen per repository. The map is only a hint: it decides whether a tag is
 * resolved with a cheap HEAD (cache probably warm) or a GET (cold), never what a tag points at.
 */
export class ContentCache {
  private madeDirs = new Set<string>();
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly dir: string | undefined) {}

  get enabled(): boolean {
    return this.dir !== undefined;
  }

  async get(digest: Digest): Promise<Buffer | undefined> {
    if (!this.dir) return undefined;
    try {
      const bytes = await readFile(this.blobPath(digest));
      // A torn or tampered entry is a miss, never wrong data.
      return sha256Digest(bytes) === digest ? bytes : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Stores a body without making the caller wait: the scan's next request matters more than the
   * disk. A failed write only costs a future cache miss. `flush()` waits for what is pending.
   */
  async put(digest: Digest, bytes: Uint8Array): Promise<void> {
    if (!this.dir) return;
    const write = this.atomicWrite(this.blobPath(digest), bytes).catch((error: Error) => {
      log.warn({ digest, error: error.message }, "cache write failed");
    });
    this.pending.add(write);
    void write.finally(() => this.pending.delete(write));
  }

  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  async tagHints(registry: string, repository: string): Promise<Map<string, Digest>> {
    if (!this.dir) return new Map();
    try {
      const json = JSON.parse(await readFile(this.hintPath(registry, repository), "utf8")) as Record<
        string,
        string
      >;
      return new Map(Object.entries(json).filter((e): e is [string, Digest] => isDigest(e[1])));
    } catch {
      return new Map();
    }
  }

  async saveTagHints(
    registry: string,
    repository: string,
    hints: ReadonlyMap<string, Digest>,
  ): Promise<void> {
    if (!this.dir) return;
    await this.atomicWrite(this.hintPath(registry, repository), JSON.stringify(Object.fromEntries(hints)));
  }

  private blobPath(digest: Digest): string {
    const hex = digest.slice("sha256:".length);
    return join(this.dir ?? "", "blobs", "sha256", hex.slice(0, 2), hex);
  }

  private hintPath(registry: string, repository: string): string {
    const key = createHash("sha256").update(`${registry}/${repository}`).digest("hex");
    return join(this.dir ?? "", "tags", `${key}.json`);
  }

  private async atomicWrite(path: string, bytes: Uint8Array | string): Promise<void> {
    const parent = join(path, "..");
    if (!this.madeDirs.has(parent)) {
      await mkdir(parent, { recursive: true });
      this.madeDirs.add(parent);
    }
    const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  }
}

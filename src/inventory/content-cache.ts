import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { log } from "../log.js";
import { type Digest, isDigest, sha256Digest } from "../oci/digest.js";
import type { ManifestNode } from "./graph.js";

export function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "regsweep");
}

/** A manifest's derived node, and the platforms an index gives its children. */
export interface CachedNode {
  readonly node: ManifestNode;
  readonly childPlatforms?: readonly (readonly [Digest, string])[];
  /** The OwnerSource (ownerSourceKey) `node.owner` was read under; absent: none was configured. */
  readonly ownerKey?: string;
}

export interface RepositoryState {
  readonly tags: ReadonlyMap<string, Digest>;
  readonly nodes: ReadonlyMap<Digest, CachedNode>;
}

/**
 * A content-addressed store of immutable bodies (manifests, configs) keyed by digest, plus the
 * last state seen per repository. Nothing here says what a tag points at now: a scan reads every
 * tag again (a GET, hashed); the cache only spares re-reading and re-parsing what a digest names.
 */
export class ContentCache {
  private madeDirs = new Set<string>();
  private tmpCounter = 0;

  /**
   * A cache directory that has never stored a body holds only what this run stored: skip the
   * lookups that cannot hit (a cold scan's common case, thousands of failed opens).
   */
  private readonly startedEmpty: boolean;
  private readonly storedThisRun = new Set<Digest>();

  constructor(private readonly dir: string | undefined) {
    this.startedEmpty = dir === undefined || !existsSync(join(dir, "blobs"));
  }

  get enabled(): boolean {
    return this.dir !== undefined;
  }

  async get(digest: Digest): Promise<Buffer | undefined> {
    if (!this.dir || (this.startedEmpty && !this.storedThisRun.has(digest))) return undefined;
    try {
      // Synchronous on purpose: entries are a few KB, and a thread-pool round trip per file cost
      // more CPU than the read itself (profiled on a cold scan of 2,000 images).
      const bytes = readFileSync(this.blobPath(digest));
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
    if (!this.dir || this.storedThisRun.has(digest)) return;
    try {
      // Written in place, not through a temp file and a rename (a third of a cold scan's cache
      // cost): get() hashes what it reads, so a half-written or raced entry is a miss, never wrong data.
      this.write(this.blobPath(digest), bytes);
      this.storedThisRun.add(digest);
    } catch (error) {
      // A failed write only costs a future cache miss.
      log.warn({ digest, error: (error as Error).message }, "cache write failed");
    }
  }

  /**
   * What the last scan learnt of a repository: where each tag pointed (only a hint: it decides
   * whether a tag is resolved with a cheap HEAD or a GET) and the node derived from each manifest
   * digest (exact: content addressing makes it immutable), so a warm scan reads one file per
   * repository instead of every manifest and config again.
   */
  async repositoryState(registry: string, repository: string): Promise<RepositoryState> {
    const empty: RepositoryState = { tags: new Map(), nodes: new Map() };
    if (!this.dir) return empty;
    try {
      const json = JSON.parse(await readFile(this.statePath(registry, repository), "utf8")) as {
        tags?: Record<string, string>;
        nodes?: Record<string, CachedNode>;
      };
      return {
        tags: new Map(Object.entries(json.tags ?? {}).filter((e): e is [string, Digest] => isDigest(e[1]))),
        nodes: new Map(
          Object.entries(json.nodes ?? {}).filter(
            (e): e is [Digest, CachedNode] => isDigest(e[0]) && e[1]?.node?.digest === e[0],
          ),
        ),
      };
    } catch {
      return empty;
    }
  }

  async saveRepositoryState(registry: string, repository: string, state: RepositoryState): Promise<void> {
    if (!this.dir) return;
    const json = { tags: Object.fromEntries(state.tags), nodes: Object.fromEntries(state.nodes) };
    this.atomicWrite(this.statePath(registry, repository), JSON.stringify(json));
  }

  private blobPath(digest: Digest): string {
    const hex = digest.slice("sha256:".length);
    return join(this.dir ?? "", "blobs", "sha256", hex.slice(0, 2), hex);
  }

  private statePath(registry: string, repository: string): string {
    const key = createHash("sha256").update(`${registry}/${repository}`).digest("hex");
    return join(this.dir ?? "", "repositories", `${key}.json`);
  }

  /** Small files, written synchronously (see get). */
  private write(path: string, bytes: Uint8Array | string): void {
    const parent = dirname(path);
    if (!this.madeDirs.has(parent)) {
      mkdirSync(parent, { recursive: true });
      this.madeDirs.add(parent);
    }
    writeFileSync(path, bytes);
  }

  /** A state file is not checked when read: temp file then rename, so readers never see half. */
  private atomicWrite(path: string, bytes: Uint8Array | string): void {
    const tmp = `${path}.${process.pid}.${(this.tmpCounter++).toString(36)}.tmp`;
    this.write(tmp, bytes);
    renameSync(tmp, path);
  }
}

import { createHash } from "node:crypto";
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { log } from "../log.js";
import { type Digest, isDigest, sha256Digest } from "../oci/digest.js";
import type { ManifestNode } from "./graph.js";
import { packRecord, readPack } from "./pack.js";

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

/** A repository's pending bodies are appended to its pack once they reach this many bytes. */
const FLUSH_BYTES = 1 << 20;

/** Where a body stored during this run lies: another repository of the same scan may need it. */
interface Stored {
  readonly path: string;
  readonly offset: number;
  readonly length: number;
}

/**
 * A store of immutable bodies (manifests, configs) and of the last state seen per repository.
 * Nothing here says what a tag points at now: a scan reads every tag again (a GET, hashed); the
 * cache only spares re-reading and re-parsing what a digest names.
 *
 * Bodies go to one append-only pack per repository rather than one file per digest: creating a
 * file per body cost more CPU than a cold scan's requests (46% of a 25,000-manifest cold scan's
 * CPU was opening new files), while a warm scan takes derived nodes from the state file and
 * reads no body. Every body read back is hashed: a torn, raced or tampered pack is a miss.
 */
export class ContentCache {
  private tmpCounter = 0;
  private readonly madeDirs = new Set<string>();
  /** Bodies this run appended to a pack, by digest, whichever repository's pack holds them. */
  private readonly storedThisRun = new Map<Digest, Stored>();

  constructor(private readonly dir: string | undefined) {}

  get enabled(): boolean {
    return this.dir !== undefined;
  }

  /** The bodies of one repository, for one scan of it; `flush()` it when the scan is done. */
  bodies(registry: string, repository: string): RepositoryBodies {
    return new RepositoryBodies(this, this.dir ? this.pathFor(registry, repository, "pack") : undefined);
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
      const json = JSON.parse(await readFile(this.pathFor(registry, repository, "json"), "utf8")) as {
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
    this.atomicWrite(this.pathFor(registry, repository, "json"), JSON.stringify(json));
  }

  /** A body another repository's pack got during this run, read back and checked. */
  storedByThisRun(digest: Digest): Buffer | undefined {
    const at = this.storedThisRun.get(digest);
    if (!at) return undefined;
    try {
      const fd = openSync(at.path, "r");
      try {
        const bytes = Buffer.alloc(at.length);
        if (readSync(fd, bytes, 0, at.length, at.offset) !== at.length) return undefined;
        return sha256Digest(bytes) === digest ? bytes : undefined;
      } finally {
        closeSync(fd);
      }
    } catch {
      return undefined;
    }
  }

  isStoredByThisRun(digest: Digest): boolean {
    return this.storedThisRun.has(digest);
  }

  /** Appends bodies to a pack in one write, and remembers for this run where each landed. */
  append(path: string, bodies: ReadonlyMap<Digest, Buffer>): void {
    const records = [...bodies].map(([digest, body]) => ({ digest, ...packRecord(digest, body) }));
    this.ensureDir(path);
    const fd = openSync(path, "a");
    try {
      // Another process appending at the same moment makes these offsets wrong: a later read
      // of them fails its hash check and is a miss.
      let offset = fstatSync(fd).size;
      writeSync(fd, Buffer.concat(records.map((r) => r.record)));
      for (const r of records) {
        const length = r.record.byteLength - r.bodyOffset;
        this.storedThisRun.set(r.digest, { path, offset: offset + r.bodyOffset, length });
        offset += r.record.byteLength;
      }
    } finally {
      closeSync(fd);
    }
  }

  private pathFor(registry: string, repository: string, ext: "json" | "pack"): string {
    const key = createHash("sha256").update(`${registry}/${repository}`).digest("hex");
    return join(this.dir ?? "", "repositories", `${key}.${ext}`);
  }

  private ensureDir(path: string): void {
    const parent = dirname(path);
    if (!this.madeDirs.has(parent)) {
      mkdirSync(parent, { recursive: true });
      this.madeDirs.add(parent);
    }
  }

  /** A state file is not checked when read: temp file then rename, so readers never see half. */
  private atomicWrite(path: string, text: string): void {
    this.ensureDir(path);
    const tmp = `${path}.${process.pid}.${(this.tmpCounter++).toString(36)}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  }
}

/**
 * The bodies of one repository during one scan of it: those its pack holds from earlier runs,
 * those fetched now (kept in memory until appended, a batch at a time), and those another
 * repository of this run stored (the same config pushed to two repositories is fetched once).
 */
export class RepositoryBodies {
  private packed: Map<Digest, Buffer> | undefined;
  private pending = new Map<Digest, Buffer>();
  private pendingBytes = 0;

  constructor(
    private readonly cache: ContentCache,
    private readonly packPath: string | undefined,
  ) {}

  get(digest: Digest): Buffer | undefined {
    if (!this.packPath) return undefined;
    return this.pending.get(digest) ?? this.pack().get(digest) ?? this.cache.storedByThisRun(digest);
  }

  /** Keeps a body that was fetched and checked against its digest; a failed write only costs a future miss. */
  put(digest: Digest, body: Buffer): void {
    if (!this.packPath || this.pending.has(digest) || this.cache.isStoredByThisRun(digest)) return;
    // Not read just to check: a scan puts only what it had to fetch, which the pack lacked (or
    // its state file did, which a pack duplicate costs a few bytes for).
    if (this.packed?.has(digest)) return;
    this.pending.set(digest, body);
    this.pendingBytes += body.byteLength;
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
  }

  /** Appends what is pending to the pack. */
  flush(): void {
    if (!this.packPath || this.pending.size === 0) return;
    try {
      this.cache.append(this.packPath, this.pending);
    } catch (error) {
      log.warn({ error: (error as Error).message }, "cache write failed");
    }
    this.pending = new Map();
    this.pendingBytes = 0;
  }

  /** Read once, on the first lookup: a warm scan takes its nodes from the state file and never needs it. */
  private pack(): Map<Digest, Buffer> {
    if (!this.packed) {
      try {
        this.packed = readPack(readFileSync(this.packPath ?? ""));
      } catch {
        this.packed = new Map();
      }
    }
    return this.packed;
  }
}

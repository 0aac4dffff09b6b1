import { createHash } from "node:crypto";
import { appendFile, closeSync, mkdirSync, openSync, readFile, readSync, rename, writeFile } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { log } from "../log.js";
import { type Digest, sha256Digest } from "../oci/digest.js";
import type { ManifestNode } from "./graph.js";
import { type PackChunk, type PackContents, packChunk, readPack } from "./pack.js";
import { decodeState, encodeState } from "./state-codec.js";

// The callback API, promisified: fs/promises makes a FileHandle per read or write, which was 1.4%
// of a cold scan's main-thread time at 100,000 manifests.
const readFrom = promisify(readFile);
const appendTo = promisify(appendFile);
const writeTo = promisify(writeFile);
const renameTo = promisify(rename);

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
 * Each repository has one append-only pack holding both its bodies and its state, rather than a
 * file per body or a separate state file: creating files was the cold scan's largest cost (46% of
 * a 25,000-manifest cold scan's CPU with a file per body, and with two files per repository still
 * two thirds of its system time where many files had recently been deleted: ext4 then searches
 * longer for a free inode). A warm scan reads that one file; an unchanged repository writes nothing.
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

  /**
   * One repository's pack, read for one scan of it: what the last scan learnt (where each tag
   * pointed, only a hint; the node derived from each manifest digest, exact since content
   * addressing makes it immutable) and the bodies it holds. `close()` it when the scan is done.
   */
  async repository(registry: string, repository: string): Promise<RepositoryStore> {
    if (!this.dir) return new RepositoryStore(this, undefined, emptyPack());
    const path = this.pathFor(registry, repository);
    let contents = emptyPack();
    try {
      contents = readPack(await readFrom(path));
    } catch {
      // No pack yet (or unreadable): a cold scan of this repository.
    }
    return new RepositoryStore(this, path, contents);
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

  /**
   * Writes a chunk to a pack in one write, off the main thread: appended where the writer knows
   * the pack ends (`at`), or, with `at: "replace"`, as the whole new pack (temp file then rename,
   * so readers never see half). Remembers for this run where each body landed, once it is there.
   */
  async write(path: string, chunk: PackChunk, at: number | "replace"): Promise<void> {
    this.ensureDir(path);
    if (at === "replace") {
      const tmp = `${path}.${process.pid}.${(this.tmpCounter++).toString(36)}.tmp`;
      await writeTo(tmp, chunk.bytes);
      await renameTo(tmp, path);
    } else {
      await appendTo(path, chunk.bytes);
    }
    // Another process appending meanwhile makes these offsets wrong: a later read of them fails
    // its hash check and is a miss.
    const base = at === "replace" ? 0 : at;
    for (const b of chunk.bodies)
      this.storedThisRun.set(b.digest, { path, offset: base + b.offset, length: b.length });
  }

  private pathFor(registry: string, repository: string): string {
    const key = createHash("sha256").update(`${registry}/${repository}`).digest("hex");
    return join(this.dir ?? "", "repositories", `${key}.pack`);
  }

  private ensureDir(path: string): void {
    const parent = dirname(path);
    if (!this.madeDirs.has(parent)) {
      mkdirSync(parent, { recursive: true });
      this.madeDirs.add(parent);
    }
  }
}

const emptyPack = (): PackContents => ({
  bodies: new Map(),
  state: undefined,
  bytes: 0,
  deadBytes: 0,
  stateRecordBytes: 0,
});

/**
 * One repository's pack during one scan of it: the state and bodies it held, the bodies fetched
 * now (kept in memory until appended, a batch at a time), and those another repository of this
 * run stored (the same config pushed to two repositories is fetched once).
 */
export class RepositoryStore {
  /** What the last scan of this repository saved (empty on a cold scan, or if it does not parse). */
  readonly state: RepositoryState;
  private pending = new Map<Digest, Buffer>();
  private pendingBytes = 0;
  /** Bodies of the pack hashed and found good, and those fetched now. */
  private readonly checked = new Set<Digest>();
  /** Bytes this run appended to the pack (whether to rewrite it is judged on them too). */
  private appended = 0;
  /** The writes of this pack, one after another. */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly cache: ContentCache,
    private readonly path: string | undefined,
    private readonly contents: PackContents,
  ) {
    this.state = parseState(contents.state);
  }

  get(digest: Digest): Buffer | undefined {
    if (!this.path) return undefined;
    return this.pending.get(digest) ?? this.packed(digest) ?? this.cache.storedByThisRun(digest);
  }

  /** Keeps a body that was fetched and checked against its digest; a failed write only costs a future miss. */
  put(digest: Digest, body: Buffer): void {
    if (!this.path || this.pending.has(digest) || this.packed(digest)) return;
    if (this.cache.isStoredByThisRun(digest)) return;
    this.pending.set(digest, body);
    this.pendingBytes += body.byteLength;
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
  }

  /** Appends what is pending to the pack (written in the background; `close()` waits for it). */
  flush(): void {
    this.writeOut(undefined);
  }

  /**
   * Appends what is pending and, when given, the repository's new state after it (bodies before
   * the state that names them: a run stopped in between leaves bodies no state needs). A pack
   * grown mostly dead (earlier states, torn appends) is rewritten with only what the new state
   * names. Resolves once everything is written (or failed: a failed write only costs a future miss).
   */
  close(state?: RepositoryState): Promise<void> {
    this.writeOut(state);
    return this.writing;
  }

  /** A body the pack holds, checked against its digest on first use (a failed one is forgotten, so it is stored again). */
  private packed(digest: Digest): Buffer | undefined {
    const body = this.contents.bodies.get(digest);
    if (!body || this.checked.has(digest)) return body;
    if (sha256Digest(body) !== digest) {
      this.contents.bodies.delete(digest);
      return undefined;
    }
    this.checked.add(digest);
    return body;
  }

  private writeOut(state: RepositoryState | undefined): void {
    const path = this.path;
    if (!path || (this.pending.size === 0 && !state)) return;
    const json = state ? Buffer.from(encodeState(state)) : undefined;
    // With a new state, the old one is dead too; rewriting costs a file, so only when most is dead.
    const dead = this.contents.deadBytes + (json ? this.contents.stateRecordBytes : 0);
    const total = this.contents.bytes + this.appended + this.pendingBytes + (json?.byteLength ?? 0);
    let chunk: PackChunk;
    let at: number | "replace";
    if (json && state && dead > total / 2) {
      const named = namedBodies(state);
      const kept: [Digest, Buffer][] = [...this.pending].filter(([d]) => named.has(d));
      for (const digest of [...this.contents.bodies.keys()]) {
        const body = named.has(digest) && !this.pending.has(digest) ? this.packed(digest) : undefined;
        if (body) kept.push([digest, body]);
      }
      chunk = packChunk(kept, json);
      at = "replace";
    } else {
      chunk = packChunk(this.pending, json);
      at = this.contents.bytes + this.appended;
      this.appended += chunk.bytes.byteLength;
    }
    // One write after another: appends to one pack must not overtake each other.
    this.writing = this.writing.then(() =>
      this.cache.write(path, chunk, at).catch((error: unknown) => {
        log.warn({ error: (error as Error).message }, "cache write failed");
      }),
    );
    for (const [digest, body] of this.pending) {
      this.contents.bodies.set(digest, body);
      this.checked.add(digest);
    }
    this.pending = new Map();
    this.pendingBytes = 0;
  }
}

/** A state record this version cannot read is no state (it hashed, so another version wrote it). */
function parseState(bytes: Buffer | undefined): RepositoryState {
  const empty: RepositoryState = { tags: new Map(), nodes: new Map() };
  if (!bytes) return empty;
  try {
    return decodeState(bytes.toString("utf8")) ?? empty;
  } catch {
    return empty;
  }
}

/** The bodies a state can need again: its manifests and their configs. */
function namedBodies(state: RepositoryState): Set<Digest> {
  const named = new Set<Digest>();
  for (const [digest, cached] of state.nodes) {
    named.add(digest);
    const config = cached.node.blobs[0]?.digest;
    if (config) named.add(config);
  }
  return named;
}

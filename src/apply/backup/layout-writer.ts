import { pMapSettled } from "p-map";
import PQueue from "p-queue";
import { type Digest, isDigest } from "../../oci/digest.js";
import { OCI_LAYOUT_BYTES } from "../../oci/image-layout.js";
import { verifiedStream } from "../../oci/verified-stream.js";
import type { RegistryReader } from "../../registry/types.js";
import type { BackupItem, BackupTarget } from "./backup-target.js";
import { type TreeBlob, walkImage } from "./image-tree.js";
import {
  type BackupEntry,
  type BackupIndex,
  EMPTY_BACKUP_INDEX,
  parseBackupIndex,
  serializeBackupIndex,
  withEntry,
} from "./layout-index.js";
import type { LayoutStore } from "./layout-store.js";
import { resumableRead } from "./resumable-read.js";

// The distribution spec's grammar for repository names and tags.
const REPOSITORY_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/**
 * Copies images into one OCI image layout (any LayoutStore) and records each in index.json only
 * once every byte it needs has been read back from the store and hashed. index.json is the only
 * claim that an item is backed up, so a failure at any earlier point leaves no such claim.
 */
export class LayoutWriter implements BackupTarget {
  private index: BackupIndex = EMPTY_BACKUP_INDEX;
  private opening: Promise<void> | undefined;
  private closed = false;
  /** Writes in progress, so concurrent items sharing a layer fetch and store it once. */
  private readonly writing = new Map<Digest, Promise<void>>();
  /** Hashes in progress, keyed by digest and fingerprint, for the same reason. */
  private readonly hashing = new Map<string, Promise<void>>();
  /** Blobs hashed correct in this session, with the fingerprint of the object that was hashed. */
  private readonly verified = new Map<Digest, string>();
  /** index.json is rewritten from `this.index`: one rewrite at a time, in call order. */
  private readonly indexWrites = new PQueue({ concurrency: 1 });
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly store: LayoutStore,
    readonly description: string,
    private readonly concurrency = 4,
  ) {}

  /** Loads index.json (earlier runs' entries are kept) or starts an empty layout. Retried after a failure. */
  ready(): Promise<void> {
    this.opening ??= this.open().catch((error: unknown) => {
      this.opening = undefined;
      throw error;
    });
    return this.opening;
  }

  backup(item: BackupItem, source: RegistryReader): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`backup target ${this.description} is already closed`));
    const task = this.copyAndVerify(item, source);
    this.running.add(task);
    task.then(
      () => this.running.delete(task),
      () => this.running.delete(task),
    );
    return task;
  }

  /** Refuses new items and waits for those in progress. */
  async drain(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.running]);
  }

  async close(): Promise<void> {
    await this.drain();
    await this.store.close();
  }

  private async open(): Promise<void> {
    const existing = await this.store.readFile("index.json");
    if (existing) this.index = parseBackupIndex(existing, this.description);
    if (!(await this.store.readFile("oci-layout")))
      await this.store.writeFile("oci-layout", OCI_LAYOUT_BYTES);
    if (!existing) await this.store.writeFile("index.json", serializeBackupIndex(this.index));
  }

  private async copyAndVerify(item: BackupItem, source: RegistryReader): Promise<void> {
    checkItem(item);
    await this.ready();
    const tree = await walkImage({ digest: item.digest }, async (digest) => {
      const got = await source.getManifest(item.repository, digest);
      if (!got)
        throw new Error(`manifest ${item.repository}@${digest} does not exist in the source registry`);
      return { body: got.body, mediaType: got.mediaType };
    });
    await settleAll(tree.blobs, this.concurrency, (b) =>
      this.ensureBlob(b, async () =>
        // A connection that breaks mid-blob is continued where it broke, not the item failed.
        resumableRead(
          (offset) => source.openBlob(item.repository, b.digest, offset),
          b,
          `blob ${item.repository}@${b.digest}`,
        ),
      ),
    );
    const manifests = tree.manifests.map((m) => ({
      digest: m.digest,
      size: m.body.byteLength,
      body: m.body,
    }));
    await settleAll(manifests, this.concurrency, (m) => this.ensureBlob(m, async () => [m.body]));
    // Only now, with everything written, re-read it all: what counts is what the store holds.
    await settleAll([...tree.blobs, ...manifests], this.concurrency, (b) => this.verifyBlob(b));
    const root = tree.manifests.at(-1);
    if (!root) throw new Error(`manifest ${item.digest} yielded nothing to back up`);
    await this.record({
      repository: item.repository,
      digest: item.digest,
      mediaType: root.mediaType,
      size: root.body.byteLength,
      tags: [...item.tags],
    });
  }

  /** Stores a blob unless an object of the right size is already there (its hash is checked later). */
  private ensureBlob(
    blob: TreeBlob,
    fetch: () => Promise<AsyncIterable<Uint8Array> | Iterable<Uint8Array>>,
  ): Promise<void> {
    let pending = this.writing.get(blob.digest);
    if (!pending) {
      pending = (async () => {
        const stored = await this.store.statBlob(blob.digest);
        // A wrong size (an empty or partial object from a crashed run) is rewritten, not trusted.
        if (stored && stored.size === blob.size) return;
        // Streamed, never held whole: layers can be gigabytes. The stream checks itself as it goes,
        // so a wrong body fails the write before anything is stored under the digest.
        await this.store.writeBlob(
          blob.digest,
          verifiedStream(await fetch(), blob, "blob from the source"),
          blob.size,
        );
      })();
      this.writing.set(blob.digest, pending);
      const done = () => this.writing.delete(blob.digest);
      pending.then(done, done);
    }
    return pending;
  }

  /** Re-reads a stored blob and checks digest and size, unless this exact object was already hashed. */
  private async verifyBlob(blob: TreeBlob): Promise<void> {
    const stored = await this.store.statBlob(blob.digest);
    if (!stored)
      throw new Error(`verification failed: blob ${blob.digest} is missing from ${this.description}`);
    if (stored.size !== blob.size) {
      throw new Error(
        `verification failed: blob ${blob.digest} in ${this.description} is ${stored.size} bytes, expected ${blob.size}`,
      );
    }
    if (stored.fingerprint && this.verified.get(blob.digest) === stored.fingerprint) return;
    const key = `${blob.digest}|${stored.fingerprint}`;
    let pending = this.hashing.get(key);
    if (!pending) {
      pending = (async () => {
        const read = await this.store.hashBlob(blob.digest);
        if (read.digest !== blob.digest || read.size !== blob.size) {
          this.verified.delete(blob.digest);
          throw new Error(
            `verification failed: blob ${blob.digest} in ${this.description} reads back as ${read.digest} (${read.size} bytes, expected ${blob.size}); the stored copy is corrupt — remove it or back up to a fresh destination`,
          );
        }
        this.verified.set(blob.digest, read.fingerprint);
      })();
      this.hashing.set(key, pending);
      const done = () => this.hashing.delete(key);
      pending.then(done, done);
    }
    await pending;
  }

  /** One index.json rewrite at a time, each from the latest state, so no concurrent item is lost. */
  private record(entry: BackupEntry): Promise<void> {
    return this.indexWrites.add(async () => {
      const next = withEntry(this.index, entry);
      await this.store.writeFile("index.json", serializeBackupIndex(next));
      this.index = next; // only after the write: a failed write must not reach a later rewrite
    });
  }
}

function checkItem(item: BackupItem): void {
  if (!REPOSITORY_RE.test(item.repository))
    throw new Error(`invalid repository name ${JSON.stringify(item.repository)}`);
  if (!isDigest(item.digest)) throw new Error(`invalid digest ${JSON.stringify(item.digest)}`);
  // Tags are stored comma-separated; the tag grammar rules commas out, so check it here.
  const bad = item.tags.find((t) => !TAG_RE.test(t));
  if (bad !== undefined) throw new Error(`invalid tag ${JSON.stringify(bad)} for ${item.repository}`);
}

/**
 * Runs `work` over `items`, at most `concurrency` at a time, and rejects with the first failure (in
 * item order) only once every item has settled: no write is still running when the caller reports
 * the failure and, say, a retry begins.
 */
async function settleAll<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  const settled = await pMapSettled(items, work, { concurrency });
  const failed = settled.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
}

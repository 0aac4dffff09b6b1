import { pMapSettled } from "p-map";
import type { Digest } from "../../oci/digest.js";
import { verifiedStream } from "../../oci/verified-stream.js";
import type { Registry } from "../../registry/types.js";
import { parseBackupDestination } from "./destination.js";
import { selectEntries } from "./image-selector.js";
import { type TreeManifest, walkImage } from "./image-tree.js";
import { type BackupEntry, parseBackupIndex } from "./layout-index.js";
import { openLayoutSource } from "./layout-source.js";
import type { LayoutSource } from "./layout-store.js";
import type { S3Options } from "./s3-store.js";

export interface RestoreResult {
  repository: string;
  digest: Digest;
  tags: string[];
  status: "restored" | "already-present" | "failed";
  /** Why it failed, or what was deliberately left alone (a tag that now names another image). */
  detail?: string;
}

export interface RestoreOptions extends S3Options {
  /** `REPO@sha256:…` or `REPO:TAG`; default: everything in the backup. */
  images?: string[];
}

/**
 * Pushes backed-up images back into `to`: blobs first (skipping those it has), then child
 * manifests by digest, then the manifest by digest and under each recorded tag. The stored bytes
 * are pushed verbatim and read back, so restored digests are the originals. One image failing
 * does not stop the others; a backup that cannot be read, or an `--image` that matches nothing,
 * throws before anything is pushed.
 */
export async function restoreFromBackup(
  from: string,
  to: Registry,
  options: RestoreOptions = {},
): Promise<RestoreResult[]> {
  const source = await openLayoutSource(parseBackupDestination(from), options);
  try {
    const bytes = await source.readFile("index.json");
    if (!bytes) throw new Error(`${source.description} has no index.json: it is not a regsweep backup`);
    const entries = selectEntries(parseBackupIndex(bytes, source.description).entries, options.images);
    const results: RestoreResult[] = [];
    // One image at a time, in backup order: if a tag was recorded on several digests, the most
    // recently backed-up one is pushed last.
    for (const entry of entries) results.push(await restoreEntry(entry, source, to));
    return results;
  } finally {
    await source.close();
  }
}

async function restoreEntry(entry: BackupEntry, source: LayoutSource, to: Registry): Promise<RestoreResult> {
  const result: RestoreResult = {
    repository: entry.repository,
    digest: entry.digest,
    tags: [...entry.tags],
    status: "already-present",
  };
  const repo = entry.repository;
  const notes: string[] = [];
  let pushed = 0;
  try {
    const tree = await walkImage(entry, async (digest) => ({ body: await source.readBlob(digest) }));
    // Every upload settles before the image is reported: none is still running when the next starts.
    const uploads = await pMapSettled(
      tree.blobs,
      async (blob) => {
        if (await to.hasBlob(repo, blob.digest)) return;
        // Streamed and checked on the way: corrupt backup bytes fail the upload, never land.
        await to.putBlob(repo, blob.digest, {
          size: blob.size,
          open: async () =>
            verifiedStream(await source.openBlob(blob.digest), blob, `blob in ${source.description}`),
        });
        pushed++;
      },
      { concurrency: 4 },
    );
    const failed = uploads.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
    for (const m of tree.manifests) {
      if (await to.headManifest(repo, m.digest)) continue;
      await pushVerbatim(to, repo, m);
      pushed++;
    }
    const root = tree.manifests.at(-1) as TreeManifest;
    for (const tag of entry.tags) {
      const head = await to.headManifest(repo, tag);
      if (head?.digest === entry.digest) continue;
      if (head) {
        // Moving a live tag back could break whatever deploys it now; restoring the digest is enough.
        notes.push(`tag ${tag} now points at ${head.digest}; left unchanged`);
        continue;
      }
      await to.putManifest(repo, tag, root.mediaType, root.body);
      const now = await to.headManifest(repo, tag);
      if (now?.digest !== entry.digest) {
        throw new Error(`tag ${tag} resolves to ${now?.digest ?? "nothing"} after pushing ${entry.digest}`);
      }
      pushed++;
    }
    result.status = pushed > 0 ? "restored" : "already-present";
  } catch (error) {
    result.status = "failed";
    notes.unshift((error as Error).message);
  }
  if (notes.length) result.detail = notes.join("; ");
  return result;
}

/** Pushes a manifest by digest and reads it back: the registry must serve exactly these bytes. */
async function pushVerbatim(to: Registry, repo: string, m: TreeManifest): Promise<void> {
  const reported = await to.putManifest(repo, m.digest, m.mediaType, m.body);
  if (reported !== m.digest) throw new Error(`registry stored manifest ${m.digest} as ${reported}`);
  const back = await to.getManifest(repo, m.digest);
  if (!back?.body.equals(m.body))
    throw new Error(`registry does not serve manifest ${repo}@${m.digest} back unchanged`);
}

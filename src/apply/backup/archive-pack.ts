import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { digestOfBlobPath, ImageLayoutDir, type LayoutFile, syncDir } from "../../oci/image-layout.js";
import { ArchiveSource } from "./archive-source.js";

const LAYOUT_FILES: readonly LayoutFile[] = ["oci-layout", "index.json"];

/** What goes into an archive: directories, and regular files copied from `source`. */
export type TarInput =
  | { readonly type: "dir"; readonly name: string }
  | { readonly type: "file"; readonly name: string; readonly source: string };

/**
 * Writes `entries` to `path` (created or truncated) as a ustar archive (tar-stream falls back to
 * a pax header for a name ustar cannot hold) and flushes it to disk before resolving.
 */
export async function writeTar(
  path: string,
  entries: readonly TarInput[],
  mtime = new Date(),
): Promise<void> {
  const pack = tar.pack();
  const written = pipeline(pack, createWriteStream(path, { flush: true }));
  try {
    for (const entry of entries) {
      if (entry.type === "dir") {
        const name = entry.name.endsWith("/") ? entry.name : `${entry.name}/`;
        pack.entry({ name, type: "directory", mode: 0o755, mtime });
        continue;
      }
      const { size } = await stat(entry.source);
      const member = pack.entry({ name: entry.name, type: "file", size, mode: 0o644, mtime });
      // The header already promised `size` bytes; a file that changed meanwhile would corrupt the archive.
      await pipeline(createReadStream(entry.source), member).catch((error: Error) => {
        throw new Error(
          `${entry.source} could not be archived (did it change while being read?): ${error.message}`,
        );
      });
    }
    pack.finalize();
  } catch (error) {
    pack.destroy(error as Error);
    await written.catch(() => undefined);
    throw error;
  }
  await written;
}

/**
 * Packs a staged layout directory into `tarPath`: written under a temporary name, read back and
 * checked member by member (every blob hashed, the layout files byte-compared), and only then
 * renamed into place — an archive at `tarPath` is always complete and verified.
 */
export async function packLayout(staging: string, tarPath: string, description: string): Promise<void> {
  const layout = new ImageLayoutDir(staging);
  // Only whole blobs: `*.tmp` files are writes a crash interrupted.
  const blobs = (await layout.listBlobs()).map((d) => d.slice("sha256:".length)).sort();
  const entries: TarInput[] = [
    { type: "file", name: "oci-layout", source: join(staging, "oci-layout") },
    { type: "file", name: "index.json", source: join(staging, "index.json") },
    { type: "dir", name: "blobs" },
    { type: "dir", name: "blobs/sha256" },
    ...blobs.map(
      (hex): TarInput => ({
        type: "file",
        name: `blobs/sha256/${hex}`,
        source: join(staging, "blobs", "sha256", hex),
      }),
    ),
  ];
  const tmp = join(dirname(tarPath), `.${basename(tarPath)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeTar(tmp, entries);
    await verifyArchive(tmp, staging, blobs, description);
    await rename(tmp, tarPath);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  await syncDir(dirname(tarPath));
}

async function verifyArchive(
  tarPath: string,
  staging: string,
  blobs: readonly string[],
  description: string,
) {
  const archive = await ArchiveSource.open(tarPath, description);
  try {
    const members = archive.list();
    const expected = new Set<string>([...LAYOUT_FILES, ...blobs.map((hex) => `blobs/sha256/${hex}`)]);
    const unexpected = [...members.keys()].filter((n) => !expected.has(n));
    if (unexpected.length)
      throw new Error(`${description}: archive holds unexpected members ${unexpected.join(", ")}`);
    for (const name of LAYOUT_FILES) {
      const inArchive = await archive.readFile(name);
      if (!inArchive?.equals(await readFile(join(staging, name)))) {
        throw new Error(`${description}: ${name} in the archive differs from the staged one`);
      }
    }
    for (const hex of blobs) {
      const member = members.get(`blobs/sha256/${hex}`);
      if (!member) throw new Error(`${description}: blob sha256:${hex} is missing from the archive`);
      const staged = (await stat(join(staging, "blobs", "sha256", hex))).size;
      const hash = createHash("sha256");
      for await (const chunk of archive.stream(member)) hash.update(chunk);
      if (member.size !== staged || hash.digest("hex") !== hex) {
        throw new Error(`${description}: blob sha256:${hex} reads back corrupt from the archive`);
      }
    }
  } finally {
    await archive.close();
  }
}

/**
 * Unpacks an existing archive into `staging` so a new run adds to it instead of replacing it.
 * Unpacks beside it and renames: a crash never leaves a staging area whose index.json names
 * blobs that were not unpacked yet. Every blob is hashed on the way.
 */
export async function unpackLayout(tarPath: string, staging: string, description: string): Promise<void> {
  const tmp = `${staging}.${randomBytes(6).toString("hex")}.unpacking`;
  const archive = await ArchiveSource.open(tarPath, description);
  try {
    await mkdir(join(tmp, "blobs", "sha256"), { recursive: true });
    for (const [name, member] of archive.list()) {
      const hex = digestOfBlobPath(name)?.slice("sha256:".length);
      if (!hex && !LAYOUT_FILES.includes(name as LayoutFile)) continue; // anything else is not ours to keep
      const hash = createHash("sha256");
      await pipeline(
        (async function* () {
          for await (const chunk of archive.stream(member)) {
            hash.update(chunk);
            yield chunk;
          }
        })(),
        createWriteStream(join(tmp, ...name.split("/"))),
      );
      const actual = hash.digest("hex");
      if (hex && actual !== hex) {
        throw new Error(
          `${description}: blob sha256:${hex} in the archive is corrupt (reads as sha256:${actual})`,
        );
      }
    }
    await rename(tmp, staging);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  } finally {
    await archive.close();
  }
}

import { createReadStream } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { z } from "zod";
import { RegistryError } from "../errors.js";
import { type Digest, isDigest, sha256Digest } from "../oci/digest.js";
import { type Descriptor, parseManifest } from "../oci/manifest.js";
import { MediaType } from "../oci/media-types.js";
import { verifiedStream } from "../oci/verified-stream.js";
import type { BlobStream, DeleteOutcome, ManifestHead, ManifestResponse, Registry } from "./types.js";

const REF_NAME = "org.opencontainers.image.ref.name";

const indexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z
    .array(
      z
        .object({
          mediaType: z.string(),
          digest: z.string().refine(isDigest),
          size: z.number(),
          annotations: z.record(z.string(), z.string()).optional(),
        })
        .passthrough(),
    )
    .default([]),
});
type LayoutIndex = z.infer<typeof indexSchema>;

/**
 * A tree of OCI image layouts as a registry: every directory holding `oci-layout` and
 * `index.json` is one repository (the layout skopeo and umoci write for `oci:DIR:tag`). Tags are
 * `org.opencontainers.image.ref.name` annotations; descriptors without one are untagged manifests,
 * which a layout — unlike the distribution API — can list. Deleting removes the manifest and then
 * every blob of that repository nothing references any more.
 */
export class OciLayoutRegistry implements Registry {
  readonly listsUntagged = true;
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly root: string,
    readonly host = "oci-layout",
  ) {}

  async *repositories(): AsyncIterable<string> {
    const found: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries: import("node:fs").Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if (dir === this.root)
          throw new RegistryError(`OCI layout ${this.root}: ${(error as Error).message}`);
        return;
      }
      if (entries.some((e) => e.name === "oci-layout") && entries.some((e) => e.name === "index.json")) {
        found.push(relative(this.root, dir).split(sep).join("/"));
      }
      await Promise.all(
        entries.filter((e) => e.isDirectory() && e.name !== "blobs").map((e) => walk(join(dir, e.name))),
      );
    };
    await walk(this.root);
    yield* found.filter(Boolean).sort();
  }

  async *tags(repository: string): AsyncIterable<string> {
    const index = await this.readIndex(repository);
    yield* [
      ...new Set(index.manifests.map((d) => d.annotations?.[REF_NAME]).filter((t): t is string => !!t)),
    ];
  }

  async *untagged(repository: string): AsyncIterable<Digest> {
    const index = await this.readIndex(repository);
    const tagged = new Set(index.manifests.filter((d) => d.annotations?.[REF_NAME]).map((d) => d.digest));
    yield* new Set(index.manifests.filter((d) => !tagged.has(d.digest)).map((d) => d.digest as Digest));
  }

  async headManifest(repository: string, reference: string): Promise<ManifestHead | undefined> {
    const m = await this.getManifest(repository, reference);
    return m && { digest: m.digest, mediaType: m.mediaType };
  }

  async getManifest(repository: string, reference: string): Promise<ManifestResponse | undefined> {
    let digest: Digest | undefined;
    if (isDigest(reference)) digest = reference;
    else {
      const index = await this.readIndex(repository);
      digest = index.manifests.find((d) => d.annotations?.[REF_NAME] === reference)?.digest as
        | Digest
        | undefined;
    }
    if (!digest) return undefined;
    const body = await this.readBlob(repository, digest).catch(() => undefined);
    if (!body) return undefined;
    return { digest, mediaType: parseManifest(body).mediaType, body };
  }

  async getBlob(repository: string, digest: Digest): Promise<Buffer> {
    const body = await this.readBlob(repository, digest);
    if (sha256Digest(body) !== digest)
      throw new RegistryError(`OCI layout ${repository}: blob ${digest} is corrupt`);
    return body;
  }

  async openBlob(repository: string, digest: Digest, offset = 0): Promise<AsyncIterable<Uint8Array>> {
    const path = this.blobPath(repository, digest);
    await stat(path).catch(() => {
      throw new RegistryError(`OCI layout ${repository}: no blob ${digest}`);
    });
    return createReadStream(path, { start: offset });
  }

  async referrers(): Promise<readonly Descriptor[] | undefined> {
    return undefined;
  }

  async hasBlob(repository: string, digest: Digest): Promise<boolean> {
    return stat(this.blobPath(repository, digest)).then(
      () => true,
      () => false,
    );
  }

  async putBlob(repository: string, digest: Digest, data: Uint8Array | BlobStream): Promise<void> {
    if (data instanceof Uint8Array && sha256Digest(data) !== digest) {
      throw new RegistryError(`blob for ${digest} has another digest`);
    }
    await this.ensureLayout(repository);
    const body =
      data instanceof Uint8Array ? data : verifiedStream(await data.open(), { digest, size: data.size });
    await atomicWrite(this.blobPath(repository, digest), body);
  }

  /** A tag reference is recorded in index.json; a digest reference only stores the blob (index children). */
  async putManifest(
    repository: string,
    reference: string,
    mediaType: string,
    body: Uint8Array,
  ): Promise<Digest> {
    const digest = sha256Digest(body);
    await this.putBlob(repository, digest, body);
    if (!isDigest(reference)) {
      await this.updateIndex(repository, (index) => {
        index.manifests = index.manifests.filter((d) => d.annotations?.[REF_NAME] !== reference);
        index.manifests.push({
          mediaType,
          digest,
          size: body.byteLength,
          annotations: { [REF_NAME]: reference },
        });
      });
    }
    return digest;
  }

  /** Records a stored manifest as an untagged top-level entry, as a layout can hold one. */
  async addUntagged(repository: string, digest: Digest, mediaType: string, size: number): Promise<void> {
    await this.updateIndex(repository, (index) => {
      if (!index.manifests.some((d) => d.digest === digest))
        index.manifests.push({ mediaType, digest, size });
    });
  }

  async deleteManifest(repository: string, digest: Digest): Promise<DeleteOutcome> {
    let listed = false;
    await this.updateIndex(repository, (index) => {
      listed = index.manifests.some((d) => d.digest === digest);
      index.manifests = index.manifests.filter((d) => d.digest !== digest);
    });
    const stored = await this.hasBlob(repository, digest);
    if (!listed && !stored) return "not-found";
    await rm(this.blobPath(repository, digest), { force: true });
    await this.collectGarbage(repository);
    return "deleted";
  }

  /** Removes blobs that neither index.json nor any remaining manifest reaches. */
  private async collectGarbage(repository: string): Promise<void> {
    await this.exclusive(repository, async () => {
      const index = await this.readIndex(repository);
      const reachable = new Set<string>();
      const visit = async (digest: string): Promise<void> => {
        if (reachable.has(digest)) return;
        reachable.add(digest);
        const body = await this.readBlob(repository, digest as Digest).catch(() => undefined);
        if (!body) return;
        let manifest: ReturnType<typeof parseManifest>;
        try {
          manifest = parseManifest(body);
        } catch {
          return; // a config or layer, not a manifest
        }
        const refs = manifest.kind === "index" ? manifest.manifests : [manifest.config, ...manifest.layers];
        await Promise.all(
          refs.map((d) => (d.mediaType === MediaType.ociEmpty ? reachable.add(d.digest) : visit(d.digest))),
        );
      };
      await Promise.all(index.manifests.map((d) => visit(d.digest)));
      const dir = join(this.root, repository, "blobs", "sha256");
      const files = await readdir(dir).catch(() => []);
      await Promise.all(
        files
          .filter((hex) => !reachable.has(`sha256:${hex}`))
          .map((hex) => rm(join(dir, hex), { force: true })),
      );
    });
  }

  private blobPath(repository: string, digest: Digest): string {
    return join(this.root, repository, "blobs", "sha256", digest.slice("sha256:".length));
  }

  private readBlob(repository: string, digest: Digest): Promise<Buffer> {
    return readFile(this.blobPath(repository, digest));
  }

  private async readIndex(repository: string): Promise<LayoutIndex> {
    try {
      return indexSchema.parse(JSON.parse(await readFile(join(this.root, repository, "index.json"), "utf8")));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return { schemaVersion: 2, manifests: [] };
      throw new RegistryError(`OCI layout ${repository}/index.json: ${(error as Error).message}`);
    }
  }

  private async ensureLayout(repository: string): Promise<void> {
    const dir = join(this.root, repository);
    await mkdir(join(dir, "blobs", "sha256"), { recursive: true });
    const marker = join(dir, "oci-layout");
    if (!(await stat(marker).catch(() => undefined))) {
      await writeFile(marker, JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    }
  }

  private async updateIndex(repository: string, change: (index: LayoutIndex) => void): Promise<void> {
    await this.exclusive(repository, async () => {
      await this.ensureLayout(repository);
      const index = await this.readIndex(repository);
      change(index);
      const out = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: index.manifests };
      await atomicWrite(join(this.root, repository, "index.json"), JSON.stringify(out, null, 2));
    });
  }

  /** index.json is read-modify-written: one writer per repository at a time. */
  private exclusive<T>(repository: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(repository) ?? Promise.resolve();
    const next = previous.then(work, work);
    this.locks.set(
      repository,
      next.catch(() => undefined),
    );
    return next;
  }
}

async function atomicWrite(
  path: string,
  bytes: Uint8Array | string | AsyncIterable<Uint8Array>,
): Promise<void> {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

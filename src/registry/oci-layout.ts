import type { Dirent } from "node:fs";
import { readdir } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { RegistryError } from "../errors.js";
import { type Digest, isDigest, sha256Digest } from "../oci/digest.js";
import {
  EMPTY_IMAGE_INDEX,
  type ImageIndex,
  ImageLayoutDir,
  type LayoutDescriptor,
  REF_NAME_ANNOTATION,
} from "../oci/image-layout.js";
import { type Descriptor, parseManifest } from "../oci/manifest.js";
import { DigestMismatchError } from "../oci/verified-stream.js";
import type { BlobStream, DeleteOutcome, ManifestHead, ManifestResponse, Registry } from "./types.js";

const tagOf = (d: LayoutDescriptor) => d.annotations?.[REF_NAME_ANNOTATION];

/**
 * A tree of OCI image layouts as a registry: every directory holding `oci-layout` and
 * `index.json` is one repository (the layout skopeo and umoci write for `oci:DIR:tag`). Tags are
 * `org.opencontainers.image.ref.name` annotations; descriptors without one are untagged manifests,
 * which a layout — unlike the distribution API — can list. Deleting removes the manifest and then
 * every blob of that repository nothing references any more.
 */
export class OciLayoutRegistry implements Registry {
  readonly listsUntagged = true;
  /** One layout per repository, kept so its index.json updates stay serialised. */
  private readonly layouts = new Map<string, ImageLayoutDir>();

  constructor(
    private readonly root: string,
    readonly host = "oci-layout",
  ) {}

  async *repositories(): AsyncIterable<string> {
    const found: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries: Dirent[];
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
    yield* [...new Set(index.manifests.map(tagOf).filter((t): t is string => !!t))];
  }

  async *untagged(repository: string): AsyncIterable<Digest> {
    const index = await this.readIndex(repository);
    const tagged = new Set(index.manifests.filter(tagOf).map((d) => d.digest));
    yield* new Set(index.manifests.filter((d) => !tagged.has(d.digest)).map((d) => d.digest));
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
      digest = index.manifests.find((d) => tagOf(d) === reference)?.digest;
    }
    if (!digest || !(await this.layout(repository).hasBlob(digest))) return undefined;
    const body = await this.getBlob(repository, digest);
    return { digest, mediaType: parseManifest(body).mediaType, body };
  }

  async getBlob(repository: string, digest: Digest): Promise<Buffer> {
    try {
      return await this.layout(repository).readBlob(digest);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT")
        throw new RegistryError(`OCI layout ${repository}: no blob ${digest}`);
      throw new RegistryError((error as Error).message);
    }
  }

  async openBlob(repository: string, digest: Digest, offset = 0): Promise<AsyncIterable<Uint8Array>> {
    if (!(await this.hasBlob(repository, digest)))
      throw new RegistryError(`OCI layout ${repository}: no blob ${digest}`);
    return this.layout(repository).openBlob(digest, offset);
  }

  async referrers(): Promise<readonly Descriptor[] | undefined> {
    return undefined;
  }

  hasBlob(repository: string, digest: Digest): Promise<boolean> {
    return this.layout(repository).hasBlob(digest);
  }

  async putBlob(repository: string, digest: Digest, data: Uint8Array | BlobStream): Promise<void> {
    const layout = this.layout(repository);
    await layout.ensure();
    try {
      if (data instanceof Uint8Array) await layout.writeBlob(digest, data);
      else await layout.writeBlob(digest, await data.open(), data.size);
    } catch (error) {
      if (error instanceof DigestMismatchError) throw new RegistryError(error.message);
      throw error;
    }
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
      await this.layout(repository).updateIndex((index) => ({
        manifests: [
          ...index.manifests.filter((d) => tagOf(d) !== reference),
          { mediaType, digest, size: body.byteLength, annotations: { [REF_NAME_ANNOTATION]: reference } },
        ],
      }));
    }
    return digest;
  }

  /** Records a stored manifest as an untagged top-level entry, as a layout can hold one. */
  async addUntagged(repository: string, digest: Digest, mediaType: string, size: number): Promise<void> {
    await this.layout(repository).updateIndex((index) =>
      index.manifests.some((d) => d.digest === digest)
        ? index
        : { manifests: [...index.manifests, { mediaType, digest, size }] },
    );
  }

  /** Drops the tag's descriptor; the manifest stays, untagged, when no other tag names it. */
  async untag(repository: string, tag: string): Promise<DeleteOutcome> {
    let found = false;
    await this.layout(repository).updateIndex((index) => {
      const named = index.manifests.find((d) => tagOf(d) === tag);
      if (!named) return index;
      found = true;
      const rest = index.manifests.filter((d) => d !== named);
      const stillListed = rest.some((d) => d.digest === named.digest);
      const { [REF_NAME_ANNOTATION]: _, ...annotations } = named.annotations ?? {};
      const untagged = {
        ...named,
        ...(Object.keys(annotations).length ? { annotations } : { annotations: undefined }),
      };
      return { manifests: stillListed ? rest : [...rest, untagged] };
    });
    return found ? "deleted" : "not-found";
  }

  async deleteManifest(repository: string, digest: Digest): Promise<DeleteOutcome> {
    const layout = this.layout(repository);
    let listed = false;
    await layout.updateIndex((index) => {
      listed = index.manifests.some((d) => d.digest === digest);
      return { manifests: index.manifests.filter((d) => d.digest !== digest) };
    });
    const stored = await layout.hasBlob(digest);
    if (!listed && !stored) return "not-found";
    await layout.removeBlob(digest);
    await this.collectGarbage(layout);
    return "deleted";
  }

  /** Removes blobs that neither index.json nor any remaining manifest reaches. */
  private async collectGarbage(layout: ImageLayoutDir): Promise<void> {
    await layout.exclusive(async () => {
      const index = (await layout.readIndex()) ?? EMPTY_IMAGE_INDEX;
      const reachable = new Set<string>();
      const visit = async (digest: Digest): Promise<void> => {
        if (reachable.has(digest)) return;
        reachable.add(digest);
        const body = await layout.readBlob(digest).catch(() => undefined);
        if (!body) return;
        let manifest: ReturnType<typeof parseManifest>;
        try {
          manifest = parseManifest(body);
        } catch {
          return; // a config or layer, not a manifest
        }
        if (manifest.kind === "index") await Promise.all(manifest.manifests.map((d) => visit(d.digest)));
        // Configs and layers reference nothing: no need to read (and hash) gigabytes to learn that.
        else for (const d of [manifest.config, ...manifest.layers]) reachable.add(d.digest);
      };
      await Promise.all(index.manifests.map((d) => visit(d.digest)));
      const stored = await layout.listBlobs();
      await Promise.all(stored.filter((d) => !reachable.has(d)).map((d) => layout.removeBlob(d)));
    });
  }

  /**
   * Not durable (no fsync): a layout registry is a demo or a mirror that can be written again, and
   * pushing an image would otherwise cost a disk flush per blob.
   */
  private layout(repository: string): ImageLayoutDir {
    let layout = this.layouts.get(repository);
    if (!layout) {
      layout = new ImageLayoutDir(join(this.root, repository), {
        description: `OCI layout ${repository}`,
        durable: false,
      });
      this.layouts.set(repository, layout);
    }
    return layout;
  }

  private async readIndex(repository: string): Promise<ImageIndex> {
    try {
      return (await this.layout(repository).readIndex()) ?? EMPTY_IMAGE_INDEX;
    } catch (error) {
      throw new RegistryError((error as Error).message);
    }
  }
}

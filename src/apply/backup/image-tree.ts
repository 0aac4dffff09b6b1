import { type Digest, sha256Digest } from "../../oci/digest.js";
import { type Descriptor, parseManifest } from "../../oci/manifest.js";

export interface TreeManifest {
  readonly digest: Digest;
  readonly mediaType: string;
  readonly body: Buffer;
}

export interface TreeBlob {
  readonly digest: Digest;
  readonly size: number;
}

/** Everything one top-level manifest needs to be whole again. */
export interface ImageTree {
  /** Children before their index, the root last: the order a registry accepts pushes in. */
  readonly manifests: readonly TreeManifest[];
  /** Configs and layers, each once. */
  readonly blobs: readonly TreeBlob[];
}

/** Loads a manifest body by digest; `mediaType` where the store knows it (a registry's Content-Type). */
export type LoadManifest = (digest: Digest) => Promise<{ body: Buffer; mediaType?: string }>;

/**
 * Walks a manifest and, for an index, every child manifest recursively, checking each body
 * against the digest and size that reference it. A `subject` is not followed: a referrer and its
 * subject are separate items, each backed up and restored on its own.
 */
export async function walkImage(
  root: { digest: Digest; mediaType?: string; size?: number },
  load: LoadManifest,
): Promise<ImageTree> {
  const manifests = new Map<Digest, TreeManifest>();
  const blobs = new Map<Digest, TreeBlob>();

  const visit = async (
    digest: Digest,
    expectedSize: number | undefined,
    mediaType?: string,
  ): Promise<void> => {
    if (manifests.has(digest)) return;
    const loaded = await load(digest);
    const actual = sha256Digest(loaded.body);
    if (actual !== digest) throw new Error(`manifest ${digest} arrived with digest ${actual}`);
    if (expectedSize !== undefined && loaded.body.byteLength !== expectedSize) {
      throw new Error(
        `manifest ${digest} is ${loaded.body.byteLength} bytes, its descriptor says ${expectedSize}`,
      );
    }
    const parsed = parseManifest(loaded.body, mediaType ?? loaded.mediaType);
    if (parsed.kind === "index") {
      // Children first, in listed order, so the result is deterministic.
      for (const child of parsed.manifests) await visit(child.digest, child.size, child.mediaType);
    } else {
      for (const d of [parsed.config, ...parsed.layers]) {
        if (isNonDistributable(d)) continue;
        const seen = blobs.get(d.digest);
        if (seen && seen.size !== d.size) {
          throw new Error(`blob ${d.digest} is listed with sizes ${seen.size} and ${d.size}`);
        }
        blobs.set(d.digest, { digest: d.digest, size: d.size });
      }
    }
    manifests.set(digest, { digest, mediaType: mediaType ?? parsed.mediaType, body: loaded.body });
  };

  await visit(root.digest, root.size, root.mediaType);
  return { manifests: [...manifests.values()], blobs: [...blobs.values()] };
}

/**
 * Foreign (Windows base) layers live at their own URLs, not in the registry: registries neither
 * serve nor require them, so they are neither backed up nor pushed back.
 */
function isNonDistributable(d: Descriptor): boolean {
  return /\.(foreign|nondistributable)\./.test(d.mediaType);
}

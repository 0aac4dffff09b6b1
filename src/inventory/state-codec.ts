import type { Digest } from "../oci/digest.js";
import type { CachedNode, RepositoryState } from "./content-cache.js";
import type { AgeSource, BlobRef, ManifestNode } from "./graph.js";

/**
 * A repository's state as written in its pack: one array per node, no key repeated per node and
 * no digest written twice. The object form (`{ nodes: { <digest>: { node: {…} } } }`) cost a warm
 * scan a JSON parse of every key of every node, 3% of its CPU, and a cold scan as much to write.
 * The pack's record is checksummed, so this only has to tell its own version from another's.
 */
const VERSION = 2;

type EncodedNode = [
  digest: Digest,
  mediaType: string,
  artifactType: string | 0,
  manifestSize: number,
  /** Blob digests and sizes, alternating. */
  blobs: (Digest | number)[],
  children: Digest[],
  subject: Digest | 0,
  created: string | 0,
  ageSource: AgeSource,
  sizeBytes: number,
  owner: string | 0,
  /** Child digests and platforms, alternating; 0 for none (an image). */
  childPlatforms: string[] | 0,
  ownerKey: string | 0,
];

interface EncodedState {
  readonly v: typeof VERSION;
  /** Tags and digests, alternating. */
  readonly tags: string[];
  readonly nodes: EncodedNode[];
}

export function encodeState(state: RepositoryState): string {
  const tags: string[] = [];
  for (const [tag, digest] of state.tags) tags.push(tag, digest);
  const nodes: EncodedNode[] = [];
  for (const { node: n, childPlatforms, ownerKey } of state.nodes.values()) {
    const blobs: (Digest | number)[] = [];
    for (const b of n.blobs) blobs.push(b.digest, b.size);
    nodes.push([
      n.digest,
      n.mediaType,
      n.artifactType ?? 0,
      n.manifestSize,
      blobs,
      [...n.children],
      n.subject ?? 0,
      n.created ?? 0,
      n.ageSource,
      n.sizeBytes,
      n.owner ?? 0,
      childPlatforms ? childPlatforms.flat() : 0,
      ownerKey ?? 0,
    ]);
  }
  const encoded: EncodedState = { v: VERSION, tags, nodes };
  return JSON.stringify(encoded);
}

/** The state, or nothing where the text is another version's (the next scan reads those repositories afresh). */
export function decodeState(text: string): RepositoryState | undefined {
  const json = JSON.parse(text) as Partial<EncodedState>;
  if (json?.v !== VERSION || !Array.isArray(json.tags) || !Array.isArray(json.nodes)) return undefined;
  const tags = new Map<string, Digest>();
  for (let i = 0; i + 1 < json.tags.length; i += 2)
    tags.set(json.tags[i] as string, json.tags[i + 1] as Digest);
  const nodes = new Map<Digest, CachedNode>();
  for (const e of json.nodes) {
    const [digest, mediaType, artifactType, manifestSize, flatBlobs, children, subject, created] = e;
    const [, , , , , , , , ageSource, sizeBytes, owner, flatPlatforms, ownerKey] = e;
    const blobs: BlobRef[] = [];
    for (let i = 0; i + 1 < flatBlobs.length; i += 2)
      blobs.push({ digest: flatBlobs[i] as Digest, size: flatBlobs[i + 1] as number });
    // Built in the order and shape the scan builds a node in, so a cached node is the same value.
    const node: ManifestNode = {
      digest,
      mediaType,
      ...(artifactType ? { artifactType } : {}),
      tags: [],
      manifestSize,
      blobs,
      children,
      ...(subject ? { subject } : {}),
      ...(created ? { created } : {}),
      ageSource,
      sizeBytes,
      ...(owner ? { owner } : {}),
    };
    const childPlatforms: [Digest, string][] = [];
    if (flatPlatforms)
      for (let i = 0; i + 1 < flatPlatforms.length; i += 2)
        childPlatforms.push([flatPlatforms[i] as Digest, flatPlatforms[i + 1] as string]);
    nodes.set(digest, {
      node,
      ...(flatPlatforms ? { childPlatforms } : {}),
      ...(ownerKey ? { ownerKey } : {}),
    });
  }
  return { tags, nodes };
}

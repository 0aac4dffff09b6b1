import { describe, expect, it } from "vitest";
import type { RepositoryState } from "../../src/inventory/content-cache.js";
import type { ManifestNode } from "../../src/inventory/graph.js";
import { decodeState, encodeState } from "../../src/inventory/state-codec.js";
import { type Digest, sha256Digest } from "../../src/oci/digest.js";

const d = (s: string): Digest => sha256Digest(s);

const image: ManifestNode = {
  digest: d("image"),
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  tags: [],
  manifestSize: 900,
  blobs: [
    { digest: d("config"), size: 1200 },
    { digest: d("layer"), size: 3_000_000 },
  ],
  children: [],
  created: "2025-01-01T00:00:00.000Z",
  ageSource: "config",
  sizeBytes: 3_002_100,
  owner: "team-a",
};
const index: ManifestNode = {
  digest: d("index"),
  mediaType: "application/vnd.oci.image.index.v1+json",
  tags: [],
  manifestSize: 400,
  blobs: [],
  children: [d("image")],
  ageSource: "unknown",
  sizeBytes: 3_002_500,
};
const signature: ManifestNode = {
  digest: d("sig"),
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  artifactType: "application/vnd.dev.sigstore.bundle.v0.3+json",
  tags: [],
  manifestSize: 300,
  blobs: [{ digest: d("empty"), size: 2 }],
  children: [],
  subject: d("image"),
  ageSource: "unknown",
  sizeBytes: 302,
};

describe("a repository's state as its pack holds it", () => {
  it("comes back as the same nodes, tags, child platforms and owner keys", () => {
    const state: RepositoryState = {
      tags: new Map([
        ["v1", d("index")],
        ["sha256-abc.sig", d("sig")],
      ]),
      nodes: new Map([
        [image.digest, { node: image, ownerKey: "label:team" }],
        [index.digest, { node: index, childPlatforms: [[d("image"), "linux/amd64"]] }],
        [signature.digest, { node: signature }],
      ]),
    };
    const back = decodeState(encodeState(state));
    expect(back).toEqual(state);
    // The same shape as the scan builds, key for key: absent fields stay absent.
    expect(Object.keys(back?.nodes.get(index.digest)?.node ?? {})).toEqual(Object.keys(index));
    expect(Object.keys(back?.nodes.get(signature.digest)?.node ?? {})).toEqual(Object.keys(signature));
  });

  it("an index without platforms keeps its empty list; another version's state is no state", () => {
    const state: RepositoryState = {
      tags: new Map(),
      nodes: new Map([[index.digest, { node: index, childPlatforms: [] }]]),
    };
    expect(decodeState(encodeState(state))?.nodes.get(index.digest)?.childPlatforms).toEqual([]);
    expect(decodeState(JSON.stringify({ tags: {}, nodes: {} }))).toBeUndefined();
    expect(decodeState(JSON.stringify({ v: 3, tags: [], nodes: [] }))).toBeUndefined();
  });

  it("writes each digest once per node, far smaller than the object form", () => {
    const state: RepositoryState = {
      tags: new Map([["v1", image.digest]]),
      nodes: new Map([[image.digest, { node: image }]]),
    };
    const compact = encodeState(state);
    expect(compact.split(image.digest).length - 1).toBe(2); // the tag's, and the node's
    const objectForm = JSON.stringify({
      tags: { v1: image.digest },
      nodes: { [image.digest]: { node: image } },
    });
    expect(compact.length).toBeLessThan(objectForm.length * 0.8);
  });
});

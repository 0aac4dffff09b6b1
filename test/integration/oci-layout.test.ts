import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseBackupIndex, serializeBackupIndex } from "../../src/apply/backup/layout-index.js";
import { buildImage, pushManifest } from "../../src/fixtures/image-factory.js";
import { sha256Digest } from "../../src/oci/digest.js";
import { ImageLayoutDir, parseImageIndex, serializeImageIndex } from "../../src/oci/image-layout.js";
import { OciLayoutRegistry } from "../../src/registry/oci-layout.js";
import { tempDir } from "./helpers.js";

const hexOf = (d: string) => d.slice("sha256:".length);
const digestA = `sha256:${"a".repeat(64)}`;
const digestB = `sha256:${"b".repeat(64)}`;

async function* chunks(...parts: Buffer[]): AsyncIterable<Uint8Array> {
  yield* parts;
}

describe("one OCI image layout format for the oci: registry and the backups", () => {
  it("a backup's index.json as earlier versions wrote it is rewritten byte for byte, other tools' entries kept", () => {
    const written = `${JSON.stringify(
      {
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [
          {
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            digest: digestB,
            size: 12,
            annotations: { "org.opencontainers.image.ref.name": "other" },
            platform: { os: "linux", architecture: "arm64" },
          },
          {
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            digest: digestA,
            size: 401,
            annotations: {
              "io.regsweep.repository": "team/api",
              "io.regsweep.tags": "v1,latest",
              "org.opencontainers.image.ref.name": "team/api:v1",
            },
          },
        ],
      },
      null,
      2,
    )}\n`;
    const index = parseBackupIndex(Buffer.from(written), "dir:/b");
    expect(index.entries).toEqual([
      {
        repository: "team/api",
        digest: digestA,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        size: 401,
        tags: ["v1", "latest"],
      },
    ]);
    expect(serializeBackupIndex(index).toString()).toBe(written);
  });

  it("an oci: repository's index.json, as earlier versions wrote it, reads the same and keeps foreign fields", () => {
    const written = JSON.stringify(
      {
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [
          {
            mediaType: "application/vnd.oci.image.index.v1+json",
            digest: digestA,
            size: 7,
            annotations: { "org.opencontainers.image.ref.name": "1.0" },
            platform: { os: "linux" },
          },
        ],
      },
      null,
      2,
    );
    const index = parseImageIndex(Buffer.from(written), "OCI layout team/api");
    expect(serializeImageIndex(index).toString()).toBe(`${written}\n`);
  });

  it("a broken index.json is refused naming the layout and what to do", () => {
    expect(() => parseImageIndex(Buffer.from('{"schemaVersion":1}'), "dir:/backups")).toThrow(
      /^dir:\/backups\/index.json is not an OCI image index: .*; repair or remove the file$/s,
    );
  });

  it("a blob is stored only under its own digest: wrong bytes leave nothing behind", async () => {
    const layout = new ImageLayoutDir(await tempDir());
    await layout.ensure();
    const body = Buffer.from("the real bytes");
    await expect(layout.writeBlob(sha256Digest("other bytes"), body)).rejects.toThrow(/has digest/);
    await expect(
      layout.writeBlob(sha256Digest(body), chunks(Buffer.from("the fake bytes")), body.byteLength),
    ).rejects.toThrow(/corrupt/);
    expect(await readdir(join(layout.root, "blobs", "sha256"))).toEqual([]);
    await layout.writeBlob(sha256Digest(body), chunks(body), body.byteLength);
    expect(await layout.listBlobs()).toEqual([sha256Digest(body)]);
    expect(JSON.parse(await readFile(join(layout.root, "oci-layout"), "utf8"))).toEqual({
      imageLayoutVersion: "1.0.0",
    });
  });
});

describe("the oci: registry on the shared layout", () => {
  it("a manifest whose stored bytes no longer match its digest is an error, never served", async () => {
    const root = await tempDir();
    const registry = new OciLayoutRegistry(root);
    const image = buildImage({ seed: "corrupt manifest" });
    await pushManifest(registry, "team/api", image, ["v1"]);
    const file = join(root, "team", "api", "blobs", "sha256", hexOf(image.digest));
    await writeFile(file, `${image.body.toString()} `); // still a valid manifest, another digest

    await expect(registry.getManifest("team/api", "v1")).rejects.toThrow(
      `OCI layout team/api: blob ${image.digest} reads back as`,
    );
    await expect(registry.getManifest("team/api", image.digest)).rejects.toThrow(/corrupt/);
  });

  it("deleting a manifest collects unreferenced blobs but not a blob another writer is still writing", async () => {
    const root = await tempDir();
    const registry = new OciLayoutRegistry(root);
    const kept = buildImage({ seed: "kept" });
    const gone = buildImage({ seed: "gone" });
    await pushManifest(registry, "team/api", kept, ["v1"]);
    await pushManifest(registry, "team/api", gone, ["v2"]);
    const blobDir = join(root, "team", "api", "blobs", "sha256");
    const unfinished = `${"c".repeat(64)}.4242.abcdef.tmp`; // a putBlob in progress: not yet renamed
    await writeFile(join(blobDir, unfinished), "half a layer");

    expect(await registry.deleteManifest("team/api", gone.digest)).toBe("deleted");

    const left = await readdir(blobDir);
    expect(left).toContain(unfinished);
    expect(left.filter((n) => n !== unfinished).sort()).toEqual(
      [kept.digest, ...kept.blobs.keys()].map(hexOf).sort(),
    );
    expect((await registry.getManifest("team/api", "v1"))?.digest).toBe(kept.digest);
  });
});

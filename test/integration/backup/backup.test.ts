import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { writeTar } from "../../../src/apply/backup/archive-pack.js";
import { openBackupTarget } from "../../../src/apply/backup/backup-target.js";
import { restoreFromBackup } from "../../../src/apply/backup/restore.js";
import { listTar, openTar, readAt } from "../../../src/apply/backup/tar-reader.js";
import { buildImage, pushManifest } from "../../../src/fixtures/image-factory.js";
import { type Digest, sha256Digest } from "../../../src/oci/digest.js";
import { OciLayoutRegistry } from "../../../src/registry/oci-layout.js";
import { freePort } from "../../harness/free-port.js";
import { connect, tempDir } from "../helpers.js";
import { S3_BUCKET, startS3 } from "./s3-server.js";
import { itemOf, type SeededImages, seedImages, withBlobHook } from "./seed-images.js";

const run = promisify(execFile);
const hex = (d: Digest) => d.slice("sha256:".length);

interface LayoutIndexJson {
  manifests: { mediaType: string; digest: string; size: number; annotations: Record<string, string> }[];
}

/** What a backup holds, read the way another tool would (files, `tar`, S3 listing), not through our reader. */
interface StoredLayout {
  readonly ociLayout: unknown;
  readonly index: LayoutIndexJson;
  /** Blob file names, as digests. */
  readonly blobs: readonly Digest[];
  read(digest: Digest): Promise<Buffer>;
}

async function readDirLayout(root: string): Promise<StoredLayout> {
  return {
    ociLayout: JSON.parse(await readFile(join(root, "oci-layout"), "utf8")),
    index: JSON.parse(await readFile(join(root, "index.json"), "utf8")),
    blobs: (await readdir(join(root, "blobs", "sha256"))).map((h) => `sha256:${h}` as Digest),
    read: (d) => readFile(join(root, "blobs", "sha256", hex(d))),
  };
}

let s3: Awaited<ReturnType<typeof startS3>>;
let s3Client: S3Client;

beforeAll(async () => {
  // s3rver's built-in account; the code under test finds credentials through the SDK's default chain.
  vi.stubEnv("AWS_ACCESS_KEY_ID", "S3RVER");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "S3RVER");
  s3 = await startS3();
  s3Client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: "us-east-1" });
});

afterAll(async () => {
  s3Client?.destroy();
  await s3?.stop();
  vi.unstubAllEnvs();
});

async function readS3Layout(prefix: string): Promise<StoredLayout> {
  const get = async (key: string) => {
    const got = await s3Client.send(new GetObjectCommand({ Bucket: S3_BUCKET, Key: `${prefix}/${key}` }));
    return Buffer.from(
      await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
    );
  };
  const listed = await s3Client.send(
    new ListObjectsV2Command({ Bucket: S3_BUCKET, Prefix: `${prefix}/blobs/sha256/` }),
  );
  return {
    ociLayout: JSON.parse((await get("oci-layout")).toString()),
    index: JSON.parse((await get("index.json")).toString()),
    blobs: (listed.Contents ?? []).map((o) => `sha256:${o.Key?.split("/").pop()}` as Digest),
    read: (d) => get(`blobs/sha256/${hex(d)}`),
  };
}

interface Destination {
  readonly dest: string;
  readonly options: { s3Endpoint?: string; s3ForcePathStyle?: boolean };
  /** Reads the finished backup as an outsider would. */
  inspect(): Promise<StoredLayout>;
}

async function destinationFor(kind: "dir" | "oci-archive" | "s3"): Promise<Destination> {
  const dir = await tempDir("regsweep-backup-");
  switch (kind) {
    case "dir":
      return {
        dest: `dir:${join(dir, "layout")}`,
        options: {},
        inspect: () => readDirLayout(join(dir, "layout")),
      };
    case "oci-archive": {
      const tar = join(dir, "backup.tar");
      return {
        dest: `oci-archive:${tar}`,
        options: {},
        async inspect() {
          await expect(stat(`${tar}.staging`)).rejects.toThrow(); // packed, so the staging area is gone
          const { stdout } = await run("tar", ["-tf", tar]);
          expect(stdout.split("\n")).toEqual(
            expect.arrayContaining(["oci-layout", "index.json", "blobs/sha256/"]),
          );
          const out = await tempDir("regsweep-untar-");
          await run("tar", ["-xf", tar, "-C", out]);
          return readDirLayout(out);
        },
      };
    }
    case "s3": {
      const prefix = `runs/${randomBytes(4).toString("hex")}`;
      return {
        dest: `s3://${S3_BUCKET}/${prefix}`,
        options: { s3Endpoint: s3.endpoint, s3ForcePathStyle: true },
        inspect: () => readS3Layout(prefix),
      };
    }
  }
}

function expectAnnotations(index: LayoutIndexJson, images: SeededImages): void {
  const byDigest = new Map(
    index.manifests.map((m) => [`${m.annotations["io.regsweep.repository"]}@${m.digest}`, m]),
  );
  expect(byDigest.size).toBe(4);
  for (const x of [images.plain, images.multi, images.amd64, images.sibling]) {
    const d = byDigest.get(`${x.repository}@${x.manifest.digest}`);
    expect(d).toEqual({
      mediaType: x.manifest.mediaType,
      digest: x.manifest.digest,
      size: x.manifest.body.byteLength,
      annotations: {
        "io.regsweep.repository": x.repository,
        "io.regsweep.tags": x.tags.join(","),
        ...(x.tags[0] ? { "org.opencontainers.image.ref.name": `${x.repository}:${x.tags[0]}` } : {}),
      },
    });
  }
}

describe.each(["dir", "oci-archive", "s3"] as const)("backup to %s, then restore", (kind) => {
  const url = inject("registryUrl");

  it("stores every image whole and verified, shared layers once; restore brings back identical digests and tags", async () => {
    const { registry } = connect(url);
    const images = await seedImages(registry);
    const destination = await destinationFor(kind);
    const fetched = new Map<Digest, number>();
    const counted = withBlobHook(registry, (d) => {
      fetched.set(d, (fetched.get(d) ?? 0) + 1);
      return undefined;
    });

    const target = await openBackupTarget(destination.dest, destination.options);
    expect(target.description).toContain(kind === "s3" ? "s3://" : `${kind}:`);
    await Promise.all(images.items.map((item) => target.backup(item, counted))); // concurrently
    await target.close();

    // The shared layer was fetched and written once, although two items in two repositories need it.
    expect(fetched.get(images.sharedLayer)).toBe(1);
    const layout = await destination.inspect();
    expect(layout.ociLayout).toEqual({ imageLayoutVersion: "1.0.0" });
    expectAnnotations(layout.index, images);
    expect([...layout.blobs].sort()).toEqual([...images.digests].sort());
    for (const d of layout.blobs) expect(sha256Digest(await layout.read(d))).toBe(d);

    for (const { repository, manifest } of images.manifests) {
      expect(await registry.deleteManifest(repository, manifest.digest)).toBe("deleted");
    }
    expect(await registry.getManifest(images.plain.repository, "latest")).toBeUndefined();

    // --image selects one image; the others stay deleted.
    const one = await restoreFromBackup(destination.dest, registry, {
      ...destination.options,
      images: [`${images.plain.repository}:latest`],
    });
    expect(one).toEqual([
      {
        repository: images.plain.repository,
        digest: images.plain.manifest.digest,
        tags: ["v1", "latest"],
        status: "restored",
      },
    ]);
    expect(await registry.getManifest(images.multi.repository, images.multi.manifest.digest)).toBeUndefined();

    const all = await restoreFromBackup(destination.dest, registry, destination.options);
    const status = new Map(all.map((r) => [`${r.repository}@${r.digest}`, r.status]));
    expect(status.get(`${images.plain.repository}@${images.plain.manifest.digest}`)).toBe("already-present");
    expect(status.get(`${images.multi.repository}@${images.multi.manifest.digest}`)).toBe("restored");
    expect(status.get(`${images.sibling.repository}@${images.sibling.manifest.digest}`)).toBe("restored");
    expect(all.every((r) => r.status !== "failed")).toBe(true);

    for (const { repository, manifest } of images.manifests) {
      expect((await registry.getManifest(repository, manifest.digest))?.body.equals(manifest.body)).toBe(
        true,
      );
      for (const [d, bytes] of manifest.blobs)
        expect((await registry.getBlob(repository, d)).equals(bytes)).toBe(true);
    }
    for (const x of [images.plain, images.multi, images.sibling]) {
      for (const tag of x.tags)
        expect((await registry.headManifest(x.repository, tag))?.digest).toBe(x.manifest.digest);
    }

    const again = await restoreFromBackup(destination.dest, registry, destination.options);
    expect(again.map((r) => r.status)).toEqual([
      "already-present",
      "already-present",
      "already-present",
      "already-present",
    ]);
  });
});

describe("backup failures leave no record", () => {
  const url = inject("registryUrl");

  it("a blob fetch that fails throws, and index.json does not list the item (dir)", async () => {
    const { registry } = connect(url);
    const images = await seedImages(registry);
    const root = join(await tempDir(), "layout");
    const target = await openBackupTarget(`dir:${root}`);
    const ownLayer = [...images.sibling.manifest.blobs.keys()].find(
      (d) => d !== images.sharedLayer,
    ) as Digest;
    const failing = withBlobHook(registry, (d) => {
      if (d === ownLayer) throw new Error("connection reset by peer");
      return undefined;
    });
    await expect(target.backup(itemOf(images.sibling), failing)).rejects.toThrow("connection reset by peer");
    expect((await readDirLayout(root)).index.manifests).toEqual([]);
    // The target stays usable for the next item.
    await target.backup(itemOf(images.plain), registry);
    await target.close();
    expect((await readDirLayout(root)).index.manifests.map((m) => m.digest)).toEqual([
      images.plain.manifest.digest,
    ]);
  });

  it("a source answering an empty body for a blob (the Domino seed's flaw) is refused", async () => {
    const { registry } = connect(url);
    const images = await seedImages(registry);
    const root = join(await tempDir(), "layout");
    const target = await openBackupTarget(`dir:${root}`);
    const empty = withBlobHook(registry, () => Buffer.alloc(0));
    await expect(target.backup(itemOf(images.plain), empty)).rejects.toThrow(/is 0 bytes/);
    await target.close();
    expect((await readDirLayout(root)).index.manifests).toEqual([]);
  });

  it("an S3 endpoint on a closed port: backup throws naming S3 and the cause", async () => {
    const { registry } = connect(url);
    const images = await seedImages(registry);
    const port = await freePort();
    const target = await openBackupTarget(`s3://${S3_BUCKET}/down`, {
      s3Endpoint: `http://127.0.0.1:${port}`,
      s3ForcePathStyle: true,
    });
    expect(target.description).toBe(`s3://${S3_BUCKET}/down (endpoint http://127.0.0.1:${port})`);
    await expect(target.backup(itemOf(images.plain), registry)).rejects.toThrow(
      /S3 GetObject .*ECONNREFUSED/,
    );
    await target.close();
  });

  it("a blob fetch that fails mid-way to S3 records nothing there", async () => {
    const { registry } = connect(url);
    const images = await seedImages(registry);
    const destination = await destinationFor("s3");
    const target = await openBackupTarget(destination.dest, destination.options);
    const failing = withBlobHook(registry, (d) => {
      if (d === images.sharedLayer) throw new Error("registry went away");
      return undefined;
    });
    await expect(target.backup(itemOf(images.plain), failing)).rejects.toThrow("registry went away");
    await target.close();
    expect((await destination.inspect()).index.manifests).toEqual([]);
  });

  it("an empty or partial object left in S3 is rewritten; a same-size corrupt one fails verification", async () => {
    const { registry } = connect(url);
    const images = await seedImages(registry);
    const prefix = `runs/${randomBytes(4).toString("hex")}`;
    const put = (d: Digest, body: Buffer) =>
      s3Client.send(
        new PutObjectCommand({ Bucket: S3_BUCKET, Key: `${prefix}/blobs/sha256/${hex(d)}`, Body: body }),
      );
    const layer = images.plain.manifest.blobs.get(images.sharedLayer) as Buffer;
    const options = { s3Endpoint: s3.endpoint, s3ForcePathStyle: true };

    await put(images.sharedLayer, Buffer.alloc(0)); // what a failed copy left behind
    const first = await openBackupTarget(`s3://${S3_BUCKET}/${prefix}`, options);
    await first.backup(itemOf(images.plain), registry);
    await first.close();
    const repaired = await (await readS3Layout(prefix)).read(images.sharedLayer);
    expect(sha256Digest(repaired)).toBe(images.sharedLayer);

    await put(images.sharedLayer, Buffer.alloc(layer.byteLength, 0x61)); // right size, wrong bytes
    const second = await openBackupTarget(`s3://${S3_BUCKET}/${prefix}`, options);
    await expect(second.backup(itemOf(images.sibling), registry)).rejects.toThrow(
      /verification failed: blob .* reads back as/,
    );
    await second.close();
    expect((await readS3Layout(prefix)).index.manifests.map((m) => m.digest)).toEqual([
      images.plain.manifest.digest,
    ]);
  });

  it("tampering with a stored blob makes verification fail, even within one session (dir)", async () => {
    const { registry } = connect(url);
    const images = await seedImages(registry);
    const root = join(await tempDir(), "layout");
    const target = await openBackupTarget(`dir:${root}`);
    await target.backup(itemOf(images.plain), registry);
    const file = join(root, "blobs", "sha256", hex(images.sharedLayer));
    const size = (await stat(file)).size;
    await writeFile(file, Buffer.alloc(size, 0x61));

    await expect(target.backup(itemOf(images.sibling), registry)).rejects.toThrow(
      new RegExp(`verification failed: blob ${images.sharedLayer}`),
    );
    await target.close();
    expect((await readDirLayout(root)).index.manifests.map((m) => m.digest)).toEqual([
      images.plain.manifest.digest,
    ]);

    // Restore refuses to push the corrupt bytes anywhere.
    const fresh = new OciLayoutRegistry(await tempDir());
    const [result] = await restoreFromBackup(`dir:${root}`, fresh);
    expect(result?.status).toBe("failed");
    expect(result?.detail).toMatch(/corrupt/);
  });
});

describe("archives, S3 multipart, selection and tags", () => {
  const url = inject("registryUrl");

  it("oci-archive: an unclosed run's staging layout is restorable and continued; a closed archive is extended", async () => {
    const { registry } = connect(url);
    const images = await seedImages(registry);
    const tar = join(await tempDir(), "backup.tar");
    const dest = `oci-archive:${tar}`;

    const crashed = await openBackupTarget(dest);
    await crashed.backup(itemOf(images.plain), registry); // no close(): as if the process died
    await expect(stat(tar)).rejects.toThrow();
    const empty = new OciLayoutRegistry(await tempDir());
    expect((await restoreFromBackup(dest, empty)).map((r) => r.status)).toEqual(["restored"]);
    // An empty registry gets every blob pushed, children before their index.
    for (const [d, bytes] of images.plain.manifest.blobs) {
      expect((await empty.getBlob(images.plain.repository, d)).equals(bytes)).toBe(true);
    }

    const resumed = await openBackupTarget(dest);
    await resumed.backup(itemOf(images.sibling), registry);
    await resumed.close();
    const extended = await openBackupTarget(dest);
    await extended.backup(itemOf(images.multi), registry);
    await extended.close();

    const restored = await restoreFromBackup(dest, empty);
    expect(restored.map((r) => [r.repository, r.status])).toEqual([
      [images.plain.repository, "already-present"],
      [images.sibling.repository, "restored"],
      [images.multi.repository, "restored"],
    ]);
    for (const { repository, manifest } of images.manifests.filter(
      (m) => m.repository !== images.plain.repository,
    )) {
      expect((await empty.getManifest(repository, manifest.digest))?.body.equals(manifest.body)).toBe(true);
    }
  });

  it("S3: a layer above the part size goes up as a multipart upload and verifies", async () => {
    const { registry } = connect(url);
    const big = randomBytes(6 * 1024 * 1024 + 123);
    const images = await seedImages(registry, big);
    const destination = await destinationFor("s3");
    const target = await openBackupTarget(destination.dest, destination.options);
    await target.backup(itemOf(images.plain), registry);
    await target.close();
    const key = `${destination.dest.slice(`s3://${S3_BUCKET}/`.length)}/blobs/sha256/${hex(sha256Digest(big))}`;
    const head = await s3Client.send(new HeadObjectCommand({ Bucket: S3_BUCKET, Key: key }));
    expect(head.ContentLength).toBe(big.byteLength);
    const toKey = s3.requests.filter((r) => r.includes(key));
    expect(toKey.filter((r) => /^POST .*\?uploads/.test(r))).toHaveLength(1); // CreateMultipartUpload
    expect(toKey.filter((r) => /^PUT .*partNumber=/.test(r))).toHaveLength(2); // 5 MiB + the rest
  });

  it("restore: an --image that matches nothing throws naming it; a tag now naming another image is left alone", async () => {
    const { registry } = connect(url);
    const images = await seedImages(registry);
    const root = join(await tempDir(), "layout");
    const target = await openBackupTarget(`dir:${root}`);
    await target.backup(itemOf(images.plain), registry);
    await target.close();

    await expect(
      restoreFromBackup(`dir:${root}`, registry, {
        images: [`${images.plain.repository}:v1`, `${images.plain.repository}:nope`],
      }),
    ).rejects.toThrow(`not in the backup: ${images.plain.repository}:nope`);

    await registry.deleteManifest(images.plain.repository, images.plain.manifest.digest);
    const newer = buildImage({ seed: `${images.plain.repository} newer` });
    await pushManifest(registry, images.plain.repository, newer, ["v1"]);
    const [result] = await restoreFromBackup(`dir:${root}`, registry, {
      images: [`${images.plain.repository}@${images.plain.manifest.digest}`],
    });
    expect(result?.status).toBe("restored");
    expect(result?.detail).toBe(`tag v1 now points at ${newer.digest}; left unchanged`);
    expect((await registry.headManifest(images.plain.repository, "v1"))?.digest).toBe(newer.digest);
    expect((await registry.headManifest(images.plain.repository, "latest"))?.digest).toBe(
      images.plain.manifest.digest,
    );
  });

  it("oci-archive: restores from a layout packed by GNU tar or as pax, `./` names included", async () => {
    const { registry } = connect(url);
    const images = await seedImages(registry);
    const dir = await tempDir();
    const target = await openBackupTarget(`dir:${join(dir, "layout")}`);
    await target.backup(itemOf(images.multi), registry);
    await target.close();
    for (const format of ["gnu", "pax"]) {
      const tar = join(dir, `${format}.tar`);
      await run("tar", [`--format=${format}`, "-cf", tar, "-C", join(dir, "layout"), "."]);
      const empty = new OciLayoutRegistry(await tempDir());
      expect((await restoreFromBackup(`oci-archive:${tar}`, empty)).map((r) => r.status)).toEqual([
        "restored",
      ]);
      expect(
        (await empty.getManifest(images.multi.repository, "1.0"))?.body.equals(images.multi.manifest.body),
      ).toBe(true);
    }
  });

  it("the ustar writer's long names (prefix field) read back with system tar and our reader", async () => {
    const dir = await tempDir();
    const source = join(dir, "payload");
    await writeFile(source, "hello");
    const longName = `${"d".repeat(120)}/${"f".repeat(90)}`;
    const tar = join(dir, "long.tar");
    await writeTar(tar, [{ type: "file", name: longName, source }]);
    expect((await run("tar", ["-tf", tar])).stdout.trim()).toBe(longName);
    const file = await openTar(tar);
    try {
      const [member] = await listTar(file);
      expect(member).toMatchObject({ name: longName, size: 5 });
    } finally {
      await file.close();
    }
  });

  it("a name too long for ustar's prefix field goes into a pax header and reads back with system tar and our reader", async () => {
    const dir = await tempDir();
    const source = join(dir, "payload");
    await writeFile(source, "hello pax");
    const longName = `${"d".repeat(200)}/${"f".repeat(120)}`;
    const tar = join(dir, "pax.tar");
    await writeTar(tar, [{ type: "file", name: longName, source }]);
    expect((await run("tar", ["-tf", tar])).stdout.trim()).toBe(longName);
    const file = await openTar(tar);
    try {
      const members = (await listTar(file)).filter((m) => m.type === "0");
      expect(members).toEqual([expect.objectContaining({ name: longName, size: 9 })]);
      expect((await readAt(file, members[0]?.offset ?? 0, 9)).toString()).toBe("hello pax");
    } finally {
      await file.close();
    }
  });

  it("an unknown destination is refused with the accepted forms", async () => {
    await expect(openBackupTarget("ftp://host/x")).rejects.toThrow(
      "use dir:PATH, oci-archive:PATH.tar or s3://BUCKET[/PREFIX]",
    );
    await expect(restoreFromBackup("/tmp/x", connect(url).registry)).rejects.toThrow(
      /is not recognised; use dir:PATH/,
    );
  });
});

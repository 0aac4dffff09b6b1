import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type BuiltManifest, buildImage, pushManifest } from "../../src/fixtures/image-factory.js";
import type { Digest } from "../../src/oci/digest.js";
import { type FaultProxy, startFaultProxy } from "../harness/fault-proxy.js";
import { type RunningRegistry, startRegistry } from "../harness/registry-process.js";
import { connect, readAudits, runCli, tempDir, uniqueRepo } from "../integration/helpers.js";

const ago = (days: number) => new Date(Date.now() - days * 86_400_000);
const BLOB_GET = /^\/v2\/.+\/blobs\/(sha256:[0-9a-f]{64})$/;

/** Images whose layers are big enough (256 KiB) to be cut mid-way, pushed straight to `url`. */
async function seed(url: string, count: number) {
  const { registry } = connect(url);
  const p = uniqueRepo("faults");
  const images: BuiltManifest[] = [];
  for (let i = 0; i < count; i++) {
    const image = buildImage({ seed: `${p} ${i}`, created: ago(90), layers: [randomBytes(256 * 1024)] });
    await pushManifest(registry, p, image, [`v${i}`]);
    images.push(image);
  }
  const sizes = new Map<string, number>();
  for (const image of images) for (const [d, b] of image.blobs) sizes.set(d, b.byteLength);
  return { p, images, sizes, dir: await tempDir() };
}

async function planAndApplyWithBackup(via: string, p: string, dir: string) {
  const planFile = join(dir, "plan.json");
  const audits = join(dir, "audits");
  const plan = await runCli(["plan", "--registry", via, "--filter", `${p}:.*`, "-o", planFile, "--no-cache"]);
  expect(plan.code, plan.stderr).toBe(0);
  const backup = `dir:${join(dir, "backup")}`;
  const res = await runCli([
    "apply",
    planFile,
    "--yes",
    "--no-usage-sources",
    "--backup",
    backup,
    "--no-cache",
    "--audit-dir",
    audits,
  ]);
  const audit = (await readAudits(audits)).find((a) => a.name.includes("_apply_"));
  const manifests = (audit?.json.manifests ?? []) as {
    digest: string;
    result: { status: string; backedUp?: boolean; detail?: string };
  }[];
  return { res, backup, manifests };
}

describe("backup reads that break mid-blob are continued where they broke", () => {
  const url = inject("registryUrl");
  const { registry } = connect(url);

  it("the first read of every blob cut after half its bytes: all backed up byte for byte, all deleted, restore brings them back", async () => {
    const s = await seed(url, 3);
    // Layers only: configs are read whole by the scan too, where the transport simply retries.
    const layers = new Set([...s.sizes].filter(([, size]) => size > 100_000).map(([d]) => d));
    const cut = new Set<string>();
    let ranged = 0;
    const proxy = await startFaultProxy(url, ({ method, url: path, headers }) => {
      const digest = method === "GET" ? BLOB_GET.exec(path)?.[1] : undefined;
      if (!digest || !layers.has(digest)) return null;
      if (headers.range) ranged++;
      if (cut.has(digest)) return null;
      cut.add(digest);
      return { cutBodyAfter: Math.floor((s.sizes.get(digest) as number) / 2) };
    });
    try {
      const { res, backup, manifests } = await planAndApplyWithBackup(proxy.url, s.p, s.dir);
      expect(res.code, res.stderr).toBe(0);
      expect(manifests).toHaveLength(3);
      expect(manifests.every((m) => m.result.status === "deleted" && m.result.backedUp)).toBe(true);
      expect(cut.size).toBe(3);
      expect(ranged).toBe(3); // each continued once from where it broke, not started over
      for (const image of s.images) {
        expect(await registry.headManifest(s.p, image.digest)).toBeUndefined();
        for (const [digest, bytes] of image.blobs) {
          const stored = await readFile(join(s.dir, "backup", "blobs", "sha256", digest.slice(7)));
          expect(stored.equals(bytes)).toBe(true);
        }
      }
      const restored = await runCli(["restore", "--from", backup, "--to", url]);
      expect(restored.code, restored.stderr).toBe(0);
      for (const image of s.images) {
        expect((await registry.getManifest(s.p, image.digest))?.body.equals(image.body)).toBe(true);
      }
    } finally {
      await proxy.stop();
    }
  });

  it("a blob whose every read is cut fails its item with the cause, and that image is not deleted", async () => {
    const s = await seed(url, 2);
    const doomed = s.images[0] as BuiltManifest;
    const layer = [...doomed.blobs.keys()].find((d) => (doomed.blobs.get(d)?.byteLength ?? 0) > 100_000);
    let cuts = 0;
    const proxy = await startFaultProxy(url, ({ method, url: path }) => {
      if (method !== "GET" || BLOB_GET.exec(path)?.[1] !== layer) return null;
      cuts++;
      return { cutBodyAfter: 1000 };
    });
    try {
      const { res, manifests } = await planAndApplyWithBackup(proxy.url, s.p, s.dir);
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(
        new RegExp(
          `failed .*backup to dir:.* failed, so it was not deleted: blob ${s.p}@${layer}: the transfer broke 4 times`,
        ),
      );
      expect(cuts).toBe(4);
      const byDigest = new Map(manifests.map((m) => [m.digest, m.result.status]));
      expect(byDigest.get(doomed.digest)).toBe("failed");
      expect(byDigest.get((s.images[1] as BuiltManifest).digest)).toBe("deleted");
      expect(await registry.headManifest(s.p, doomed.digest)).toBeDefined();
    } finally {
      await proxy.stop();
    }
  });
});

describe("restore when the answer to a finished upload is lost", () => {
  const url = inject("registryUrl");
  let fresh: RunningRegistry;
  let proxy: FaultProxy | undefined;

  beforeAll(async () => {
    // A registry that has none of the blobs, so restore uploads every one.
    fresh = await startRegistry();
  });
  afterAll(async () => {
    await proxy?.stop();
    await fresh?.stop();
  });

  async function backedUp() {
    const s = await seed(url, 1);
    const { res, backup } = await planAndApplyWithBackup(url, s.p, s.dir);
    expect(res.code, res.stderr).toBe(0);
    return { ...s, backup };
  }

  async function expectIdentical(p: string, images: BuiltManifest[]) {
    const target = connect(fresh.url).registry;
    for (const image of images) {
      expect((await target.getManifest(p, image.digest))?.body.equals(image.body)).toBe(true);
      for (const [digest, bytes] of image.blobs)
        expect((await target.getBlob(p, digest as Digest)).equals(bytes)).toBe(true);
    }
    expect((await target.headManifest(p, "v0"))?.digest).toBe(images[0]?.digest);
  }

  it("the first blob upload completes but its connection is cut before the 201: the retry finds the blob there", async () => {
    const s = await backedUp();
    let dropped = 0;
    proxy = await startFaultProxy(fresh.url, ({ method, url: path }) => {
      if (method !== "PUT" || !path.includes("/blobs/uploads/") || dropped > 0) return null;
      dropped++;
      return { dropResponse: true };
    });
    const res = await runCli(["restore", "--from", s.backup, "--to", proxy.url]);
    expect(res.code, res.stderr).toBe(0);
    expect(dropped).toBe(1);
    await expectIdentical(s.p, s.images);
    await proxy.stop();
    proxy = undefined;
  });

  it("an upload the registry no longer knows, with the blob not there, is started again", async () => {
    const s = await backedUp();
    let lost = 0;
    proxy = await startFaultProxy(fresh.url, ({ method, url: path }) => {
      if (method !== "PUT" || !path.includes("/blobs/uploads/") || lost > 0) return null;
      lost++;
      return {
        status: 404,
        body: { errors: [{ code: "BLOB_UPLOAD_UNKNOWN", message: "blob upload unknown" }] },
      };
    });
    const res = await runCli(["restore", "--from", s.backup, "--to", proxy.url]);
    expect(res.code, res.stderr).toBe(0);
    expect(lost).toBe(1);
    await expectIdentical(s.p, s.images);
    await proxy.stop();
    proxy = undefined;
  });
});

import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  type BuiltManifest,
  buildImage,
  buildIndex,
  pushManifest,
} from "../../src/fixtures/image-factory.js";
import { startRegistry } from "../harness/registry-process.js";
import { S3_BUCKET, startS3 } from "../integration/backup/s3-server.js";
import { connect, readAudits, runCli, tempDir, uniqueRepo } from "../integration/helpers.js";

const ago = (days: number) => new Date(Date.now() - days * 86_400_000);
const AWS = {
  AWS_ACCESS_KEY_ID: "S3RVER",
  AWS_SECRET_ACCESS_KEY: "S3RVER-secret-never-logged",
  AWS_REGION: "us-east-1",
};

describe("backup before deleting, then restore (CLI, real registry, real S3 protocol)", () => {
  const url = inject("registryUrl");
  const { registry } = connect(url);
  let s3: Awaited<ReturnType<typeof startS3>>;

  beforeAll(async () => {
    s3 = await startS3();
  });
  afterAll(async () => {
    await s3?.stop();
  });

  async function seed() {
    const p = uniqueRepo("backup");
    const single = buildImage({ seed: `${p} single`, created: ago(90), layers: ["shared base", `${p} app`] });
    const multi = buildIndex([
      buildImage({ seed: `${p} amd`, created: ago(90), layers: ["shared base", `${p} amd`] }),
      buildImage({
        seed: `${p} arm`,
        created: ago(90),
        architecture: "arm64",
        layers: ["shared base", `${p} arm`],
      }),
    ]);
    await pushManifest(registry, p, single, ["v1", "stable"]);
    await pushManifest(registry, p, multi, ["v2"]);
    return { p, single, multi, dir: await tempDir() };
  }

  async function expectGone(p: string, images: BuiltManifest[]) {
    for (const m of images) expect(await registry.headManifest(p, m.digest)).toBeUndefined();
  }

  async function expectRestored(p: string, single: BuiltManifest, multi: BuiltManifest) {
    for (const m of [single, multi, ...multi.children]) {
      expect((await registry.getManifest(p, m.digest))?.body.equals(m.body)).toBe(true);
    }
    expect((await registry.headManifest(p, "v1"))?.digest).toBe(single.digest);
    expect((await registry.headManifest(p, "stable"))?.digest).toBe(single.digest);
    expect((await registry.headManifest(p, "v2"))?.digest).toBe(multi.digest);
    const layer = [...single.blobs.keys()][1];
    expect(layer && (await registry.getBlob(p, layer)).equals(single.blobs.get(layer) as Buffer)).toBe(true);
  }

  it.each([
    ["dir", (d: string) => `dir:${join(d, "backup")}`],
    ["oci-archive", (d: string) => `oci-archive:${join(d, "backup.tar")}`],
    ["s3", (d: string) => `s3://${S3_BUCKET}/${d.split("/").at(-1)}`],
  ])(
    "%s: purge --apply --backup deletes only after a verified copy; restore brings identical digests back",
    async (_, dest) => {
      const { p, single, multi, dir } = await seed();
      const backup = dest(dir);
      const s3Flags = backup.startsWith("s3://") ? ["--s3-endpoint", s3.endpoint] : [];
      const res = await runCli(
        [
          "purge",
          "--registry",
          url,
          "--filter",
          `${p}:.*`,
          "--apply",
          "--yes",
          "--no-usage-sources",
          "--backup",
          backup,
          ...s3Flags,
          "--no-cache",
          "--audit-dir",
          join(dir, "audits"),
        ],
        { env: AWS },
      );
      expect(res.stderr).not.toMatch(/^failed/m);
      expect(res.code).toBe(0);
      await expectGone(p, [single, multi, ...multi.children]);
      const audit = (await readAudits(join(dir, "audits"))).find((a) => a.name.includes("_apply_"));
      expect(audit?.text).not.toContain(AWS.AWS_SECRET_ACCESS_KEY);
      const manifests = (audit?.json.manifests ?? []) as { result: { status: string; backedUp?: boolean } }[];
      const statuses = manifests.map((m) => m.result);
      expect(statuses.length).toBeGreaterThan(0);
      expect(statuses.every((r) => r.status === "deleted" && r.backedUp)).toBe(true);

      const restored = await runCli(
        ["restore", "--from", backup, "--to", url, ...s3Flags, "--format", "json"],
        { env: AWS },
      );
      expect(restored.code, restored.stderr).toBe(0);
      await expectRestored(p, single, multi);
      const again = await runCli(["restore", "--from", backup, "--to", url, ...s3Flags, "--format", "json"], {
        env: AWS,
      });
      expect(JSON.parse(again.stdout).every((r: { status: string }) => r.status === "already-present")).toBe(
        true,
      );
    },
  );

  it("a backup that cannot be written (S3 down) deletes nothing: every item fails, exit 1", async () => {
    const { p, single, multi, dir } = await seed();
    const res = await runCli(
      [
        "purge",
        "--registry",
        url,
        "--filter",
        `${p}:.*`,
        "--apply",
        "--yes",
        "--no-usage-sources",
        "--backup",
        `s3://${S3_BUCKET}/down`,
        "--s3-endpoint",
        "http://127.0.0.1:1",
        "--no-cache",
        "--audit-dir",
        join(dir, "audits"),
      ],
      { env: AWS },
    );
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/backup to s3:\/\/.* failed, so it was not deleted/);
    for (const m of [single, multi, ...multi.children])
      expect(await registry.headManifest(p, m.digest)).toBeDefined();
  });

  it("restore streams each blob and refuses a corrupt one: the registry never gets it", async () => {
    const { p, single, dir } = await seed();
    const root = join(dir, "b");
    expect(
      (
        await runCli([
          "purge",
          "--registry",
          url,
          "--filter",
          `${p}:^(v1|stable)$`,
          "--apply",
          "--yes",
          "--no-usage-sources",
          "--backup",
          `dir:${root}`,
          "--no-cache",
          "--audit-dir",
          join(dir, "a"),
        ])
      ).code,
    ).toBe(0);
    const layer = [...single.blobs.keys()][2] as string; // the layer only this image has
    const file = join(root, "blobs", "sha256", layer.slice("sha256:".length));
    const { stat, writeFile } = await import("node:fs/promises");
    await writeFile(file, Buffer.alloc((await stat(file)).size, 0x61));
    // A fresh registry: distribution keeps blobs of deleted manifests until garbage collection.
    const fresh = await startRegistry();
    try {
      const started = Date.now();
      const res = await runCli(["restore", "--from", `dir:${root}`, "--to", fresh.url, "--format", "json"]);
      expect(res.code).toBe(1);
      expect(JSON.parse(res.stdout)[0].detail).toMatch(/corrupt/);
      expect(Date.now() - started).toBeLessThan(10_000); // a digest mismatch is not retried
      expect(await connect(fresh.url).registry.hasBlob(p, layer as never)).toBe(false);
    } finally {
      await fresh.stop();
    }
  });

  it("restore --image brings back only the named image; an unknown one is a usage error", async () => {
    const { p, single, multi, dir } = await seed();
    const backup = `dir:${join(dir, "b")}`;
    expect(
      (
        await runCli([
          "purge",
          "--registry",
          url,
          "--filter",
          `${p}:.*`,
          "--apply",
          "--yes",
          "--no-usage-sources",
          "--backup",
          backup,
          "--no-cache",
          "--audit-dir",
          join(dir, "a"),
        ])
      ).code,
    ).toBe(0);
    const one = await runCli(["restore", "--from", backup, "--to", url, "--image", `${p}:v1`]);
    expect(one.code).toBe(0);
    expect((await registry.headManifest(p, "v1"))?.digest).toBe(single.digest);
    expect(await registry.headManifest(p, multi.digest)).toBeUndefined();
    const unknown = await runCli(["restore", "--from", backup, "--to", url, "--image", `${p}:nope`]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/not in the backup/);
  });
});

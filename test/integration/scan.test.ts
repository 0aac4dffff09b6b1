import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import {
  buildCosignSignature,
  buildImage,
  buildIndex,
  buildReferrer,
  pushManifest,
  pushReferrers,
} from "../../src/fixtures/image-factory.js";
import { ContentCache } from "../../src/inventory/content-cache.js";
import type { OwnerSource } from "../../src/inventory/graph.js";
import { readPack } from "../../src/inventory/pack.js";
import { scanRegistry } from "../../src/inventory/scan.js";
import { decodeState } from "../../src/inventory/state-codec.js";
import { parseFilter, repositorySelected } from "../../src/policy/filter.js";
import { connect, runCli, tempDir, uniqueRepo } from "./helpers.js";

describe("scan builds the manifest graph", () => {
  const url = inject("registryUrl");

  it("records tags, children, subjects, ages with their source, and sizes", async () => {
    const { registry } = connect(url);
    const p = uniqueRepo("graph");
    const amd = buildImage({ seed: `${p} amd`, created: "2025-01-01T00:00:00Z", architecture: "amd64" });
    const arm = buildImage({
      seed: `${p} arm`,
      created: "2025-02-01T00:00:00Z",
      architecture: "arm64",
      os: "linux",
    });
    const index = buildIndex([amd, arm]);
    const plain = buildImage({ seed: `${p} plain`, created: "2024-06-01T00:00:00Z", layers: ["x", "y"] });
    const sig = buildCosignSignature(plain);
    const sbom = buildReferrer(plain, "application/spdx+json", "{}");
    await pushManifest(registry, p, index, ["multi", "also-multi"]);
    await pushManifest(registry, p, plain, ["plain"]);
    await pushManifest(registry, p, sig, [`${plain.digest.replace(":", "-")}.sig`]);
    const fallback = await pushReferrers(registry, p, plain, [sbom]);

    const filters = [parseFilter(`${p}:.*`)];
    const inventory = await scanRegistry(registry, {
      cache: new ContentCache(undefined),
      includeRepository: (n) => repositorySelected(filters, n),
    });
    expect(inventory.repositories.map((r) => r.name)).toEqual([p]);
    const nodes = new Map(inventory.repositories[0]?.manifests.map((m) => [m.digest, m]));
    expect(nodes.size).toBe(7);
    const idx = nodes.get(index.digest);
    expect(idx?.tags).toEqual(["also-multi", "multi"]);
    expect(idx?.children).toEqual([amd.digest, arm.digest]);
    expect(idx?.created).toBe("2025-02-01T00:00:00.000Z");
    expect(idx?.ageSource).toBe("child");
    expect(idx?.sizeBytes).toBe(
      index.body.byteLength +
        (nodes.get(amd.digest)?.sizeBytes ?? 0) +
        (nodes.get(arm.digest)?.sizeBytes ?? 0),
    );
    expect(nodes.get(arm.digest)?.platform).toBe("linux/arm64");
    expect(nodes.get(arm.digest)?.tags).toEqual([]);
    const plainNode = nodes.get(plain.digest);
    expect(plainNode?.ageSource).toBe("config");
    expect(plainNode?.created).toBe("2024-06-01T00:00:00.000Z");
    const blobBytes = [...plain.blobs.values()].reduce((s, b) => s + b.byteLength, 0);
    expect(plainNode?.sizeBytes).toBe(plain.body.byteLength + blobBytes);
    expect(nodes.get(sig.digest)?.subject).toBe(plain.digest); // through the cosign tag
    expect(nodes.get(sig.digest)?.ageSource).toBe("unknown");
    expect(nodes.get(sbom.digest)?.subject).toBe(plain.digest); // through its subject field
    expect(nodes.get(fallback.digest)?.subject).toBe(plain.digest); // the sha256-<hex> index
    expect(nodes.get(fallback.digest)?.children).toEqual([sbom.digest]);
  });

  it("a warm scan reads no manifest or config body again: catalog, tag lists and one HEAD per tag", async () => {
    const fresh = await (await import("../harness/registry-process.js")).startRegistry();
    try {
      const seed = connect(fresh.url).registry;
      for (const r of ["a", "b"]) {
        for (const t of ["1", "2", "3"])
          await pushManifest(seed, r, buildImage({ seed: `${r}${t}`, created: "2025-01-01" }), [t]);
      }
      await pushManifest(seed, "b", buildIndex([buildImage({ seed: "c1" }), buildImage({ seed: "c2" })]), [
        "multi",
      ]);
      const cacheDir = join(await tempDir(), "cache");
      const scan = async (owner?: OwnerSource) => {
        const { registry, transport } = connect(fresh.url);
        const inventory = await scanRegistry(registry, {
          cache: new ContentCache(cacheDir),
          ...(owner ? { owner } : {}),
        });
        return { inventory, requests: transport.stats.requests };
      };
      const cacheBytes = async () => {
        const dir = join(cacheDir, "repositories");
        const files = await readdir(dir);
        return (await Promise.all(files.map(async (f) => (await stat(join(dir, f))).size))).sort();
      };
      const cold = await scan();
      // catalog 1 + tag lists 2 + referrers probe 1 + 7 tag GETs + 6 configs + 2 children + 2 child configs
      expect(cold.requests).toBe(1 + 2 + 1 + 7 + 6 + 2 + 2);
      // Per repository one pack, holding its bodies and its state: not a file per body.
      expect(await cacheBytes()).toHaveLength(2);
      const coldBytes = await cacheBytes();
      const inodes = async () => {
        const dir = join(cacheDir, "repositories");
        return Promise.all((await readdir(dir)).sort().map(async (f) => (await stat(join(dir, f))).ino));
      };
      const coldInodes = await inodes();
      const warm = await scan();
      expect(warm.requests).toBe(1 + 2 + 1 + 7);
      expect(warm.inventory).toEqual({ ...cold.inventory, scannedAt: warm.inventory.scannedAt });
      // Nothing changed, so nothing was written again.
      expect(await cacheBytes()).toEqual(coldBytes);
      expect(await inodes()).toEqual(coldInodes);
      // Another owner key: nodes are derived again, from the bodies in the packs, not fetched again.
      const relabelled = await scan({ label: "team" });
      expect(relabelled.requests).toBe(1 + 2 + 1 + 7);
      expect(relabelled.inventory.repositories.flatMap((r) => r.manifests.map((m) => m.digest))).toEqual(
        cold.inventory.repositories.flatMap((r) => r.manifests.map((m) => m.digest)),
      );
      // A tag moved: the state says so afterwards, and the next scan needs only the new image's config.
      const moved = buildImage({ seed: "a1 again", created: "2025-02-01" });
      await pushManifest(seed, "a", moved, ["1"]);
      const afterMove = await scan({ label: "team" });
      expect(afterMove.requests).toBe(1 + 2 + 1 + 7 + 1);
      const states = join(cacheDir, "repositories");
      const lastStates = await Promise.all(
        (await readdir(states)).map(async (f) => {
          const state = readPack(await readFile(join(states, f))).state;
          return state ? decodeState(state.toString()) : undefined;
        }),
      );
      expect(lastStates.filter((t) => t?.tags.get("1") === moved.digest)).toHaveLength(1);
      const again = await scan({ label: "team" });
      expect(again.requests).toBe(1 + 2 + 1 + 7);
      expect(
        again.inventory.repositories.find((r) => r.name === "a")?.manifests.find((m) => m.tags.includes("1"))
          ?.digest,
      ).toBe(moved.digest);

      const cli = await runCli([
        "scan",
        "--registry",
        fresh.url,
        "--cache-dir",
        cacheDir,
        "--format",
        "json",
      ]);
      expect(cli.code).toBe(0);
      const out = JSON.parse(cli.stdout);
      expect(out.requests).toBe(1 + 2 + 1 + 7);
      expect(
        out.repositories.map((r: { repository: string; manifests: number }) => [r.repository, r.manifests]),
      ).toEqual([
        ["a", 3],
        ["b", 6],
      ]);
    } finally {
      await fresh.stop();
    }
  });
});

describe("registries with the referrers API", () => {
  const url = inject("registryUrl");

  it("finds untagged referrers through the API, and purge deletes them with their subject", async () => {
    const { registry } = connect(url);
    const p = uniqueRepo("refapi");
    const old = buildImage({ seed: `${p} old`, created: "2024-01-01" });
    const current = buildImage({ seed: `${p} current`, created: "2024-02-01" });
    const oldSbom = buildReferrer(old, "application/spdx+json", `${p} old sbom`);
    const oldSig = buildReferrer(oldSbom, "application/vnd.dev.sigstore.bundle+json", `${p} sig of sbom`);
    const currentSbom = buildReferrer(current, "application/spdx+json", `${p} current sbom`);
    await pushManifest(registry, p, old, ["old"]);
    await pushManifest(registry, p, current, ["current"]);
    // Referrers pushed by digest only: without the API nothing could find them.
    for (const r of [oldSbom, oldSig, currentSbom]) await pushManifest(registry, p, r);
    const referrersOf = new Map([
      [old.digest, [oldSbom]],
      [oldSbom.digest, [oldSig]],
      [current.digest, [currentSbom]],
    ]);
    // distribution 2.8 lacks the API; the proxy answers it as a 1.1 registry would.
    const { startFaultProxy } = await import("../harness/fault-proxy.js");
    const proxy = await startFaultProxy(url, ({ method, url: path }) => {
      const m = /^\/v2\/(.+)\/referrers\/(sha256:[a-f0-9]{64})/.exec(path);
      if (method !== "GET" || !m) return null;
      const found = m[1] === p ? (referrersOf.get(m[2] as never) ?? []) : [];
      return {
        status: 200,
        contentType: "application/vnd.oci.image.index.v1+json",
        body: {
          schemaVersion: 2,
          mediaType: "application/vnd.oci.image.index.v1+json",
          manifests: found.map((r) => ({
            mediaType: r.mediaType,
            digest: r.digest,
            size: r.body.byteLength,
          })),
        },
      };
    });
    try {
      const dir = await tempDir();
      const res = await runCli([
        "purge",
        "--registry",
        proxy.url,
        "--filter",
        `${p}:.*`,
        "--keep",
        "1",
        "--apply",
        "--yes",
        "--no-usage-sources",
        "--no-cache",
        "--audit-dir",
        join(dir, "a"),
        "-o",
        join(dir, "plan.json"),
      ]);
      expect(res.stderr).not.toMatch(/regsweep:/);
      expect(res.code).toBe(0);
      const plan = JSON.parse(
        await (await import("node:fs/promises")).readFile(join(dir, "plan.json"), "utf8"),
      );
      const order = plan.delete.map((d: { digest: string }) => d.digest);
      expect(order[0]).toBe(old.digest); // the subject first: a stop then leaves only orphan referrers
      expect([...order].sort()).toEqual([oldSig.digest, oldSbom.digest, old.digest].sort());
      for (const gone of [old, oldSbom, oldSig])
        expect(await registry.headManifest(p, gone.digest)).toBeUndefined();
      for (const stays of [current, currentSbom])
        expect(await registry.headManifest(p, stays.digest)).toBeDefined();
    } finally {
      await proxy.stop();
    }
  });
});

describe("damaged registries", () => {
  const url = inject("registryUrl");

  it("an index whose child the registry lost is reported, not fatal (garbage-collect -m does this)", async () => {
    const { registry } = connect(url);
    const p = uniqueRepo("damaged");
    const index = buildIndex([
      buildImage({ seed: `${p} a`, created: "2024-01-01" }),
      buildImage({ seed: `${p} b`, created: "2024-01-01" }),
    ]);
    await pushManifest(registry, p, index, ["multi"]);
    const lost = index.children[1]?.digest as string;
    expect(await registry.deleteManifest(p, lost as never)).toBe("deleted");
    const res = await runCli([
      "plan",
      "--registry",
      url,
      "--filter",
      `${p}:.*`,
      "--no-cache",
      "--format",
      "json",
      "--audit-dir",
      join(await tempDir(), "a"),
    ]);
    expect(res.code, res.stderr).toBe(0);
    const plan = JSON.parse(res.stdout);
    expect(plan.warnings.join("\n")).toContain(`lists ${lost}, which the registry no longer has`);
    expect(plan.delete.map((d: { digest: string }) => d.digest).sort()).toEqual(
      [index.digest, index.children[0]?.digest].sort(),
    );
  });
});

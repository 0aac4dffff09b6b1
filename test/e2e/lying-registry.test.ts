import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import { buildImage, pushManifest } from "../../src/fixtures/image-factory.js";
import { sha256Digest } from "../../src/oci/digest.js";
import { type LyingProxy, startLyingProxy } from "../harness/lying-proxy.js";
import { connect, runCli, tempDir, uniqueRepo } from "../integration/helpers.js";

const ago = (days: number) => new Date(Date.now() - days * 86_400_000);

/** A registry that lies must never get an in-use image deleted: regsweep notices and stops, or sees through it. */
describe("a registry that lies", () => {
  const url = inject("registryUrl");
  const { registry } = connect(url);
  let proxy: LyingProxy | undefined;
  afterEach(async () => {
    await proxy?.stop();
    proxy = undefined;
  });

  async function seed(name: string, images: Record<string, { days: number; tags: string[] }>) {
    const repo = uniqueRepo(name);
    const built: Record<string, ReturnType<typeof buildImage>> = {};
    for (const [key, { days, tags }] of Object.entries(images)) {
      built[key] = buildImage({ seed: `${repo} ${key}`, created: ago(days) });
      await pushManifest(registry, repo, built[key], tags);
    }
    const dir = await tempDir();
    return { repo, built, dir };
  }

  const purge = (proxyUrl: string, repo: string, dir: string, inUse: string, ...extra: string[]) =>
    runCli([
      "purge",
      "--registry",
      proxyUrl,
      "--filter",
      `${repo}:.*`,
      "--ago",
      "30d",
      "--in-use-file",
      inUse,
      "--audit-dir",
      join(dir, "audits"),
      ...extra,
    ]);
  const exists = async (repo: string, digest: string) =>
    (await registry.getManifest(repo, digest)) !== undefined;

  it("a tag list whose next page is one already read fails the run, naming repository and cursor; nothing is deleted", async () => {
    const { repo, built, dir } = await seed("lie-loop", {
      p: { days: 90, tags: ["p-old", "prod"] },
      x: { days: 90, tags: ["x1"] },
    });
    proxy = await startLyingProxy(url, {
      before: (req) =>
        req.method === "GET" && req.url.startsWith(`/v2/${repo}/tags/list`)
          ? {
              body: Buffer.from(JSON.stringify({ name: repo, tags: ["p-old", "x1"] })),
              headers: {
                "content-type": "application/json",
                link: `</v2/${repo}/tags/list?n=2&last=x1>; rel="next"`,
              },
            }
          : null,
    });
    const inUse = join(dir, "in-use.txt");
    await writeFile(inUse, `${proxy.host}/${repo}:prod\n`);
    const res = await purge(proxy.url, repo, dir, inUse, "--no-cache", "--apply", "--yes");
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`tag list of ${repo}`);
    expect(res.stderr).toContain("last=x1");
    expect(
      res.stderr
        .trim()
        .split("\n")
        .filter((l) => l.startsWith("regsweep:")),
    ).toHaveLength(1);
    expect(await exists(repo, built.p?.digest ?? "")).toBe(true);
    expect(await exists(repo, built.x?.digest ?? "")).toBe(true);
  });

  it("an in-use tag the tag list leaves out is read directly and protects its image", async () => {
    const { repo, built, dir } = await seed("lie-hide", {
      p: { days: 90, tags: ["p-old", "prod"] },
      x: { days: 90, tags: ["x1"] },
    });
    proxy = await startLyingProxy(url, {
      before: (req) =>
        req.method === "GET" && req.url.startsWith(`/v2/${repo}/tags/list`)
          ? { body: Buffer.from(JSON.stringify({ name: repo, tags: ["p-old", "x1"] })) }
          : null,
    });
    const inUse = join(dir, "in-use.txt");
    await writeFile(inUse, `${proxy.host}/${repo}:prod\n`);
    const res = await purge(proxy.url, repo, dir, inUse, "--no-cache", "--apply", "--yes");
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/KEEP .*in-use/);
    expect(await exists(repo, built.p?.digest ?? "")).toBe(true);
    expect(await exists(repo, built.x?.digest ?? "")).toBe(false);
  });

  it("a catalog that links to itself, or pages on without anything new, fails the run instead of ending the list", async () => {
    const { repo, dir } = await seed("lie-catalog", { a: { days: 90, tags: ["a1"] } });
    let page = 0;
    for (const link of [() => "</v2/_catalog?n=1000>", () => `</v2/_catalog?n=1000&last=${++page}>`]) {
      proxy = await startLyingProxy(url, {
        before: (req) =>
          req.url.startsWith("/v2/_catalog")
            ? {
                body: Buffer.from(JSON.stringify({ repositories: [repo] })),
                headers: { "content-type": "application/json", link: `${link()}; rel="next"` },
              }
            : null,
      });
      const inUse = join(dir, "in-use.txt");
      await writeFile(inUse, "# nothing\n");
      const started = Date.now();
      const res = await purge(proxy.url, repo, dir, inUse, "--no-cache");
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/the catalog on 127\.0\.0\.1:\d+ cannot be completed/);
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(proxy.seen.filter((r) => r.url.startsWith("/v2/_catalog")).length).toBeLessThanOrEqual(3);
      await proxy.stop();
      proxy = undefined;
    }
  });

  it("a HEAD advertising a stale digest never gets an in-use image deleted (warm cache, tag moved back)", async () => {
    const { repo, built, dir } = await seed("lie-head", {
      p: { days: 90, tags: ["p-old"] },
      d: { days: 5, tags: ["prod"] },
    });
    const p = built.p as NonNullable<typeof built.p>;
    const d = built.d as NonNullable<typeof built.d>;
    let lying = false;
    proxy = await startLyingProxy(url, {
      after: (req) =>
        lying && req.method === "HEAD" && req.url === `/v2/${repo}/manifests/prod`
          ? {
              headers: {
                "docker-content-digest": d.digest,
                "content-type": d.mediaType,
                "content-length": String(d.body.length),
              },
            }
          : null,
    });
    const inUse = join(dir, "in-use.txt");
    await writeFile(inUse, `${proxy.host}/${repo}:prod\n`);
    const cache = ["--cache-dir", join(dir, "cache")];
    expect((await purge(proxy.url, repo, dir, inUse, ...cache)).code).toBe(0); // warms the cache
    await registry.putManifest(repo, "prod", p.mediaType, p.body); // a rollback: prod back on P
    lying = true;
    const res = await purge(proxy.url, repo, dir, inUse, ...cache, "--apply", "--yes");
    expect(res.code, res.stderr).toBe(0);
    expect(await exists(repo, p.digest)).toBe(true);
    expect((await registry.getManifest(repo, "prod"))?.digest).toBe(p.digest);
  });

  it("a GET by tag whose body does not match its Docker-Content-Digest stops the run with a clear error", async () => {
    const { repo, built, dir } = await seed("lie-body", {
      p: { days: 90, tags: ["p-old", "prod"] },
      g: { days: 90, tags: ["g1"] },
    });
    const p = built.p as NonNullable<typeof built.p>;
    const g = built.g as NonNullable<typeof built.g>;
    proxy = await startLyingProxy(url, {
      before: (req) =>
        req.method === "GET" && req.url === `/v2/${repo}/manifests/prod`
          ? { body: g.body, headers: { "content-type": g.mediaType, "docker-content-digest": p.digest } }
          : null,
    });
    const inUse = join(dir, "in-use.txt");
    await writeFile(inUse, `${proxy.host}/${repo}:prod\n`);
    const res = await purge(proxy.url, repo, dir, inUse, "--no-cache", "--apply", "--yes");
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`manifest ${repo}:prod on ${proxy.host}: the body hashes to ${g.digest}`);
    expect(await exists(repo, p.digest)).toBe(true);
    expect(await exists(repo, g.digest)).toBe(true);
  });

  it("a manifest that is not JSON, or not shaped like one, is a one-line error naming registry, repository and reference", async () => {
    const { repo, dir } = await seed("lie-shape", { a: { days: 90, tags: ["a1"] } });
    const inUse = join(dir, "in-use.txt");
    await writeFile(inUse, "# nothing\n");
    const bodies = [
      ['{"schemaVersion":2, "config": ', /is not a valid image manifest or index: the body is not JSON/],
      [
        '{"schemaVersion":2,"config":{"digest":"nope","size":-1}}',
        /config\.mediaType: .*; config\.digest: not a sha256 digest/,
      ],
    ] as const;
    for (const [text, expected] of bodies) {
      const body = Buffer.from(text);
      proxy = await startLyingProxy(url, {
        before: (req) =>
          req.method === "GET" && req.url === `/v2/${repo}/manifests/a1`
            ? {
                body,
                headers: {
                  "content-type": "application/vnd.oci.image.manifest.v1+json",
                  "docker-content-digest": sha256Digest(body),
                },
              }
            : null,
      });
      const res = await purge(proxy.url, repo, dir, inUse, "--no-cache");
      expect(res.code).toBe(1);
      const lines = res.stderr
        .trim()
        .split("\n")
        .filter((l) => l.startsWith("regsweep:"));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`manifest ${repo}:a1 on ${proxy.host}`);
      expect(lines[0]).toMatch(expected);
      expect(res.stderr).not.toMatch(/position \d+|"code":|at .*\.js:\d+/);
      await proxy.stop();
      proxy = undefined;
    }
  });
});

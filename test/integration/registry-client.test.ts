import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { describe, expect, inject, it, onTestFinished } from "vitest";
import { RegistryError } from "../../src/errors.js";
import { buildImage, buildIndex, pushManifest } from "../../src/fixtures/image-factory.js";
import { planSchema } from "../../src/plan/plan-schema.js";
import { startFaultProxy } from "../harness/fault-proxy.js";
import { startRegistry } from "../harness/registry-process.js";
import { makeSelfSignedCert } from "../harness/tls.js";
import { startTokenServer } from "../harness/token-server.js";
import { connect, runCli, tempDir, uniqueRepo } from "./helpers.js";

const collect = async <T>(it: AsyncIterable<T>) => {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
};

describe("OCI distribution client against distribution 2.8", () => {
  const url = inject("registryUrl");

  it("follows catalog pages through the Link header", async () => {
    const { registry } = connect(url, {}, { pageSize: 2 });
    const p = uniqueRepo("page");
    for (const r of ["a", "b", "c", "d", "e"])
      await pushManifest(registry, `${p}/${r}`, buildImage({ seed: `${p}${r}` }), ["1"]);
    const repos = await collect(registry.repositories());
    expect(repos.filter((r) => r.startsWith(p))).toEqual(["a", "b", "c", "d", "e"].map((r) => `${p}/${r}`));
  });

  it("reads all four manifest media types and verifies digests", async () => {
    const { registry } = connect(url);
    const p = uniqueRepo("types");
    const oci = buildImage({ seed: `${p} oci` });
    const docker = buildImage({ seed: `${p} docker`, format: "docker" });
    const list = buildIndex([buildImage({ seed: `${p} d1`, format: "docker" })], "docker");
    const index = buildIndex([oci]);
    for (const [m, t] of [
      [oci, "oci"],
      [docker, "docker"],
      [list, "list"],
      [index, "index"],
    ] as const) {
      await pushManifest(registry, p, m, [t]);
      const got = await registry.getManifest(p, t);
      expect(got?.digest).toBe(m.digest);
      expect(got?.mediaType).toBe(m.mediaType);
      expect((await registry.headManifest(p, t))?.digest).toBe(m.digest);
    }
    expect(await registry.getManifest(p, "missing")).toBeUndefined();
    expect(await registry.referrers(p, oci.digest)).toBeUndefined(); // 2.8 has no referrers API
    expect(await registry.deleteManifest(p, oci.digest)).toBe("deleted");
    expect(await registry.deleteManifest(p, oci.digest)).toBe("not-found");
  });

  it("follows tag-list pages (distribution ignores n, so a small server pages here)", async () => {
    const pages: Record<string, { tags: string[]; next?: string }> = {
      "": { tags: ["a", "b"], next: "/v2/r/tags/list?last=b&n=2" },
      b: { tags: ["c", "d"], next: "/v2/r/tags/list?last=d&n=2" },
      d: { tags: ["e"] },
    };
    const server = createServer((req, res) => {
      const last = new URL(req.url ?? "", "http://x").searchParams.get("last") ?? "";
      const page = pages[last];
      if (page?.next) res.setHeader("link", `<${page.next}>; rel="next"`);
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ name: "r", tags: page?.tags ?? [] }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
    const { registry } = connect(
      `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      {},
      { pageSize: 2 },
    );
    expect(await collect(registry.tags("r"))).toEqual(["a", "b", "c", "d", "e"]);
  });

  it("a listing that pages on forever, always with something new, fails at the page limit instead of never ending", async () => {
    let served = 0;
    const server = createServer((req, res) => {
      const n = Number(new URL(req.url ?? "", "http://x").searchParams.get("last") ?? 0) + 1;
      served++;
      res.setHeader("link", `</v2/_catalog?n=1&last=${n}>; rel="next"`);
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ repositories: [`repo-${n}`] }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
    const { registry } = connect(
      `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      {},
      { pageSize: 1, maxPages: 50 },
    );
    const error = await collect(registry.repositories()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as RegistryError).code).toBe("incomplete-listing");
    expect((error as Error).message).toMatch(
      /the catalog on 127\.0\.0\.1:\d+ cannot be completed: more than 50 pages \(next \/v2\/_catalog\?n=1&last=50\)/,
    );
    expect(served).toBe(50);
  });

  it("retries 429 and 503, honouring Retry-After, and slows the whole transport down", async () => {
    const p = uniqueRepo("retry");
    await pushManifest(connect(url).registry, p, buildImage({ seed: p }), ["1"]);
    const proxy = await startFaultProxy(url, ({ n }) =>
      n === 1 ? { status: 429, retryAfter: "2" } : n === 2 ? { status: 503 } : null,
    );
    onTestFinished(() => proxy.stop());
    const waits: number[] = [];
    const { registry, transport } = connect(proxy.url, {
      sleep: async (ms) => void waits.push(ms),
      random: () => 0.5,
    });
    expect((await registry.headManifest(p, "1"))?.digest).toBeDefined();
    expect(proxy.injected).toBe(2);
    expect(transport.stats.retries).toBe(2);
    expect(waits).toContain(2000); // Retry-After: 2
  });

  it("gives up after the retry budget with the registry's status", async () => {
    const proxy = await startFaultProxy(url, () => ({ status: 503 }));
    onTestFinished(() => proxy.stop());
    const { registry } = connect(proxy.url, { sleep: async () => {}, retries: 2 });
    await expect(registry.headManifest("x", "1")).rejects.toThrow(/HTTP 503/);
    expect(proxy.requests).toBe(3);
  });

  it("a registry refusing deletes answers with a typed, actionable error", async () => {
    const locked = await startRegistry({ deleteEnabled: false });
    onTestFinished(() => locked.stop());
    const { registry } = connect(locked.url);
    const image = buildImage({ seed: "no deletes" });
    await pushManifest(registry, "r", image, ["1"]);
    const error = await registry.deleteManifest("r", image.digest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as RegistryError).code).toBe("deletes-disabled");
  });
});

describe("authentication", () => {
  it("basic auth (htpasswd): refused without credentials, works with --password-stdin", async () => {
    const secured = await startRegistry({ auth: { htpasswd: { alice: "s3cret-pw" } } });
    onTestFinished(() => secured.stop());
    const { registry } = connect(
      secured.url,
      {},
      { credentials: { username: "alice", password: "s3cret-pw" } },
    );
    await pushManifest(registry, "app", buildImage({ seed: "basic", created: "2020-01-01" }), ["1"]);

    const anonymous = await runCli(["scan", "--registry", secured.url, "--no-cache"]);
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toMatch(/401.*--username/);

    const dir = await tempDir();
    const res = await runCli(
      [
        "purge",
        "--registry",
        secured.url,
        "--filter",
        "app:.*",
        "--username",
        "alice",
        "--password-stdin",
        "--format",
        "json",
        "--no-cache",
        "--audit-dir",
        join(dir, "audits"),
      ],
      { stdin: "s3cret-pw\n" },
    );
    expect(res.stderr).not.toMatch(/regsweep:/);
    expect(res.code).toBe(0);
    expect(planSchema.parse(JSON.parse(res.stdout)).delete).toHaveLength(1);
    expect(`${res.stdout}${res.stderr}`).not.toContain("s3cret-pw");
    const { readAudits } = await import("./helpers.js");
    for (const a of await readAudits(join(dir, "audits"))) expect(a.text).not.toContain("s3cret-pw");
  });

  it("bearer tokens: fetched from the realm per scope, cached, and reused", async () => {
    const dir = await tempDir();
    const service = "regsweep-test";
    const issuer = "regsweep-issuer";
    const tokens = await startTokenServer({ users: { bob: "tok-pw" }, service, issuer, dir });
    onTestFinished(() => tokens.stop());
    const secured = await startRegistry({
      auth: {
        token: { realm: tokens.realm, service, issuer, rootCertBundlePath: tokens.rootCertBundlePath },
      },
    });
    onTestFinished(() => secured.stop());
    const { registry } = connect(secured.url, {}, { credentials: { username: "bob", password: "tok-pw" } });
    for (const t of ["1", "2", "3"])
      await pushManifest(registry, "app", buildImage({ seed: `tok ${t}` }), [t]);
    const reader = connect(
      secured.url,
      {},
      { credentials: { username: "bob", password: "tok-pw" } },
    ).registry;
    const before = tokens.requests;
    const repos = await collect(reader.repositories());
    expect(repos).toEqual(["app"]);
    const tags = await collect(reader.tags("app"));
    await Promise.all(tags.map((t) => reader.getManifest("app", t)));
    // One token for the catalog, one for pulling app: not one per request.
    expect(tokens.requests - before).toBe(2);

    const res = await runCli(
      [
        "scan",
        "--registry",
        secured.url,
        "--username",
        "bob",
        "--password-stdin",
        "--format",
        "json",
        "--no-cache",
      ],
      {
        stdin: "tok-pw",
      },
    );
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout).repositories[0].manifests).toBe(3);

    // Debug logs show every request, and never a credential.
    const logged = await runCli(
      [
        "scan",
        "--registry",
        secured.url,
        "--username",
        "bob",
        "--password-stdin",
        "--no-cache",
        "--log-level",
        "debug",
      ],
      { stdin: "tok-pw" },
    );
    expect(logged.code).toBe(0);
    expect(logged.stderr).toMatch(/"msg":"http"/);
    expect(logged.stderr).not.toMatch(/tok-pw|Bearer|eyJ|Basic /);
  });
});

describe("TLS", () => {
  it("verifies certificates by default, trusts --ca-file, and skips checks with --insecure", async () => {
    const dir = await tempDir();
    const cert = await makeSelfSignedCert(dir);
    const tls = await startRegistry({ tls: { certPath: cert.certPath, keyPath: cert.keyPath } });
    onTestFinished(() => tls.stop());
    const httpsUrl = `https://${tls.host}`;
    const { registry } = connect(httpsUrl, {}, {});
    await pushManifest(registry, "app", buildImage({ seed: "tls" }), ["1"]);

    const verified = await runCli(["scan", "--registry", httpsUrl, "--no-cache"]);
    expect(verified.code).toBe(1);
    expect(verified.stderr).toMatch(/certificate/i);
    const withCa = await runCli([
      "scan",
      "--registry",
      httpsUrl,
      "--ca-file",
      cert.certPath,
      "--no-cache",
      "--format",
      "json",
    ]);
    expect(withCa.code).toBe(0);
    const insecure = await runCli([
      "scan",
      "--registry",
      httpsUrl,
      "--insecure",
      "--no-cache",
      "--format",
      "json",
    ]);
    expect(insecure.code).toBe(0);
    expect(JSON.parse(insecure.stdout).repositories).toHaveLength(1);
  });
});

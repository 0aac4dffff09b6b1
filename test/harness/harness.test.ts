import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "undici";
import { describe, expect, inject, it, onTestFinished } from "vitest";
import { startFaultProxy } from "./fault-proxy.js";
import { startRegistry } from "./registry-process.js";
import { makeSelfSignedCert } from "./tls.js";
import { startTokenServer } from "./token-server.js";

async function get(url: string, headers: Record<string, string> = {}, dispatcher?: Agent) {
  const res = await request(url, { headers, dispatcher });
  const body = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body };
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "regsweep-harness-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe("test harness", () => {
  it("shares a plain registry through inject()", async () => {
    const url = inject("registryUrl");
    expect(url).toBe(`http://${inject("registryHost")}`);
    const res = await get(`${url}/v2/`);
    expect(res.status).toBe(200);
    expect(res.headers["docker-distribution-api-version"]).toBe("registry/2.0");
  });

  it("starts an htpasswd-protected registry", async () => {
    const registry = await startRegistry({ auth: { htpasswd: { alice: "s3cret" } } });
    onTestFinished(() => registry.stop());
    expect((await get(`${registry.url}/v2/`)).status).toBe(401);
    expect((await get(`${registry.url}/v2/`, { authorization: basic("alice", "wrong") })).status).toBe(401);
    expect((await get(`${registry.url}/v2/`, { authorization: basic("alice", "s3cret") })).status).toBe(200);
  });

  it("issues bearer tokens that distribution accepts, honouring scopes", async () => {
    const service = "regsweep-test";
    const tokens = await startTokenServer({
      users: { bob: "hunter2" },
      service,
      issuer: "regsweep-test-issuer",
      dir: await tempDir(),
    });
    onTestFinished(() => tokens.stop());
    const registry = await startRegistry({
      auth: {
        token: {
          realm: tokens.realm,
          service,
          issuer: "regsweep-test-issuer",
          rootCertBundlePath: tokens.rootCertBundlePath,
        },
      },
    });
    onTestFinished(() => registry.stop());

    const challenge = await get(`${registry.url}/v2/`);
    expect(challenge.status).toBe(401);
    expect(challenge.headers["www-authenticate"]).toBe(`Bearer realm="${tokens.realm}",service="${service}"`);

    const tokenUrl = (scope?: string) => {
      const u = new URL(tokens.realm);
      u.searchParams.set("service", service);
      if (scope) u.searchParams.append("scope", scope);
      return u.href;
    };
    expect((await get(tokenUrl())).status).toBe(401);

    const unscoped = JSON.parse((await get(tokenUrl(), { authorization: basic("bob", "hunter2") })).body);
    const asUnscoped = { authorization: `Bearer ${unscoped.token}` };
    expect((await get(`${registry.url}/v2/`, asUnscoped)).status).toBe(200);
    expect((await get(`${registry.url}/v2/_catalog`, asUnscoped)).status).toBe(401);

    const scoped = await get(tokenUrl("registry:catalog:*"), { authorization: basic("bob", "hunter2") });
    expect(scoped.status).toBe(200);
    const grant = JSON.parse(scoped.body);
    expect(grant).toMatchObject({ access_token: grant.token, expires_in: 300 });
    const catalog = await get(`${registry.url}/v2/_catalog`, { authorization: `Bearer ${grant.token}` });
    expect(catalog.status).toBe(200);
    expect(JSON.parse(catalog.body)).toEqual({ repositories: [] });
    expect(tokens.requests).toBe(3);
  });

  it("serves over TLS with a self-signed certificate", async () => {
    const cert = await makeSelfSignedCert(await tempDir());
    const registry = await startRegistry({ tls: { certPath: cert.certPath, keyPath: cert.keyPath } });
    onTestFinished(() => registry.stop());
    expect(registry.url).toBe(`https://127.0.0.1:${registry.port}`);
    const agent = new Agent({ connect: { ca: cert.certPem } });
    onTestFinished(() => agent.close());
    expect((await get(`${registry.url}/v2/`, {}, agent)).status).toBe(200);
  });

  it("injects faults and otherwise forwards, rewriting upload Locations", async () => {
    // A private registry, so the upload session below cannot leak into other files' catalogs.
    const registry = await startRegistry();
    onTestFinished(() => registry.stop());
    const proxy = await startFaultProxy(registry.url, ({ n }) =>
      n === 1 ? { status: 429, retryAfter: "1" } : null,
    );
    onTestFinished(() => proxy.stop());

    const throttled = await get(`${proxy.url}/v2/`);
    expect(throttled.status).toBe(429);
    expect(throttled.headers["retry-after"]).toBe("1");
    expect(JSON.parse(throttled.body).errors[0].code).toBe("TOOMANYREQUESTS");
    expect((await get(`${proxy.url}/v2/`)).status).toBe(200);

    const upload = await request(`${proxy.url}/v2/harness/probe/blobs/uploads/`, { method: "POST" });
    await upload.body.dump();
    expect(upload.statusCode).toBe(202);
    expect(upload.headers.location).toMatch(new RegExp(`^${proxy.url}/v2/harness/probe/blobs/uploads/`));
    expect({ requests: proxy.requests, injected: proxy.injected }).toEqual({ requests: 3, injected: 1 });
  });
});

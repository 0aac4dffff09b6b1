import { ECRClient } from "@aws-sdk/client-ecr";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildImage, buildIndex, pushManifest } from "../../src/fixtures/image-factory.js";
import { ContentCache } from "../../src/inventory/content-cache.js";
import { scanRegistry } from "../../src/inventory/scan.js";
import { parseRegistryUrl } from "../../src/oci/reference.js";
import { ECR_TOKEN_RENEW_MS, EcrRegistry } from "../../src/registry/ecr.js";
import { ecrHostParts, looksLikeEcr } from "../../src/registry/ecr-host.js";
import { HttpTransport } from "../../src/registry/transport.js";
import { type RunningRegistry, startRegistry } from "../harness/registry-process.js";
import { type EcrServer, startEcrServer } from "../servers/ecr-server.js";
import { connect } from "./helpers.js";

const ACCOUNT = "123456789012";
const PASSWORD = "ecr-token-password";
const KEY = "AKIDREGSWEEPTEST";
const DAY = 86_400_000;
const HOUR = 3_600_000;

/** The official client against the local ECR API, with fake static AWS credentials. */
function ecrClient(server: EcrServer, accessKeyId = KEY): ECRClient {
  return new ECRClient({
    region: "eu-west-1",
    endpoint: server.url,
    credentials: { accessKeyId, secretAccessKey: "not-a-real-secret" },
    maxAttempts: 1,
  });
}

describe("ECR hosts", () => {
  it("are recognised by the account and region in their name", () => {
    expect(looksLikeEcr("123456789012.dkr.ecr.eu-west-1.amazonaws.com")).toBe(true);
    expect(looksLikeEcr("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn")).toBe(true);
    expect(ecrHostParts("123456789012.dkr.ecr.us-east-2.amazonaws.com")).toEqual({
      account: "123456789012",
      region: "us-east-2",
    });
    expect(looksLikeEcr("12345.dkr.ecr.eu-west-1.amazonaws.com")).toBe(false);
    expect(looksLikeEcr("myacr.azurecr.io")).toBe(false);
    expect(looksLikeEcr("public.ecr.aws")).toBe(false);
  });
});

describe("EcrRegistry: DescribeImages and GetAuthorizationToken in front of a real registry", () => {
  let registry: RunningRegistry;
  let server: EcrServer;
  let clock = Date.now();
  const transports: HttpTransport[] = [];
  const open = (client = ecrClient(server)) => {
    const transport = new HttpTransport({ insecure: true, concurrency: 4 });
    transports.push(transport);
    return new EcrRegistry(parseRegistryUrl(registry.url, true), transport, {
      client,
      registryId: ACCOUNT,
      now: () => clock,
    });
  };
  const tokenCalls = () => server.calls.filter((c) => c.operation === "GetAuthorizationToken").length;

  const old = buildImage({ seed: "ecr it old", created: new Date().toISOString() });
  const loose = buildImage({ seed: "ecr it untagged", created: new Date().toISOString() });
  const c1 = buildImage({ seed: "ecr it c1", created: new Date().toISOString() });
  const c2 = buildImage({ seed: "ecr it c2", created: new Date().toISOString() });
  const multi = buildIndex([c1, c2]);

  beforeAll(async () => {
    registry = await startRegistry({ auth: { htpasswd: { AWS: PASSWORD } } });
    server = await startEcrServer({
      account: ACCOUNT,
      password: PASSWORD,
      proxyEndpoint: registry.url,
      accessKeyIds: [KEY],
      tokenLifetimeMs: HOUR,
      pageSize: 2,
      now: () => clock,
    });
    const { registry: pusher } = connect(
      registry.url,
      {},
      { credentials: { username: "AWS", password: PASSWORD } },
    );
    await pushManifest(pusher, "team/app", old, ["v1"]);
    await pushManifest(pusher, "team/app", loose, []);
    await pushManifest(pusher, "team/app", multi, ["multi"]);
    const at = (days: number) => clock - days * DAY;
    server.repositories.set("team/app", [
      { digest: old.digest, tags: ["v1"], pushedAt: at(90), lastPulledAt: at(3) },
      { digest: loose.digest, tags: [], pushedAt: at(80) },
      { digest: multi.digest, tags: ["multi"], pushedAt: at(1) },
      // ECR lists an index's platform manifests as images of their own, untagged.
      { digest: c1.digest, tags: [], pushedAt: at(1) },
      { digest: c2.digest, tags: [], pushedAt: at(1) },
    ]);
    for (const name of ["a/one", "b/two", "c/three"]) server.repositories.set(name, []);
  });

  afterAll(async () => {
    for (const t of transports) await t.close();
    await server?.stop();
    await registry?.stop();
  });

  it("lists repositories through DescribeRepositories, page by page", async () => {
    const names: string[] = [];
    for await (const name of open().repositories()) names.push(name);
    expect(names).toEqual(["a/one", "b/two", "c/three", "team/app"]);
    const pages = server.calls.filter((c) => c.operation === "DescribeRepositories");
    expect(pages.length).toBeGreaterThanOrEqual(2);
    expect(pages[0]?.body.registryId).toBe(ACCOUNT);
  });

  it("describes every image with its push time and last pull, untagged ones too, and scans by them", async () => {
    const ecr = open();
    const meta = await ecr.registryMetadata("team/app");
    expect(meta.size).toBe(5);
    expect(meta.get(old.digest)).toEqual({
      created: new Date(clock - 90 * DAY).toISOString(),
      locked: false,
      tags: ["v1"],
      lastPulled: new Date(clock - 3 * DAY).toISOString(),
    });
    const untagged: string[] = [];
    for await (const d of ecr.untagged("team/app")) untagged.push(d);
    expect(untagged.sort()).toEqual([loose.digest, c1.digest, c2.digest].sort());

    const inventory = await scanRegistry(ecr, {
      cache: new ContentCache(undefined),
      includeRepository: (n) => n === "team/app",
      now: () => new Date(clock),
    });
    expect(inventory.listsUntagged).toBe(true);
    const nodes = inventory.repositories[0]?.manifests ?? [];
    const oldNode = nodes.find((n) => n.digest === old.digest);
    expect(oldNode?.ageSource).toBe("registry");
    expect(oldNode?.created).toBe(new Date(clock - 90 * DAY).toISOString());
    expect([...(nodes.find((n) => n.digest === multi.digest)?.children ?? [])].sort()).toEqual(
      [c1.digest, c2.digest].sort(),
    );
  });

  it("a repository ECR does not know has no images", async () => {
    expect((await open().registryMetadata("never/pushed")).size).toBe(0);
  });

  it("signs /v2/ in with the token GetAuthorizationToken gives; the registry refuses anyone else", async () => {
    const before = tokenCalls();
    const ecr = open();
    expect((await ecr.getManifest("team/app", old.digest))?.digest).toBe(old.digest);
    expect(tokenCalls()).toBe(before + 1);
    const { registry: anonymous } = connect(registry.url);
    await expect(anonymous.getManifest("team/app", old.digest)).rejects.toMatchObject({ status: 401 });
  });

  it("renews the token once it is within five minutes of expiry, not before", async () => {
    const start = clock;
    try {
      const ecr = open();
      await ecr.ping();
      const first = tokenCalls();
      clock = start + HOUR - ECR_TOKEN_RENEW_MS - 60_000;
      await ecr.ping();
      expect(tokenCalls()).toBe(first);
      clock = start + HOUR - ECR_TOKEN_RENEW_MS + 60_000;
      await ecr.ping();
      expect(tokenCalls()).toBe(first + 1);
    } finally {
      clock = start;
    }
  });

  it("a nextToken that comes back again fails the listing instead of ending it", async () => {
    server.repeatNextToken("DescribeImages");
    try {
      await expect(open().registryMetadata("team/app")).rejects.toMatchObject({ code: "incomplete-listing" });
    } finally {
      server.repeatNextToken(undefined);
    }
  });

  it("AWS credentials ECR refuses fail with one line naming the registry and the permission", async () => {
    const error = await open(ecrClient(server, "AKIDUNKNOWN"))
      .registryMetadata("team/app")
      .catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toMatch(/ECR DescribeImages for 127\.0\.0\.1:\d+ was refused/);
    expect(message).toMatch(/ecr:DescribeImages/);
    expect(message).not.toContain("not-a-real-secret");
    expect(message).not.toContain("\n");
  });
});

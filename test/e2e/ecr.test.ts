import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type BuiltManifest,
  buildImage,
  buildIndex,
  pushManifest,
} from "../../src/fixtures/image-factory.js";
import { planSchema } from "../../src/plan/plan-schema.js";
import { type RunningRegistry, startRegistry } from "../harness/registry-process.js";
import { connect, runCli, tempDir } from "../integration/helpers.js";
import { type EcrServer, startEcrServer } from "../servers/ecr-server.js";

const DAY = 86_400_000;
const ACCOUNT = "210987654321";
const PASSWORD = "ecr-e2e-token-password";
const KEY = "AKIDREGSWEEPE2E";

/**
 * ECR as the CLI meets it: /v2 is distribution 2.8 that only accepts `AWS:<token>`; the ECR API
 * (GetAuthorizationToken, DescribeRepositories, DescribeImages) is a local server in ECR's JSON
 * shapes, reached by the official client through AWS_ENDPOINT_URL_ECR with fake AWS credentials.
 */
describe("Amazon ECR: purge by ECR's push times, signed in with GetAuthorizationToken", () => {
  let registry: RunningRegistry;
  let ecr: EcrServer;
  const images: Record<string, BuiltManifest> = {};
  const env = {
    AWS_ACCESS_KEY_ID: KEY,
    AWS_SECRET_ACCESS_KEY: "not-a-real-secret",
    AWS_REGION: "eu-west-1",
    AWS_ENDPOINT_URL_ECR: "",
  };

  beforeAll(async () => {
    registry = await startRegistry({ auth: { htpasswd: { AWS: PASSWORD } } });
    ecr = await startEcrServer({
      account: ACCOUNT,
      password: PASSWORD,
      proxyEndpoint: registry.url,
      accessKeyIds: [KEY],
      pageSize: 2,
    });
    env.AWS_ENDPOINT_URL_ECR = ecr.url;
    const { registry: pusher, transport } = connect(
      registry.url,
      {},
      { credentials: { username: "AWS", password: PASSWORD } },
    );
    const listed: { digest: string; tags: string[]; pushedAt: number }[] = [];
    // Config times are all recent: only ECR's push times make anything old.
    const add = async (name: string, tags: string[], daysAgo: number, built?: BuiltManifest) => {
      const image = built ?? buildImage({ seed: `ecr e2e ${name}`, created: new Date().toISOString() });
      images[name] = image;
      await pushManifest(pusher, "team/app", image, tags);
      listed.push({ digest: image.digest, tags, pushedAt: Date.now() - daysAgo * DAY });
      // ECR describes an index's platform manifests as untagged images of their own.
      for (const child of image.children)
        listed.push({ digest: child.digest, tags: [], pushedAt: Date.now() - 100 * DAY });
    };
    await add("old", ["v1"], 90);
    await add("untagged-old", [], 80);
    await add("new", ["v3"], 1);
    await add(
      "multi",
      ["v4"],
      2,
      buildIndex([
        buildImage({ seed: "ecr e2e c1", created: new Date().toISOString() }),
        buildImage({ seed: "ecr e2e c2", created: new Date().toISOString() }),
      ]),
    );
    ecr.repositories.set("team/app", listed);
    const svc: { digest: string; tags: string[]; pushedAt: number }[] = [];
    for (const [name, tags, daysAgo] of [
      ["svc-old", ["1.0"], 60],
      ["svc-new", ["2.0"], 3],
    ] as const) {
      const image = buildImage({ seed: `ecr e2e ${name}`, created: new Date().toISOString() });
      images[name] = image;
      await pushManifest(pusher, "svc/api", image, [...tags]);
      svc.push({ digest: image.digest, tags: [...tags], pushedAt: Date.now() - daysAgo * DAY });
    }
    ecr.repositories.set("svc/api", svc);
    const pulled: { digest: string; tags: string[]; pushedAt: number; lastPulledAt?: number }[] = [];
    for (const [name, lastPulledDaysAgo] of [
      ["pulled-lately", 2],
      ["pulled-long-ago", 40],
      ["never-pulled", undefined],
    ] as const) {
      const image = buildImage({ seed: `ecr e2e ${name}`, created: new Date().toISOString() });
      images[name] = image;
      await pushManifest(pusher, "svc/pulls", image, [name]);
      pulled.push({
        digest: image.digest,
        tags: [name],
        pushedAt: Date.now() - 90 * DAY,
        ...(lastPulledDaysAgo !== undefined ? { lastPulledAt: Date.now() - lastPulledDaysAgo * DAY } : {}),
      });
    }
    ecr.repositories.set("svc/pulls", pulled);
    await transport.close();
  });

  afterAll(async () => {
    await ecr?.stop();
    await registry?.stop();
  });

  it("deletes exactly the old images, dated by ECR, and apply reaches ECR again from the plan", async () => {
    const dir = await tempDir();
    const planFile = join(dir, "plan.json");
    const args = [
      "purge",
      "--registry",
      registry.url,
      "--registry-type",
      "ecr",
      "--filter",
      "team/.*:.*",
      "--ago",
      "30d",
      "--untagged",
      "--no-cache",
      "--no-usage-sources",
      "--audit-dir",
      join(dir, "audits"),
    ];
    const dry = await runCli([...args, "--format", "json", "-o", planFile], { env });
    expect(dry.code, dry.stderr).toBe(0);
    const plan = planSchema.parse(JSON.parse(dry.stdout));
    expect(plan.registryType).toBe("ecr");
    expect(plan.delete.map((d) => d.digest).sort()).toEqual(
      [images.old?.digest, images["untagged-old"]?.digest].sort(),
    );
    expect(plan.delete.every((d) => d.ageSource === "registry")).toBe(true);
    expect(plan.warnings.join(" ")).not.toMatch(/cannot list untagged/);
    // The index's children look old and untagged in ECR's list, yet a kept index keeps them.
    for (const child of images.multi?.children ?? [])
      expect(plan.keep.find((k) => k.digest === child.digest)?.reasons.map((r) => r.rule)).toContain(
        "child-of-kept-index",
      );
    const operations = new Set(ecr.calls.map((c) => c.operation));
    expect(operations).toEqual(new Set(["GetAuthorizationToken", "DescribeRepositories", "DescribeImages"]));

    const tokensBefore = ecr.calls.filter((c) => c.operation === "GetAuthorizationToken").length;
    const applied = await runCli(
      ["apply", planFile, "--yes", "--no-usage-sources", "--audit-dir", join(dir, "audits")],
      { env },
    );
    expect(applied.code, applied.stderr).toBe(0);
    // apply signed in through ECR again without being told the registry type.
    expect(ecr.calls.filter((c) => c.operation === "GetAuthorizationToken").length).toBeGreaterThan(
      tokensBefore,
    );

    const { registry: client, transport } = connect(
      registry.url,
      {},
      { credentials: { username: "AWS", password: PASSWORD } },
    );
    try {
      expect(await client.headManifest("team/app", images.old?.digest ?? "")).toBeUndefined();
      expect(await client.headManifest("team/app", images["untagged-old"]?.digest ?? "")).toBeUndefined();
      for (const kept of [images.new, images.multi, ...(images.multi?.children ?? [])])
        expect(await client.headManifest("team/app", kept?.digest ?? "")).toBeDefined();
    } finally {
      await transport.close();
    }
    // The registry only lets the token's password in: nothing else could have deleted.
    const { registry: anonymous, transport: t2 } = connect(registry.url);
    await expect(anonymous.headManifest("team/app", images.new?.digest ?? "")).rejects.toMatchObject({
      status: 401,
    });
    await t2.close();
  });

  it("purge --apply --yes deletes the images ECR dates older than --ago", async () => {
    const dir = await tempDir();
    const res = await runCli(
      [
        "purge",
        "--registry",
        registry.url,
        "--registry-type",
        "ecr",
        "--filter",
        "svc/api:.*",
        "--ago",
        "30d",
        "--untagged",
        "--no-cache",
        "--no-usage-sources",
        "--apply",
        "--yes",
        "--audit-dir",
        join(dir, "audits"),
      ],
      { env },
    );
    expect(res.code, res.stderr).toBe(0);
    const { registry: client, transport } = connect(
      registry.url,
      {},
      { credentials: { username: "AWS", password: PASSWORD } },
    );
    try {
      expect(await client.headManifest("svc/api", images["svc-old"]?.digest ?? "")).toBeUndefined();
      expect(await client.headManifest("svc/api", images["svc-new"]?.digest ?? "")).toBeDefined();
    } finally {
      await transport.close();
    }
  });

  it("AWS credentials ECR refuses stop the run with exit 1 and one line naming the registry", async () => {
    const refused = await runCli(
      [
        "purge",
        "--registry",
        registry.url,
        "--registry-type",
        "ecr",
        "--filter",
        "team/.*:.*",
        "--ago",
        "30d",
        "--no-cache",
        "--no-usage-sources",
        "--apply",
        "--yes",
      ],
      { env: { ...env, AWS_ACCESS_KEY_ID: "AKIDSOMEONEELSE" } },
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/ECR \w+ for 127\.0\.0\.1:\d+ was refused/);
    expect(refused.stderr).not.toContain("not-a-real-secret");
    const { registry: client, transport } = connect(
      registry.url,
      {},
      { credentials: { username: "AWS", password: PASSWORD } },
    );
    try {
      expect(await client.headManifest("team/app", images.new?.digest ?? "")).toBeDefined();
    } finally {
      await transport.close();
    }
  });

  it("--protect-pulled-within keeps what ECR recorded a pull of within the window", async () => {
    const dir = await tempDir();
    const res = await runCli(
      [
        "purge",
        "--registry",
        registry.url,
        "--registry-type",
        "ecr",
        "--filter",
        "svc/pulls:.*",
        "--ago",
        "30d",
        "--protect-pulled-within",
        "7d",
        "--no-cache",
        "--no-usage-sources",
        "--format",
        "json",
        "--audit-dir",
        join(dir, "audits"),
      ],
      { env },
    );
    expect(res.code, res.stderr).toBe(0);
    const plan = JSON.parse(res.stdout) as {
      delete: { tags: string[] }[];
      keep: { tags: string[]; reasons: { rule: string }[] }[];
    };
    expect(plan.delete.map((d) => d.tags[0]).sort()).toEqual(["never-pulled", "pulled-long-ago"]);
    expect(plan.keep.find((k) => k.tags.includes("pulled-lately"))?.reasons.map((r) => r.rule)).toContain(
      "pulled-recently",
    );
  });
});

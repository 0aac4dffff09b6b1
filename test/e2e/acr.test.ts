import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type BuiltManifest,
  buildImage,
  buildIndex,
  pushManifest,
} from "../../src/fixtures/image-factory.js";
import { planSchema } from "../../src/plan/plan-schema.js";
import { ACR_REFRESH_TOKEN_USER } from "../../src/registry/acr-auth.js";
import { type FaultProxy, startFaultProxy } from "../harness/fault-proxy.js";
import { type RunningRegistry, startRegistry } from "../harness/registry-process.js";
import { startTokenServer, type TokenServer } from "../harness/token-server.js";
import { connect, runCli, tempDir } from "../integration/helpers.js";
import { startAzureDevOpsServer } from "../servers/azure-devops-server.js";

const DAY = 86_400_000;
const iso = (daysAgo: number) => new Date(Date.now() - daysAgo * DAY).toISOString();
const REFRESH = "acr-refresh-token-from-exchange";
const ENTRA = "entra-access-token";

/**
 * ACR in front of a real registry: /v2 is distribution 2.8 behind a real token server; the proxy
 * answers what only ACR has — /oauth2/exchange and the /acr/v1 metadata API — in ACR's shapes.
 */
describe("Azure Container Registry: metadata API and Entra sign-in", () => {
  let tokens: TokenServer;
  let registry: RunningRegistry;
  let acr: FaultProxy;
  const exchanges: string[] = [];
  const images: Record<string, BuiltManifest> = {};
  const untagged: string[] = [];
  const listed: {
    repo: string;
    digest: string;
    tags: string[];
    createdTime: string;
    deleteEnabled: boolean;
  }[] = [];

  beforeAll(async () => {
    const dir = await tempDir();
    tokens = await startTokenServer({
      users: { [ACR_REFRESH_TOKEN_USER]: REFRESH },
      service: "acr-test",
      issuer: "acr",
      dir,
    });
    registry = await startRegistry({
      auth: {
        token: {
          realm: tokens.realm,
          service: "acr-test",
          issuer: "acr",
          rootCertBundlePath: tokens.rootCertBundlePath,
        },
      },
    });
    const { registry: client } = connect(
      registry.url,
      {},
      { credentials: { username: ACR_REFRESH_TOKEN_USER, password: REFRESH } },
    );
    // Config times are all recent: only the registry's push times make anything old.
    const add = async (
      name: string,
      tags: string[],
      daysAgo: number,
      deleteEnabled = true,
      built = buildImage({ seed: `acr ${name}`, created: iso(0) }),
    ) => {
      images[name] = built;
      await pushManifest(client, "team/app", built, tags);
      listed.push({ repo: "team/app", digest: built.digest, tags, createdTime: iso(daysAgo), deleteEnabled });
    };
    await add("old", ["v1"], 90);
    await add("untagged-old", [], 80);
    await add("locked-old", ["v0"], 120, false);
    await add(
      "multi",
      ["v2"],
      70,
      true,
      buildIndex([
        buildImage({ seed: "acr c1", created: iso(0) }),
        buildImage({ seed: "acr c2", created: iso(0) }),
      ]),
    );
    await add("new", ["v3"], 1);
    // ACR's listing is stale for this one: it says untagged, while `prod` (in use) points at it.
    images.hidden = buildImage({ seed: "acr hidden", created: iso(0) });
    await pushManifest(client, "team/app", images.hidden, ["prod"]);
    listed.push({
      repo: "team/app",
      digest: images.hidden.digest,
      tags: [],
      createdTime: iso(100),
      deleteEnabled: true,
    });

    // Pull-request images, for untag: PR 21 is abandoned, PR 22 active.
    for (const [name, tags] of [
      ["pr21", ["PR21-a"]],
      ["mixed", ["PR21-b", "stable"]],
      ["pr22", ["PR22-a"]],
    ] as const) {
      images[name] = buildImage({ seed: `acr ${name}`, created: iso(0) });
      await pushManifest(client, "prs/app", images[name], tags);
      listed.push({
        repo: "prs/app",
        digest: images[name].digest,
        tags: [...tags],
        createdTime: iso(1),
        deleteEnabled: true,
      });
    }

    acr = await startFaultProxy(registry.url, ({ method, url }) => {
      const u = new URL(url, "http://x");
      if (method === "POST" && u.pathname === "/oauth2/exchange") {
        exchanges.push(url);
        return { status: 200, body: { refresh_token: REFRESH } };
      }
      if (u.pathname === "/acr/v1/_catalog")
        return {
          status: 200,
          body: { repositories: [...new Set(listed.map((l) => l.repo))].sort().reverse() },
        };
      const untag = /^\/acr\/v1\/(.+)\/_tags\/([^/]+)$/.exec(u.pathname);
      if (method === "DELETE" && untag) {
        const [, repo, tag] = untag as unknown as [string, string, string];
        const entry = listed.find((l) => l.repo === repo && l.tags.includes(decodeURIComponent(tag)));
        if (!entry)
          return { status: 404, body: { errors: [{ code: "TAG_UNKNOWN", message: "tag unknown" }] } };
        entry.tags = entry.tags.filter((t) => t !== decodeURIComponent(tag));
        untagged.push(`${repo}:${decodeURIComponent(tag)}`);
        return { status: 202, body: {} };
      }
      const m = /^\/acr\/v1\/(.+)\/_manifests$/.exec(u.pathname);
      if (!m) return null;
      // Two per page, the next page in a Link header, as ACR pages.
      const all = listed.filter((l) => l.repo === m[1]);
      const start = Number(u.searchParams.get("last") ?? 0);
      const page = all.slice(start, start + 2);
      return {
        status: 200,
        headers: (start + 2 < all.length
          ? { Link: `</acr/v1/${m[1]}/_manifests?last=${start + 2}&n=2>; rel="next"` }
          : {}) as Record<string, string>,
        body: {
          registry: "myacr.azurecr.io",
          imageName: m[1],
          manifests: page.map((l) => ({
            digest: l.digest,
            imageSize: 1000,
            createdTime: l.createdTime,
            lastUpdateTime: l.createdTime,
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            tags: l.tags,
            changeableAttributes: {
              deleteEnabled: l.deleteEnabled,
              writeEnabled: true,
              readEnabled: true,
              listEnabled: true,
            },
          })),
        },
      };
    });
  });

  afterAll(async () => {
    await acr?.stop();
    await registry?.stop();
    await tokens?.stop();
  });

  it("signs in with Entra, lists untagged manifests, dates by push time, and never deletes a locked one", async () => {
    const dir = await tempDir();
    const inUse = join(dir, "in-use.txt");
    await writeFile(inUse, `${acr.host}/team/app:prod\n`);
    const args = [
      "purge",
      "--in-use-file",
      inUse,
      "--registry",
      acr.url,
      "--registry-type",
      "acr",
      "--filter",
      "team/.*:.*",
      "--ago",
      "30d",
      "--untagged",
      "--no-cache",
      "--audit-dir",
      join(dir, "audits"),
    ];
    const env = { REGSWEEP_AZURE_TOKEN: ENTRA };
    const planFile = join(dir, "plan.json");
    const dry = await runCli([...args, "--format", "json", "-o", planFile], { env });
    expect(dry.stderr).not.toMatch(/regsweep:/);
    expect(dry.code).toBe(0);
    expect(exchanges.length).toBeGreaterThan(0);
    const plan = planSchema.parse(JSON.parse(dry.stdout));
    const multi = images.multi as BuiltManifest;
    expect(plan.delete.map((d) => d.digest).sort()).toEqual(
      [
        images.old?.digest,
        images["untagged-old"]?.digest,
        multi.digest,
        ...multi.children.map((c) => c.digest),
      ].sort(),
    );
    const old = plan.delete.find((d) => d.digest === images.old?.digest);
    expect(old?.ageSource).toBe("registry");
    expect(
      plan.keep.find((k) => k.digest === images["locked-old"]?.digest)?.reasons.map((r) => r.rule),
    ).toContain("locked");
    expect(plan.warnings.join(" ")).not.toMatch(/cannot list untagged/);
    // The in-use tag is read directly, not taken from the listing.
    expect(plan.keep.find((k) => k.digest === images.hidden?.digest)?.reasons.map((r) => r.rule)).toContain(
      "in-use",
    );

    // apply reaches the registry as the plan did (ACR API, Entra sign-in) without being told again.
    const applied = await runCli(["apply", planFile, "--yes", "--audit-dir", join(dir, "audits")], { env });
    expect(applied.code, applied.stderr).toBe(0);
    const { registry: client } = connect(
      registry.url,
      {},
      { credentials: { username: ACR_REFRESH_TOKEN_USER, password: REFRESH } },
    );
    expect(await client.headManifest("team/app", images["untagged-old"]?.digest ?? "")).toBeUndefined();
    expect(await client.headManifest("team/app", images["locked-old"]?.digest ?? "")).toBeDefined();
    expect(await client.headManifest("team/app", images.new?.digest ?? "")).toBeDefined();
  });

  it("untag (a pull-request rule): removes only the closed PRs' tags through ACR's API; every manifest stays", async () => {
    const dir = await tempDir();
    const ado = await startAzureDevOpsServer({
      projects: ["shop"],
      pat: "ado-pat",
      pullRequests: { 21: { status: "abandoned" }, 22: { status: "active" } },
    });
    try {
      const res = await runCli(
        [
          "purge",
          "--registry",
          acr.url,
          "--registry-type",
          "acr",
          "--filter",
          "prs/.*:.*",
          "--no-cache",
          "--pr-provider",
          "azure-devops",
          "--pr-org",
          ado.url,
          "--pr-project",
          "shop",
          "--pr-action",
          "untag",
          "--no-usage-sources",
          "--apply",
          "--yes",
          "--audit-dir",
          join(dir, "audits"),
          "-o",
          join(dir, "plan.json"),
        ],
        { env: { REGSWEEP_AZURE_TOKEN: ENTRA, AZURE_DEVOPS_EXT_PAT: "ado-pat" } },
      );
      expect(res.code, res.stderr).toBe(0);
      expect(untagged.sort()).toEqual(["prs/app:PR21-a", "prs/app:PR21-b"]);
      expect(res.stderr).toMatch(/untagged 2/);
      const { registry: client } = connect(
        registry.url,
        {},
        { credentials: { username: ACR_REFRESH_TOKEN_USER, password: REFRESH } },
      );
      for (const name of ["pr21", "mixed", "pr22"])
        expect(await client.headManifest("prs/app", images[name]?.digest ?? "")).toBeDefined();
    } finally {
      await ado.stop();
    }
  });
});

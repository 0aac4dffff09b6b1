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
    /** ACR's lastUpdateTime; default the creation time. */
    updatedTime?: string;
    /** Tags whose own attributes say deleteEnabled: false. */
    lockedTags?: string[];
    /** What the single GET says while the list view still says unlocked (the views have disagreed). */
    lockedWhenReadAlone?: boolean;
  }[] = [];
  const singleReads: string[] = [];
  const attributes = (deleteEnabled: boolean) => ({
    deleteEnabled,
    writeEnabled: true,
    readEnabled: true,
    listEnabled: true,
  });

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

    // Locks and update times, in a repository of their own.
    const lockCases: [string, string[], Partial<(typeof listed)[number]>][] = [
      ["tag-locked", ["v1", "pinned"], { lockedTags: ["pinned"] }],
      ["retagged", ["v2"], { updatedTime: iso(1) }],
      ["locked-since-listing", ["v3"], { lockedWhenReadAlone: true }],
      ["plain-old", ["v4"], {}],
    ];
    for (const [name, tags, extra] of lockCases) {
      images[name] = buildImage({ seed: `acr locks ${name}`, created: iso(0) });
      await pushManifest(client, "locks/app", images[name], [...tags]);
      listed.push({
        repo: "locks/app",
        digest: images[name].digest,
        tags: [...tags],
        createdTime: iso(90),
        deleteEnabled: true,
        ...extra,
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
      const oneManifest = /^\/acr\/v1\/(.+)\/_manifests\/(sha256:[0-9a-f]{64})$/.exec(u.pathname);
      if (method === "GET" && oneManifest) {
        singleReads.push(u.pathname);
        const entry = listed.find((l) => l.repo === oneManifest[1] && l.digest === oneManifest[2]);
        if (!entry) return { status: 404, body: { errors: [{ code: "MANIFEST_UNKNOWN" }] } };
        return {
          status: 200,
          body: {
            registry: "myacr.azurecr.io",
            imageName: entry.repo,
            manifest: {
              digest: entry.digest,
              tags: entry.tags,
              changeableAttributes: attributes(entry.deleteEnabled && !entry.lockedWhenReadAlone),
            },
          },
        };
      }
      const oneTag = /^\/acr\/v1\/(.+)\/_tags\/([^/]+)$/.exec(u.pathname);
      if (method === "GET" && oneTag) {
        singleReads.push(u.pathname);
        const tag = decodeURIComponent(oneTag[2] ?? "");
        const entry = listed.find((l) => l.repo === oneTag[1] && l.tags.includes(tag));
        if (!entry) return { status: 404, body: { errors: [{ code: "TAG_UNKNOWN" }] } };
        return {
          status: 200,
          body: {
            registry: "myacr.azurecr.io",
            imageName: entry.repo,
            tag: {
              name: tag,
              digest: entry.digest,
              changeableAttributes: attributes(!entry.lockedTags?.includes(tag)),
            },
          },
        };
      }
      const tagList = /^\/acr\/v1\/(.+)\/_tags$/.exec(u.pathname);
      if (method === "GET" && tagList) {
        return {
          status: 200,
          body: {
            registry: "myacr.azurecr.io",
            imageName: tagList[1],
            tags: listed
              .filter((l) => l.repo === tagList[1])
              .flatMap((l) =>
                l.tags.map((name) => ({
                  name,
                  digest: l.digest,
                  createdTime: l.createdTime,
                  lastUpdateTime: l.updatedTime ?? l.createdTime,
                  signed: false,
                  changeableAttributes: attributes(!l.lockedTags?.includes(name)),
                })),
              ),
          },
        };
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
            lastUpdateTime: l.updatedTime ?? l.createdTime,
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            tags: l.tags,
            changeableAttributes: attributes(l.deleteEnabled),
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

    // --format commands: a plan made through ACR's API is deleted by hand with az, in the plan's order.
    const commands = await runCli(["report", "--plan", planFile, "--format", "commands"]);
    expect(commands.code).toBe(0);
    expect(commands.stdout.split("\n").filter((l) => l.startsWith("az "))).toEqual(
      plan.delete.map(
        (d) => `az acr repository delete --name ${acr.host} --image team/app@${d.digest} --yes`,
      ),
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

  it("keeps a manifest with a locked tag, reads --age-from updated, and re-reads locks with single GETs before deleting", async () => {
    const dir = await tempDir();
    const env = { REGSWEEP_AZURE_TOKEN: ENTRA };
    const common = [
      "--registry",
      acr.url,
      "--registry-type",
      "acr",
      "--filter",
      "locks/.*:.*",
      "--ago",
      "30d",
      "--no-cache",
      "--no-usage-sources",
      "--audit-dir",
      join(dir, "audits"),
      "--format",
      "json",
    ];
    const digestOf = (name: string) => images[name]?.digest;

    // By default --ago reads the push time: the image re-tagged yesterday is 90 days old.
    const byCreation = await runCli(["purge", ...common], { env });
    expect(byCreation.code, byCreation.stderr).toBe(0);
    const created = planSchema.parse(JSON.parse(byCreation.stdout));
    expect(created.delete.map((d) => d.digest)).toContain(digestOf("retagged"));
    expect(created.options.ageFrom).toBeUndefined();

    const planFile = join(dir, "plan.json");
    const byUpdate = await runCli(["purge", ...common, "--age-from", "updated", "-o", planFile], { env });
    expect(byUpdate.code, byUpdate.stderr).toBe(0);
    const updated = planSchema.parse(JSON.parse(byUpdate.stdout));
    expect(updated.options.ageFrom).toBe("updated");
    const keepRules = (name: string) =>
      updated.keep.find((k) => k.digest === digestOf(name))?.reasons.map((r) => r.rule);
    expect(keepRules("retagged")).toEqual(["too-recent"]);
    expect(keepRules("tag-locked")).toContain("locked");
    expect(updated.keep.find((k) => k.digest === digestOf("tag-locked"))?.reasons[0]?.detail).toMatch(
      /tag pinned is locked/,
    );
    // The list view says these two can go.
    expect(updated.delete.map((d) => d.digest).sort()).toEqual(
      [digestOf("locked-since-listing"), digestOf("plain-old")].sort(),
    );

    singleReads.length = 0;
    const applied = await runCli(
      ["apply", planFile, "--yes", "--no-usage-sources", "--audit-dir", join(dir, "audits")],
      {
        env,
      },
    );
    expect(applied.code, applied.stderr).toBe(0);
    // The single GETs of each planned manifest and of its tags decided, not the list.
    expect(singleReads).toEqual(
      expect.arrayContaining([
        `/acr/v1/locks/app/_manifests/${digestOf("locked-since-listing")}`,
        "/acr/v1/locks/app/_tags/v3",
        `/acr/v1/locks/app/_manifests/${digestOf("plain-old")}`,
        "/acr/v1/locks/app/_tags/v4",
      ]),
    );
    expect(applied.stderr).toMatch(/locked: the registry now marks the manifest locked/);
    const { registry: client } = connect(
      registry.url,
      {},
      { credentials: { username: ACR_REFRESH_TOKEN_USER, password: REFRESH } },
    );
    expect(await client.headManifest("locks/app", digestOf("locked-since-listing") ?? "")).toBeDefined();
    expect(await client.headManifest("locks/app", digestOf("plain-old") ?? "")).toBeUndefined();
    expect(await client.headManifest("locks/app", digestOf("tag-locked") ?? "")).toBeDefined();
  });
});

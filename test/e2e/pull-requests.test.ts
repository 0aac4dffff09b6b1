import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import { type BuiltManifest, buildImage, pushManifest } from "../../src/fixtures/image-factory.js";
import { planSchema } from "../../src/plan/plan-schema.js";
import { connect, readAudits, runCli, tempDir, uniqueRepo } from "../integration/helpers.js";
import { type AzureDevOpsServer, startAzureDevOpsServer } from "../servers/azure-devops-server.js";
import { type GitHubServer, startGitHubServer } from "../servers/github-server.js";

const PAT = "azure-devops-test-pat-0123";
const GH_TOKEN = "ghp_testtoken0123456789";

/** Images of pull requests 12 (closed), 13 (open) and 14 (status unreadable), and one of PR 12 still in use. */
describe("pull-request images", () => {
  const url = inject("registryUrl");
  const host = inject("registryHost");
  const { registry } = connect(url);
  let ado: AzureDevOpsServer | undefined;
  let gh: GitHubServer | undefined;
  afterEach(async () => {
    await ado?.stop();
    await gh?.stop();
    ado = gh = undefined;
  });

  async function seed() {
    const repo = uniqueRepo("pr");
    const img = (name: string) => buildImage({ seed: `${repo} ${name}`, created: new Date() });
    const images: Record<string, BuiltManifest> = {
      pr12: img("pr12"),
      pr12arm: img("pr12 arm"),
      pr13: img("pr13"),
      pr14: img("pr14"),
      live: img("pr12 live"),
      release: img("release"),
    };
    await pushManifest(registry, repo, images.pr12 as BuiltManifest, ["PR12-test"]);
    await pushManifest(registry, repo, images.pr12arm as BuiltManifest, ["pr12-test-arm"]);
    await pushManifest(registry, repo, images.pr13 as BuiltManifest, ["PR13-test"]);
    await pushManifest(registry, repo, images.pr14 as BuiltManifest, ["PR14-test"]);
    await pushManifest(registry, repo, images.live as BuiltManifest, ["PR12-live"]);
    await pushManifest(registry, repo, images.release as BuiltManifest, ["1.0"]);
    const dir = await tempDir();
    const inUse = join(dir, "in-use.txt");
    await writeFile(inUse, `${host}/${repo}:PR12-live\n`);
    return { repo, images, dir, inUse };
  }
  const exists = async (repo: string, m: BuiltManifest | undefined) =>
    (await registry.getManifest(repo, m?.digest ?? "")) !== undefined;

  it("Azure DevOps, from flags: only PR 12's images go; 13 (active) and 14 (unreadable) stay, and so does an in-use PR 12 image", async () => {
    const s = await seed();
    ado = await startAzureDevOpsServer({
      projects: ["shop"],
      pat: PAT,
      pullRequests: { 12: { status: "completed" }, 13: { status: "active" }, 14: { answer: 404 } },
    });
    const res = await runCli(
      [
        "purge",
        "--registry",
        url,
        "--filter",
        `${s.repo}:.*`,
        "--in-use-file",
        s.inUse,
        "--no-cache",
        "--pr-provider",
        "azure-devops",
        "--pr-org",
        ado.url,
        "--pr-project",
        "shop",
        "--audit-dir",
        join(s.dir, "audits"),
        "-o",
        join(s.dir, "plan.json"),
        "--apply",
        "--yes",
      ],
      { env: { AZURE_DEVOPS_EXT_PAT: PAT } },
    );
    expect(res.code, res.stderr).toBe(0);
    expect(await exists(s.repo, s.images.pr12)).toBe(false);
    expect(await exists(s.repo, s.images.pr12arm)).toBe(false);
    for (const kept of ["pr13", "pr14", "live", "release"])
      expect(await exists(s.repo, s.images[kept])).toBe(true);
    // One lookup per PR number, however many tags name it.
    expect(ado.lookups(12)).toBe(1);
    expect(ado.lookups(13)).toBe(1);
    expect(ado.lookups(14)).toBe(1);
    expect(res.stdout).toMatch(
      /Deleted Images: 2\n {2}\S+:PR12-test {2}PR 12 completed\n {2}\S+:pr12-test-arm {2}PR 12 completed/,
    );
    expect(res.stdout).toMatch(/Preserved Images: 3/);
    expect(res.stdout).toMatch(/:PR13-test {2}PR 13 active/);
    expect(res.stdout).toMatch(
      /:PR14-test {2}PR 14 status unknown {2}\(PR 14 \(tag PR14-test\): status could not be read, so it stays: .*404/,
    );
    expect(res.stdout).toMatch(/:PR12-live {2}PR 12 completed {2}\(in use: in-use-file/);
    expect(res.stderr).toMatch(/warning: PR 14: status unknown/);
    expect(`${res.stdout}${res.stderr}`).not.toContain(PAT);
    const apply = (await readAudits(join(s.dir, "audits"))).find((a) => a.name.includes("_apply_"));
    expect(apply?.json.pullRequests).toMatchObject({
      deleted: [{ tag: "PR12-test", pr: 12 }, { tag: "pr12-test-arm" }],
    });
  });

  it("GitHub, from the configuration: merged and closed PRs' images go, open ones stay; doctor checks the provider", async () => {
    const s = await seed();
    gh = await startGitHubServer({
      repositories: {
        "contoso/shop": {
          pulls: [
            { number: 12, state: "closed", merged: true },
            { number: 13, state: "open" },
            { number: 14, state: "closed", merged: false },
          ],
        },
      },
      tokens: [GH_TOKEN],
    });
    const config = join(s.dir, "regsweep.yaml");
    await writeFile(
      config,
      [
        "registry:",
        `  url: ${url}`,
        "policy:",
        `  filters: ["${s.repo}:.*"]`,
        "  rules:",
        "    - pullRequest:",
        "        provider: github",
        "        organization: contoso/shop",
        `        baseUrl: ${gh.url}`,
        "usage:",
        "  - type: file",
        `    path: ${s.inUse}`,
        "audit:",
        `  dir: ${join(s.dir, "audits")}`,
        "",
      ].join("\n"),
    );
    const env = { GITHUB_TOKEN: GH_TOKEN };
    const planned = await runCli(["plan", "--config", config, "--no-cache", "--format", "json"], { env });
    expect(planned.code, planned.stderr).toBe(0);
    const plan = planSchema.parse(JSON.parse(planned.stdout));
    expect(plan.pullRequests?.deleted.map((d) => `${d.tag}:${d.status}`).sort()).toEqual([
      "PR12-test:merged",
      "PR14-test:closed",
      "pr12-test-arm:merged",
    ]);
    const run = await runCli(["run", "--config", config, "--yes", "--no-cache"], { env });
    expect(run.code, run.stderr).toBe(0);
    for (const gone of ["pr12", "pr12arm", "pr14"]) expect(await exists(s.repo, s.images[gone])).toBe(false);
    for (const kept of ["pr13", "live", "release"]) expect(await exists(s.repo, s.images[kept])).toBe(true);

    const doctor = await runCli(["doctor", "--config", config, "--no-cache"], { env });
    expect(doctor.stdout).toMatch(/ok {4}pull requests: github contoso\/shop.*answers/);
    const refused = await runCli(["doctor", "--config", config, "--no-cache"], {
      env: { GITHUB_TOKEN: "wrong" },
    });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/FAIL {2}pull requests: /);
    expect(refused.stdout).not.toContain("wrong");
  });

  it("untag on a registry without tag deletion is refused naming the registry, and deletes nothing", async () => {
    const s = await seed();
    ado = await startAzureDevOpsServer({
      projects: ["shop"],
      pat: PAT,
      pullRequests: { 12: { status: "abandoned" } },
    });
    const res = await runCli(
      [
        "purge",
        "--registry",
        url,
        "--filter",
        `${s.repo}:PR12.*`,
        "--in-use-file",
        s.inUse,
        "--no-cache",
        "--pr-provider",
        "azure-devops",
        "--pr-org",
        ado.url,
        "--pr-project",
        "shop",
        "--pr-action",
        "untag",
        "--audit-dir",
        join(s.dir, "audits"),
        "-o",
        join(s.dir, "plan.json"),
        "--apply",
        "--yes",
      ],
      { env: { AZURE_DEVOPS_EXT_PAT: PAT } },
    );
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(
      new RegExp(`registry ${host.replace(/\./g, "\\.")} does not remove single tags`),
    );
    for (const kept of Object.keys(s.images)) expect(await exists(s.repo, s.images[kept])).toBe(true);
  });

  it("Azure DevOps without a PAT signs in with the Entra identity (here REGSWEEP_AZURE_TOKEN), sent as a bearer token", async () => {
    const s = await seed();
    ado = await startAzureDevOpsServer({
      projects: ["shop"],
      bearer: "entra-token-for-ado",
      pullRequests: { 12: { status: "completed" } },
    });
    const res = await runCli(
      [
        "plan",
        "--registry",
        url,
        "--filter",
        `${s.repo}:PR12-test`,
        "--no-cache",
        "--format",
        "json",
        "--pr-provider",
        "azure-devops",
        "--pr-org",
        ado.url,
        "--pr-project",
        "shop",
        "--in-use-file",
        s.inUse,
        "--audit-dir",
        join(s.dir, "audits"),
      ],
      {
        env: {
          REGSWEEP_AZURE_TOKEN: "entra-token-for-ado",
          AZURE_DEVOPS_EXT_PAT: "",
          SYSTEM_ACCESSTOKEN: "",
        },
      },
    );
    expect(res.code, res.stderr).toBe(0);
    expect(planSchema.parse(JSON.parse(res.stdout)).pullRequests?.deleted.map((d) => d.tag)).toEqual([
      "PR12-test",
    ]);
    expect(ado.requests.some((r) => r.auth === "bearer" && r.authorized)).toBe(true);
  });
});

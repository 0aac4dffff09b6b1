import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import {
  type BuiltManifest,
  buildCosignSignature,
  buildImage,
  buildIndex,
  pushManifest,
} from "../../src/fixtures/image-factory.js";
import { referrersTagFor } from "../../src/oci/digest.js";
import { type LyingProxy, startLyingProxy } from "../harness/lying-proxy.js";
import { connect, readAudits, runCli, tempDir, uniqueRepo } from "../integration/helpers.js";

const ago = (days: number) => new Date(Date.now() - days * 86_400_000);

/** The registry changes while regsweep applies a plan: nothing a kept image needs may go. */
describe("drift during apply", () => {
  const url = inject("registryUrl");
  const { registry } = connect(url);
  let proxy: LyingProxy | undefined;
  afterEach(async () => {
    await proxy?.stop();
    proxy = undefined;
  });
  const exists = async (repo: string, digest: string) =>
    (await registry.getManifest(repo, digest)) !== undefined;

  async function signedImage(repo: string, name: string) {
    const image = buildImage({ seed: `${repo} ${name}`, created: ago(90) });
    const sig = buildCosignSignature(image, ago(90));
    await pushManifest(registry, repo, image, [name]);
    await pushManifest(registry, repo, sig, [`${referrersTagFor(image.digest)}.sig`]);
    return { image, sig };
  }

  async function planFor(registryUrl: string, repo: string) {
    const dir = await tempDir();
    const planFile = join(dir, "plan.json");
    const inUse = join(dir, "in-use.txt");
    await writeFile(inUse, "# nothing in use\n");
    const res = await runCli([
      "plan",
      "--registry",
      registryUrl,
      "--filter",
      `${repo}:.*`,
      "--ago",
      "30d",
      "--in-use-file",
      inUse,
      "--no-cache",
      "-o",
      planFile,
      "--audit-dir",
      join(dir, "audits"),
    ]);
    expect(res.code, res.stderr).toBe(0);
    return { dir, planFile };
  }
  const apply = (planFile: string, dir: string, ...extra: string[]) =>
    runCli(["apply", planFile, "--yes", "--audit-dir", join(dir, "audits"), ...extra]);

  it("a subject that gained a tag since the plan is skipped, and its signature stays", async () => {
    const repo = uniqueRepo("drift-sig");
    const c = await signedImage(repo, "c1");
    const { dir, planFile } = await planFor(url, repo);
    await registry.putManifest(repo, "c-new", c.image.mediaType, c.image.body);
    const res = await apply(planFile, dir);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/skipped .*tag c-new was added/);
    expect(res.stderr).toMatch(/skipped .*held back with its group/);
    expect(await exists(repo, c.image.digest)).toBe(true);
    expect(await exists(repo, c.sig.digest)).toBe(true);
  });

  it("a subject whose DELETE fails keeps its signature; the rest of the plan goes on", async () => {
    const repo = uniqueRepo("drift-fail");
    const c = await signedImage(repo, "c1");
    const other = await signedImage(repo, "o1");
    proxy = await startLyingProxy(url, {
      before: (req) =>
        req.method === "DELETE" && req.url === `/v2/${repo}/manifests/${c.image.digest}`
          ? { status: 503, body: Buffer.from('{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}') }
          : null,
    });
    const { dir, planFile } = await planFor(proxy.url, repo);
    const res = await apply(planFile, dir);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/failed .*HTTP 503/);
    expect(await exists(repo, c.image.digest)).toBe(true);
    expect(await exists(repo, c.sig.digest)).toBe(true);
    expect(await exists(repo, other.image.digest)).toBe(false);
    expect(await exists(repo, other.sig.digest)).toBe(false);
  }, 60_000);

  it("a tag pushed during the apply onto a digest planned later is seen before that deletion", async () => {
    const repo = uniqueRepo("drift-push");
    const images: BuiltManifest[] = [];
    for (let i = 0; i < 4; i++) {
      const image = buildImage({ seed: `${repo} ${i}`, created: ago(90 - i) });
      await pushManifest(registry, repo, image, [`v${i}`]);
      images.push(image);
    }
    const last = images[3] as BuiltManifest;
    let pushed = false;
    proxy = await startLyingProxy(url, {
      // Someone pushes right when the first deletion reaches the registry.
      before: async (req) => {
        if (req.method === "DELETE" && !pushed) {
          pushed = true;
          await registry.putManifest(repo, "pushed-during-apply", last.mediaType, last.body);
        }
        return null;
      },
    });
    const { dir, planFile } = await planFor(proxy.url, repo);
    const res = await apply(planFile, dir, "--rps", "3", "--concurrency", "1");
    expect(res.code, res.stderr).toBe(0);
    expect(pushed).toBe(true);
    expect(res.stderr).toMatch(/skipped .*tag pushed-during-apply was added/);
    expect(await exists(repo, last.digest)).toBe(true);
    expect((await registry.getManifest(repo, "pushed-during-apply"))?.digest).toBe(last.digest);
    expect(await exists(repo, images[0]?.digest ?? "")).toBe(false);
  });

  it("an in-use tag moved onto a new index keeps the planned index that shares its platform image, with all its children", async () => {
    const repo = uniqueRepo("drift-index");
    const amd = buildImage({ seed: `${repo} amd`, created: ago(90), architecture: "amd64" });
    const arm = buildImage({ seed: `${repo} arm`, created: ago(90), architecture: "arm64" });
    const old = buildIndex([amd, arm]);
    await pushManifest(registry, repo, old, ["o1"]);
    const { dir, planFile } = await planFor(url, repo);
    // After the plan: prod now names a new index that reuses the amd64 image the plan lists.
    const arm2 = buildImage({ seed: `${repo} arm2`, created: ago(1), architecture: "arm64" });
    const fresh = buildIndex([amd, arm2]);
    await pushManifest(registry, repo, fresh, ["prod"]);
    const inUse = join(dir, "in-use.txt");
    await writeFile(inUse, `${inject("registryHost")}/${repo}:prod\n`);
    const res = await apply(planFile, dir, "--in-use-file", inUse);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/skipped .*now in use/);
    for (const m of [old, amd, arm, fresh, arm2]) expect(await exists(repo, m.digest)).toBe(true);
  });

  it("a registry whose tags cannot be read again mid-apply stops it, and the audit still records what was deleted", async () => {
    const repo = uniqueRepo("drift-stop");
    const images: BuiltManifest[] = [];
    for (let i = 0; i < 3; i++) {
      const image = buildImage({ seed: `${repo} ${i}`, created: ago(90 - i) });
      await pushManifest(registry, repo, image, [`v${i}`]);
      images.push(image);
    }
    let deletes = 0;
    proxy = await startLyingProxy(url, {
      before: (req) => {
        if (req.method === "DELETE") deletes++;
        // After the first deletion the tag list starts to loop: the listing can no longer be completed.
        return deletes > 0 && req.method === "GET" && req.url.startsWith(`/v2/${repo}/tags/list`)
          ? {
              body: Buffer.from(JSON.stringify({ name: repo, tags: ["v1"] })),
              headers: {
                "content-type": "application/json",
                link: `</v2/${repo}/tags/list?n=1&last=v1>; rel="next"`,
              },
            }
          : null;
      },
    });
    const { dir, planFile } = await planFor(proxy.url, repo);
    const res = await apply(planFile, dir, "--concurrency", "1");
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/cannot be completed/);
    expect(deletes).toBe(1);
    const audit = (await readAudits(join(dir, "audits"))).find((a) => a.name.includes("_apply_"));
    const manifests = (audit?.json.manifests ?? []) as { digest: string; result: { status: string } }[];
    const results = manifests.map(
      (m) => `${m.digest === images[0]?.digest ? "first" : "other"}:${m.result.status}`,
    );
    expect(results.sort()).toEqual(["first:deleted", "other:not-attempted", "other:not-attempted"]);
  });
});

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { buildImage, pushManifest } from "../../src/fixtures/image-factory.js";
import { connect, runCli, tempDir, uniqueRepo } from "./helpers.js";

const DAY = 86_400_000;

/** What a new user types first, and what they should see. */
describe("first contact", () => {
  const url = inject("registryUrl");
  const host = inject("registryHost");

  async function twoImages(prefix: string): Promise<{ repo: string; inUse: string; dir: string }> {
    const { registry } = connect(url);
    const repo = uniqueRepo(prefix);
    const img = (tag: string) =>
      buildImage({ seed: `${repo} ${tag}`, created: new Date(Date.now() - 90 * DAY), layers: [tag] });
    await pushManifest(registry, repo, img("old"), ["old"]);
    await pushManifest(registry, repo, img("live"), ["live"]);
    const dir = await tempDir();
    const inUse = join(dir, "in-use.txt");
    await writeFile(inUse, `${host}/${repo}:live\n`);
    return { repo, inUse, dir };
  }

  async function tagsOf(repo: string): Promise<string[]> {
    const { registry } = connect(url);
    const tags: string[] = [];
    for await (const t of registry.tags(repo)) tags.push(t);
    return tags.sort();
  }

  it("a usage error is one line and where the help is, not the whole help (exit 2)", async () => {
    const cases: [string[], string][] = [
      [["purge", "--registry", url, "--filter", "a:.*", "--no-such-flag"], "regsweep purge"],
      [["plan", "--format", "yaml"], "regsweep plan"],
      [["apply"], "regsweep apply"],
      [["no-such-command"], "regsweep"],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args)));
    for (const [i, [args, command]] of cases.entries()) {
      const res = results[i] as Awaited<ReturnType<typeof runCli>>;
      expect(res.code, args.join(" ")).toBe(2);
      expect(res.stderr, args.join(" ")).toContain(`see '${command} --help'`);
      expect(res.stderr, args.join(" ")).not.toContain("Options:");
      expect(res.stderr.trim().split("\n").length, res.stderr).toBeLessThanOrEqual(3);
    }
  }, 120_000);

  it("--force is --yes: purge --apply --force deletes without a terminal", async () => {
    const { repo, inUse, dir } = await twoImages("force");
    const base = ["purge", "--registry", url, "--filter", `${repo}:.*`, "--in-use-file", inUse];
    const audit = ["--audit-dir", join(dir, "audits")];
    const refused = await runCli([...base, "--apply", ...audit]);
    expect(refused.code).toBe(2);
    expect(await tagsOf(repo)).toEqual(["live", "old"]);
    const res = await runCli([...base, "--apply", "--force", ...audit]);
    expect(res.code, res.stderr).toBe(0);
    expect(await tagsOf(repo)).toEqual(["live"]);
  });

  it("purge takes its filter from policy.filters or REGSWEEP_FILTER, and needs one from somewhere", async () => {
    const { repo, inUse, dir } = await twoImages("cfgfilter");
    const base = ["purge", "--registry", url, "--in-use-file", inUse, "--format", "json"];
    const audit = ["--audit-dir", join(dir, "audits")];
    const none = await runCli([...base, ...audit]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/needs --filter/);

    const config = join(dir, "regsweep.yaml");
    await writeFile(config, `policy:\n  filters: ["${repo}:^old$"]\n`);
    const fromConfig = await runCli([...base, "--config", config, ...audit]);
    expect(fromConfig.code, fromConfig.stderr).toBe(0);
    const planned = JSON.parse(fromConfig.stdout) as { delete: { tags: string[] }[] };
    expect(planned.delete.map((d) => d.tags)).toEqual([["old"]]);

    const fromEnv = await runCli([...base, ...audit], { env: { REGSWEEP_FILTER: `${repo}:.*` } });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    expect((JSON.parse(fromEnv.stdout) as { delete: unknown[] }).delete).toHaveLength(1);
  });
});

import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENVIRONMENT } from "../../src/cli/help-text.js";
import { buildImage, pushManifest } from "../../src/fixtures/image-factory.js";
import { type RunningRegistry, startRegistry } from "../harness/registry-process.js";
import { connect, runCli, tempDir } from "../integration/helpers.js";
import { flagsOf, type Invocation, invocationsIn, unknownFlags } from "./cli-invocations.js";

const README = new URL("../../README.md", import.meta.url);
const DAY = 86_400_000;

/** The README's fenced blocks and inline code spans, which is where it shows commands. */
async function readmeCode(): Promise<{ fenced: { lang: string; body: string }[]; inline: string[] }> {
  const text = await readFile(README, "utf8");
  const fenced = [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```/gm)].map((m) => ({
    lang: m[1] ?? "",
    body: m[2] ?? "",
  }));
  const prose = text.replace(/^```[\s\S]*?^```/gm, "");
  const inline = [...prose.matchAll(/`([^`\n]+)`/g)].map((m) => m[1] as string);
  return { fenced, inline };
}

/** Shell words of one command line: quotes and backslash continuations, as sh reads the tour. */
function words(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2] ?? (m[3] as string));
  return out;
}

describe("every command README shows", () => {
  it("uses only commands and flags the CLI has (fenced blocks, inline code, the reference synopsis)", async () => {
    const { fenced, inline } = await readmeCode();
    // The synopsis writes optional flags as [--flag VALUE] and alternatives as a|b: one flag each.
    // Quotes around a whole command ("see 'regsweep purge --help'") are prose, not shell.
    const unbracket = (s: string) => s.replace(/[[\]()']/g, " ").replace(/\|(?=-)/g, " ");
    const invocations: Invocation[] = [
      ...fenced.flatMap((b) => invocationsIn(unbracket(b.body))),
      ...inline.flatMap((code) => invocationsIn(unbracket(code))),
    ];
    // Not vacuous: the tour, the reference and the scheduling examples are all in there.
    expect(invocations.length).toBeGreaterThan(20);
    const commands = new Set(invocations.map((i) => i.command));
    for (const c of [
      "scan",
      "plan",
      "purge",
      "run",
      "apply",
      "restore",
      "report",
      "doctor",
      "config import",
      "wizard",
    ])
      expect(commands, c).toContain(c);
    // Each command's --help once, side by side: a CLI start costs a second on a loaded machine.
    await Promise.all([...new Set(invocations.map((i) => i.command))].map(flagsOf));
    // `--pr-*` in the synopsis stands for the family: some flag must start so.
    const families = invocations.flatMap((i) =>
      i.flags.filter((f) => f.endsWith("*")).map((f) => ({ command: i.command, prefix: f.slice(0, -1) })),
    );
    for (const { command, prefix } of families)
      expect(
        [...(await flagsOf(command))].some((f) => f.startsWith(prefix)),
        `${command} ${prefix}*`,
      ).toBe(true);
    const concrete = invocations.map((i) => ({ ...i, flags: i.flags.filter((f) => !f.endsWith("*")) }));
    expect(await unknownFlags(concrete)).toEqual([]);
  }, 120_000);

  it("names every environment variable and exit code that --help lists, and --help lists them all", async () => {
    const readme = await readFile(README, "utf8");
    const help = await runCli(["--help"]);
    expect(help.code).toBe(0);
    const sources = await readSources();
    // Every REGSWEEP_* variable the code reads is in the help, and the help's are in README.
    const read = new Set([...sources.matchAll(/\bREGSWEEP_[A-Z_]+[A-Z]\b/g)].map((m) => m[0]));
    for (const name of read) expect(help.stdout, name).toContain(name);
    for (const [names] of ENVIRONMENT)
      for (const name of names.split(", ")) expect(readme, `README names ${name}`).toContain(name);
    for (const code of ["0", "1", "2", "3"])
      expect(help.stdout).toMatch(new RegExp(`^\\s+${code}\\s+\\S`, "m"));
    const purgeHelp = await runCli(["purge", "--help"]);
    expect(purgeHelp.stdout).toContain("Exit codes:");
  });
});

/** Every source file's text, for the environment variables the code reads. */
async function readSources(): Promise<string> {
  const { readdir } = await import("node:fs/promises");
  const root = new URL("../../src/", import.meta.url);
  const files = (await readdir(root, { recursive: true })).filter((f) => f.endsWith(".ts"));
  const texts = await Promise.all(files.map((f) => readFile(new URL(f, root), "utf8")));
  return texts.join("\n");
}

describe("README's 60-second tour, run as written against a registry on this machine", () => {
  let registry: RunningRegistry;
  let cwd: string;
  const tour: string[][] = [];

  beforeAll(async () => {
    registry = await startRegistry();
    cwd = await tempDir("regsweep-tour-");
    const { registry: client } = connect(registry.url);
    const push = (tag: string, days: number) =>
      pushManifest(
        client,
        "team/web",
        buildImage({ seed: `tour ${tag}`, created: new Date(Date.now() - days * DAY), layers: [tag] }),
        [tag],
      );
    for (const [tag, days] of [
      ["1.0", 200],
      ["1.1", 120],
      ["1.2", 90],
      ["1.3", 60],
      ["1.4", 45],
      ["1.5", 40],
      ["1.6", 5],
    ] as const)
      await push(tag, days);
    await writeFile(join(cwd, "in-use.txt"), `# production\n${registry.host}/team/web:1.1\n`);

    const text = await readFile(README, "utf8");
    const section = text.split(/^## A 60-second tour$/m)[1]?.split(/^## /m)[0] ?? "";
    const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
    for (const line of block.replace(/\\\n/g, " ").split("\n")) {
      const code = line.replace(/\s#.*$/, "").trim();
      if (!code.startsWith("npx regsweep ")) continue;
      // The tour's registry is "a registry on this machine": here, the one this test started.
      tour.push(words(code.replaceAll("http://127.0.0.1:5000", registry.url)).slice(2));
    }
  });
  afterAll(() => registry?.stop());

  it("scans, plans a dry run, applies the plan and then purges in one step, each exiting 0", async () => {
    expect(tour.map((args) => args[0])).toEqual(["scan", "purge", "apply", "purge"]);
    const results = [];
    for (const args of tour) {
      const res = await runCli(args, { cwd });
      expect(res.code, `${args.join(" ")}\n${res.stderr}`).toBe(0);
      results.push(res);
    }
    expect(results[0]?.stdout).toContain("team/web");
    // The dry run deleted nothing and wrote the plan the apply then carried out.
    const plan = JSON.parse(await readFile(join(cwd, "plan.json"), "utf8")) as {
      delete: { tags: string[] }[];
      keep: { tags: string[]; reasons: { rule: string }[] }[];
    };
    expect(plan.delete.flatMap((d) => d.tags).sort()).toEqual(["1.0", "1.2"]);
    expect(plan.keep.find((k) => k.tags.includes("1.1"))?.reasons.map((r) => r.rule)).toContain("in-use");
    const { registry: client } = connect(registry.url);
    const tags: string[] = [];
    for await (const t of client.tags("team/web")) tags.push(t);
    expect(tags.sort()).toEqual(["1.1", "1.3", "1.4", "1.5", "1.6"]);
  }, 120_000);
});

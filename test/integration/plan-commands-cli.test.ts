import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { buildImage, buildIndex, pushManifest } from "../../src/fixtures/image-factory.js";
import { planSchema } from "../../src/plan/plan-schema.js";
import { connect, runCli, tempDir, uniqueRepo } from "./helpers.js";

const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY);

describe("--format commands against a real registry", () => {
  const url = inject("registryUrl");
  const host = inject("registryHost");
  const { registry } = connect(url);
  const p = uniqueRepo("cmds");
  const img = (name: string, days: number, extra: object = {}) =>
    buildImage({ seed: `${p} ${name}`, created: ago(days), layers: ["base", `${p} ${name}`], ...extra });
  const old = img("old", 90);
  const multi = buildIndex(
    ["amd64", "arm64"].map((architecture) => img(`m ${architecture}`, 80, { architecture })),
  );
  const fresh = img("fresh", 1);
  const dir = tempDir();

  beforeAll(async () => {
    await pushManifest(registry, `${p}/app`, old, ["1.0"]);
    await pushManifest(registry, `${p}/app`, multi, ["multi"]);
    await pushManifest(registry, `${p}/app`, fresh, ["1.1"]);
  });

  const selection = async () => [
    "--registry",
    url,
    "--filter",
    `${p}/.*:.*`,
    "--ago",
    "30d",
    "--cache-dir",
    join(await dir, "cache"),
    "--audit-dir",
    join(await dir, "audits"),
  ];

  it("plan --format commands prints regctl commands for the plan's delete digests, in order, and nothing else on stdout", async () => {
    const planFile = join(await dir, "plan.json");
    const res = await runCli(["plan", ...(await selection()), "--format", "commands", "-o", planFile]);
    expect(res.stderr).not.toMatch(/regsweep: /);
    expect(res.code).toBe(0);
    const plan = planSchema.parse(JSON.parse(await readFile(planFile, "utf8")));
    expect(plan.delete.map((d) => d.digest).sort()).toEqual(
      [multi.digest, ...multi.children.map((c) => c.digest), old.digest].sort(),
    );
    const out = res.stdout.trimEnd().split("\n");
    // Every line a comment or a command: the output runs as a script.
    expect(out.every((l) => l.startsWith("# ") || l.startsWith("regctl "))).toBe(true);
    const commands = out.filter((l) => l.startsWith("regctl manifest rm "));
    expect(commands).toEqual(plan.delete.map((d) => `regctl manifest rm ${host}/${p}/app@${d.digest}`));
    // Deletion order: the index before its children.
    const pos = (digest: string) => commands.findIndex((c) => c.endsWith(`@${digest}`));
    for (const c of multi.children) expect(pos(multi.digest)).toBeLessThan(pos(c.digest));
    // Each command is followed by its comment.
    const at = out.indexOf(`regctl manifest rm ${host}/${p}/app@${old.digest}`);
    expect(out[at + 1]).toMatch(/^# tags: 1\.0 \| age: 90d \(created\) \| reasons: tags-matched: /);
    expect(out[0]).toBe(`# regsweep plan for ${host}, made ${plan.createdAt}`);
    expect(out).toContain(`# Plain http: first run regctl registry set ${host} --tls disabled`);
    expect(res.stdout).not.toContain(fresh.digest);
  });

  it("purge --dry-run --format commands prints the same commands and deletes nothing", async () => {
    const res = await runCli(["purge", ...(await selection()), "--dry-run", "--format", "commands"]);
    expect(res.code).toBe(0);
    expect(res.stdout.split("\n").filter((l) => l.startsWith("regctl ")).length).toBe(4);
    expect(await registry.headManifest(`${p}/app`, old.digest)).toBeDefined();
  });

  it("purge --apply --format commands is bad usage (exit 2): it prints, it does not delete", async () => {
    const res = await runCli([
      ...["purge", ...(await selection())],
      "--apply",
      "--yes",
      "--no-usage-sources",
      "--format",
      "commands",
    ]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/--format commands .* deletes nothing/);
    expect(res.stdout).toBe("");
    expect(await registry.headManifest(`${p}/app`, old.digest)).toBeDefined();
  });

  it("report --format commands renders a kept plan the same way", async () => {
    const planFile = join(await dir, "plan.json");
    const made = await runCli(["plan", ...(await selection()), "--format", "commands", "-o", planFile]);
    const res = await runCli(["report", "--plan", planFile, "--format", "commands"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(made.stdout);
    const by = await runCli(["report", "--plan", planFile, "--by", "image", "--format", "commands"]);
    expect(by.code).toBe(2);
  });
});

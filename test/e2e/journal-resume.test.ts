import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { readJournal } from "../../src/apply/journal.js";
import { type BuiltManifest, buildImage, pushManifest } from "../../src/fixtures/image-factory.js";
import { startFaultProxy } from "../harness/fault-proxy.js";
import { connect, runCli, tempDir, uniqueRepo } from "../integration/helpers.js";

const ago = (days: number) => new Date(Date.now() - days * 86_400_000);

describe("journal: torn lines, no journal before the first step, retrying failures", () => {
  const url = inject("registryUrl");
  const { registry } = connect(url);

  /** Images pushed directly, and a plan made through `via` (the registry, or a fault proxy before it). */
  async function seed(count: number, via = url) {
    const p = uniqueRepo("journal");
    const images: BuiltManifest[] = [];
    for (let i = 0; i < count; i++) {
      const image = buildImage({ seed: `${p} ${i}`, created: ago(90) });
      await pushManifest(registry, p, image, [`v${i}`]);
      images.push(image);
    }
    const dir = await tempDir();
    const planFile = join(dir, "plan.json");
    const audits = join(dir, "audits");
    const res = await runCli([
      "plan",
      "--registry",
      via,
      "--filter",
      `${p}:.*`,
      "-o",
      planFile,
      "--no-cache",
      "--audit-dir",
      audits,
    ]);
    expect(res.code, res.stderr).toBe(0);
    return { p, images, dir, planFile, audits, journalPath: `${planFile}.journal` };
  }

  const apply = (s: { planFile: string; audits: string }, ...extra: string[]) =>
    runCli([
      "apply",
      s.planFile,
      "--yes",
      "--no-usage-sources",
      "--no-cache",
      "--audit-dir",
      s.audits,
      ...extra,
    ]);

  it("a journal whose last line was cut mid-write is resumed (with a warning), and resumed again", async () => {
    const s = await seed(3);
    const first = await apply(s);
    expect(first.code, first.stderr).toBe(0);
    // As if killed while writing the last deletion's line: it loses its second half and newline.
    const lines = (await readFile(s.journalPath, "utf8")).trimEnd().split("\n");
    const lastDeleted = lines.findLastIndex((l) => l.includes('"step":"deleted"'));
    const torn = lines[lastDeleted] as string;
    const kept = lines.slice(0, lastDeleted).join("\n");
    await writeFile(s.journalPath, `${kept}\n${torn.slice(0, Math.floor(torn.length / 2))}`);

    const resumed = await apply(s, "--resume");
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/plan\.json\.journal: ignored a torn last line/);
    const again = await apply(s, "--resume");
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toMatch(/torn/);
    const journal = readJournal(s.journalPath);
    expect(journal.at(-1)?.step).toBe("end");
    for (const image of s.images) expect(await registry.headManifest(s.p, image.digest)).toBeUndefined();
  });

  it("an apply that fails before its first step leaves no journal, so the plain retry works", async () => {
    let down = false;
    // Down, every connection is cut before an answer: the registry is unreachable.
    const proxy = await startFaultProxy(url, () => (down ? { reset: true } : null));
    try {
      const s = await seed(2, proxy.url);
      down = true;
      const failed = await apply(s);
      expect(failed.code, failed.stderr).toBe(1);
      expect(existsSync(s.journalPath)).toBe(false);

      down = false;
      const retry = await apply(s);
      expect(retry.code, retry.stderr).toBe(0);
      for (const image of s.images) expect(await registry.headManifest(s.p, image.digest)).toBeUndefined();
      expect(readJournal(s.journalPath).at(-1)?.step).toBe("end");
    } finally {
      await proxy.stop();
    }
  });

  it("resume leaves failed items alone and says so; --retry-failed attempts them again", async () => {
    let failing = "";
    // A 400 that is not "unsupported" is not retried: that one deletion fails, the others go on.
    const proxy = await startFaultProxy(url, ({ method, url: path }) =>
      failing && method === "DELETE" && path.endsWith(failing)
        ? { status: 400, body: { errors: [{ code: "DENIED", message: "injected" }] } }
        : null,
    );
    try {
      const s = await seed(3, proxy.url);
      const target = (s.images[1] as BuiltManifest).digest;
      failing = target;
      const first = await apply(s);
      expect(first.code).toBe(1);
      expect(first.stderr).toMatch(new RegExp(`failed .*${target}`));
      expect(await registry.headManifest(s.p, target)).toBeDefined();
      failing = "";

      const plain = await apply(s, "--resume");
      expect(plain.code).toBe(1);
      expect(plain.stderr).toMatch(/1 item failed in an earlier run.*--retry-failed/);
      expect(await registry.headManifest(s.p, target)).toBeDefined();

      const alone = await apply(s, "--retry-failed");
      expect(alone.code).toBe(2);
      expect(alone.stderr).toMatch(/--retry-failed.*--resume/);

      const retried = await apply(s, "--resume", "--retry-failed");
      expect(retried.code, retried.stderr).toBe(0);
      expect(await registry.headManifest(s.p, target)).toBeUndefined();
      const journal = readJournal(s.journalPath);
      expect(journal.filter((j) => j.step === "deleted" && j.digest === target)).toHaveLength(1);
      expect(journal.filter((j) => j.step === "deleted")).toHaveLength(3);
    } finally {
      await proxy.stop();
    }
  });
});

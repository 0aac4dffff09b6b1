import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { connect } from "../integration/helpers.js";
import { packThisCheckout, ROOT, runAsConsumer as run, seedOldLiveRecent } from "./package-consumer.js";

const TSC = join(ROOT, "node_modules/typescript/bin/tsc");
// tsc reads the SDKs' declarations: ~20 s on a busy 2-core machine, close to the 30 s default.
const TSC_TIMEOUT_MS = 120_000;

describe("the library from a packed tarball", () => {
  const url = inject("registryUrl");
  const host = inject("registryHost");
  const { registry } = connect(url);
  let work: string;
  let project: string;
  let packed: string[];

  beforeAll(async () => {
    const pack = await packThisCheckout("regsweep-lib-");
    work = pack.work;
    packed = [...pack.files];
    project = join(work, "consumer");
    await mkdir(project);
    await writeFile(
      join(project, "package.json"),
      JSON.stringify({ name: "regsweep-consumer", private: true, type: "module" }),
    );
    // @types/node at the project's own version: a TypeScript consumer declares it, and npm ci cached it.
    const typesNode = JSON.parse(await readFile(join(ROOT, "node_modules/@types/node/package.json"), "utf8"))
      .version as string;
    const install = await run(
      "npm",
      [
        "install",
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
        pack.tarball,
        `@types/node@${typesNode}`,
      ],
      project,
    );
    expect(install.code, install.stderr).toBe(0);
    for (const example of ["library.mjs", "library.ts"]) {
      await copyFile(join(ROOT, "examples", example), join(project, example));
    }
    await writeFile(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2023",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          noEmit: true,
          types: ["node"],
        },
        files: ["library.ts"],
      }),
    );
  }, 180_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  const seed = () => seedOldLiveRecent(registry, host, "lib");

  it("ships the entry point, its declarations and the CLI", () => {
    expect(packed).toEqual(expect.arrayContaining(["dist/index.js", "dist/index.d.ts", "bin/regsweep.js"]));
    expect(packed.filter((p) => p.startsWith("src/") || p.startsWith("test/"))).toEqual([]);
  });

  it("the README's Library section shows examples/library.mjs as it is", async () => {
    const readme = await readFile(join(ROOT, "README.md"), "utf8");
    const example = await readFile(join(ROOT, "examples/library.mjs"), "utf8");
    const section = readme.slice(readme.indexOf("\n## Library\n"), readme.indexOf("\n## Layout\n"));
    expect(section).toContain(`\`\`\`js\n${example}\`\`\`\n`);
  });

  it("the functions and errors the README lists are the package's, with the exit codes it states", async () => {
    const readme = await readFile(join(ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("\n## Library\n"), readme.indexOf("\n## Layout\n"));
    const functions = [...section.matchAll(/^\| `(\w+)\(/gm)].map((m) => m[1]);
    expect(functions).toEqual(expect.arrayContaining(["openRegistry", "scan", "plan", "apply", "restore"]));
    const script = `
      import * as regsweep from "regsweep";
      const errors = { UsageError: [""], UsageSourceError: ["source", ""], RegistryError: [""], AbortedError: [""] };
      console.log(JSON.stringify({
        exports: Object.keys(regsweep),
        codes: Object.fromEntries(Object.entries(errors).map(([name, args]) => [name, regsweep.exitCodeOf(new regsweep[name](...args))])),
        other: regsweep.exitCodeOf(new Error("x")),
      }));`;
    const res = await run(process.execPath, ["--input-type=module", "-e", script], project);
    expect(res.code, res.stderr).toBe(0);
    const found = JSON.parse(res.stdout) as {
      exports: string[];
      codes: Record<string, number>;
      other: number;
    };
    expect(found.exports).toEqual(expect.arrayContaining([...functions, "exitCodeOf", "purgePolicy"]));
    const stated = Object.fromEntries(
      [...section.matchAll(/`(\w+Error)` (\d)/g)].map((m) => [m[1] ?? "", Number(m[2])]),
    );
    expect(stated).toEqual({ UsageError: 2, UsageSourceError: 3, RegistryError: 1, AbortedError: 1 });
    expect(found.codes).toEqual(stated);
    expect(found.other).toBe(1);
  });

  it("every file the installed package.json points at is in the package", async () => {
    const manifest = JSON.parse(await readFile(join(project, "node_modules/regsweep/package.json"), "utf8"));
    const named = [
      manifest.main,
      manifest.types,
      manifest.exports["."].types,
      manifest.exports["."].import,
      ...Object.values(manifest.bin as Record<string, string>),
    ].map((p: string) => p.replace(/^\.\//, ""));
    expect(named).toHaveLength(5);
    for (const path of named) expect(packed).toContain(path);
  });

  it("examples/library.mjs plans and applies against the registry: the unused old image goes, the in-use and the recent ones stay", async () => {
    const s = await seed();
    const res = await run(process.execPath, ["library.mjs", url, `${s.repo}:.*`, s.inUse], project);
    expect(res.code, res.stderr).toBe(0);
    const summary = JSON.parse(res.stdout) as {
      planFile: string;
      planned: { delete: number; keep: number; inUse: number };
      counts: { deleted: number; skipped: number; failed: number };
      deleted: string[];
      kept: { image: string; why: string[] }[];
    };
    expect(summary.planned).toMatchObject({ delete: 1, keep: 2, inUse: 1 });
    expect(summary.counts).toMatchObject({ deleted: 1, skipped: 0, failed: 0 });
    expect(summary.deleted).toEqual([`${s.repo}@${s.old.digest}`]);
    expect(summary.kept).toEqual(
      expect.arrayContaining([
        { image: `${s.repo}@${s.live.digest}`, why: expect.arrayContaining(["in-use"]) },
        { image: `${s.repo}@${s.recent.digest}`, why: expect.arrayContaining(["too-recent"]) },
      ]),
    );
    expect(res.stderr).toContain(`deleted ${s.repo}@${s.old.digest}`);
    expect(await registry.headManifest(s.repo, s.old.digest)).toBeUndefined();
    expect(await registry.headManifest(s.repo, s.live.digest)).toBeDefined();
    expect(await registry.headManifest(s.repo, s.recent.digest)).toBeDefined();
    // The plan it applied is on disk, a plan the CLI reads too, with the journal beside it.
    const written = JSON.parse(await readFile(join(project, summary.planFile), "utf8"));
    expect(written).toMatchObject({ version: 1, registryUrl: url, summary: { delete: 1 } });
    expect((await readFile(join(project, `${summary.planFile}.journal`), "utf8")).length).toBeGreaterThan(0);
  });

  it("a typed error crosses the package boundary with its exit code: an unparsable in-use reference is exit 2, nothing deleted", async () => {
    const s = await seed();
    const res = await run(
      process.execPath,
      ["library.mjs", url, `${s.repo}:.*`, "not a reference!"],
      project,
    );
    expect(res.code).toBe(2);
    expect(res.stdout).toBe("");
    expect(res.stderr.trim().split("\n")).toHaveLength(1);
    expect(res.stderr).toMatch(/^regsweep: .*deploy pipeline/);
    expect(await registry.headManifest(s.repo, s.old.digest)).toBeDefined();
  });

  it(
    "examples/library.ts type-checks against the shipped declarations and runs with its own UsageSource",
    async () => {
      const check = await run(process.execPath, [TSC, "-p", "tsconfig.json"], project);
      expect(check.stdout + check.stderr).toBe("");
      expect(check.code).toBe(0);

      const s = await seed();
      const res = await run(process.execPath, ["library.ts", url, `${s.repo}:.*`, s.inUse], project);
      expect(res.code, res.stderr).toBe(0);
      expect(JSON.parse(res.stdout)).toEqual({
        manifests: 3,
        scanned: 3,
        planned: 1,
        deleted: 1,
        skipped: [],
      });
      expect(await registry.headManifest(s.repo, s.old.digest)).toBeUndefined();
      expect(await registry.headManifest(s.repo, s.live.digest)).toBeDefined();
    },
    TSC_TIMEOUT_MS,
  );

  it(
    "the declarations are real types, not any: a wrong call fails type-checking",
    async () => {
      await writeFile(
        join(project, "wrong.ts"),
        [
          `import { apply, type Inventory, plan } from "regsweep";`,
          "declare const inventory: Inventory;",
          `const made = plan({ inventory, usages: [], policy: { filters: ["team/.*"] }, now: 42 });`,
          "await apply(made, {});",
          "",
        ].join("\n"),
      );
      await writeFile(
        join(project, "tsconfig.wrong.json"),
        JSON.stringify({ extends: "./tsconfig.json", files: ["wrong.ts"] }),
      );
      const check = await run(process.execPath, [TSC, "-p", "tsconfig.wrong.json"], project);
      expect(check.code).not.toBe(0);
      expect(check.stdout).toMatch(
        /wrong\.ts\(3,\d+\): error TS2322: Type 'number' is not assignable to type 'Date'/,
      );
      expect(check.stdout).toMatch(/wrong\.ts\(4,\d+\): error TS2345: .*'ApplyOptions'/);
      expect(check.stdout).toMatch(/missing the following properties .*registry, journalPath/);
    },
    TSC_TIMEOUT_MS,
  );
});

import { readFile, rm, writeFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { connect, tempDir } from "../integration/helpers.js";
import {
  dryRunPurgeArgs,
  type Packed,
  packageVersion,
  packThisCheckout,
  ROOT,
  runAsConsumer,
  seedOldLiveRecent,
} from "./package-consumer.js";

const INSTALL_FLAGS = ["--prefer-offline", "--no-audit", "--no-fund"];

/** Relative module specifiers a compiled file loads (static imports, re-exports, dynamic imports). */
function relativeImports(source: string): string[] {
  return [...source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}\/[^"']+)["']/g)].map(
    (m) => m[1] as string,
  );
}

describe("the CLI from a packed tarball, installed globally (npm install -g ./regsweep-<v>.tgz)", () => {
  const url = inject("registryUrl");
  const host = inject("registryHost");
  const { registry } = connect(url);
  let pack: Packed;
  let bin: string;

  beforeAll(async () => {
    pack = await packThisCheckout("regsweep-npm-");
    // A temporary prefix stands in for a fresh machine's global npm directory.
    const prefix = join(pack.work, "prefix");
    const install = await runAsConsumer(
      "npm",
      ["install", "-g", "--prefix", prefix, ...INSTALL_FLAGS, pack.tarball],
      pack.work,
    );
    expect(install.code, install.stderr).toBe(0);
    bin = join(prefix, "bin", "regsweep");
  }, 300_000);

  afterAll(async () => {
    if (pack) await rm(pack.work, { recursive: true, force: true });
  });

  it("ships what runs, its declarations, README and LICENSE; not the demo, its fixtures or source maps", () => {
    expect(pack.files).toEqual(
      expect.arrayContaining([
        "LICENSE",
        "README.md",
        "package.json",
        "bin/regsweep.js",
        "dist/index.js",
        "dist/index.d.ts",
        "dist/cli/main.js",
      ]),
    );
    const unwanted = pack.files.filter((p) =>
      /^(src|test|bench|scripts|examples|deploy)\/|^dist\/(demo|fixtures)\/|^dist\/cli\/demo|\.map$/.test(p),
    );
    expect(unwanted).toEqual([]);
    // Declarations beside the JavaScript: every shipped module has its .d.ts.
    const js = pack.files.filter((p) => p.startsWith("dist/") && p.endsWith(".js"));
    expect(js.length).toBeGreaterThan(50);
    expect(js.filter((p) => !pack.files.includes(p.replace(/\.js$/, ".d.ts")))).toEqual([]);
  });

  it("every module a shipped file or declaration imports is shipped too (what was left out is never loaded)", async () => {
    const shipped = new Set(pack.files);
    const missing: string[] = [];
    for (const file of pack.files.filter((p) => p.endsWith(".js") || p.endsWith(".d.ts"))) {
      const source = await readFile(join(ROOT, file), "utf8");
      for (const spec of relativeImports(source)) {
        const target = posix.normalize(posix.join(posix.dirname(file), spec));
        // A declaration's `./x.js` is x.d.ts to the type checker.
        const wanted = file.endsWith(".d.ts") ? target.replace(/\.js$/, ".d.ts") : target;
        if (!shipped.has(wanted)) missing.push(`${file} -> ${spec}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("LICENSE is the MIT licence package.json names", async () => {
    const manifest = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { license: string };
    expect(manifest.license).toBe("MIT");
    const license = await readFile(join(ROOT, "LICENSE"), "utf8");
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} the regsweep authors\n/);
  });

  it("the installed regsweep is on the prefix's bin and prints the package's version", async () => {
    const res = await runAsConsumer(bin, ["--version"], pack.work);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout.trim()).toBe(await packageVersion());
  });

  it("the installed regsweep plans a purge against the registry: the unused old image only, nothing deleted", async () => {
    const s = await seedOldLiveRecent(registry, host, "npmpkg");
    const dir = await tempDir("regsweep-npm-run-");
    try {
      await writeFile(join(dir, "in-use.txt"), `${s.inUse}\n`);
      const res = await runAsConsumer(bin, dryRunPurgeArgs(url, s.repo), dir);
      expect(res.code, res.stderr).toBe(0);
      const plan = JSON.parse(await readFile(join(dir, "plan.json"), "utf8")) as {
        delete: { repository: string; digest: string }[];
      };
      expect(plan.delete.map((d) => `${d.repository}@${d.digest}`)).toEqual([`${s.repo}@${s.old.digest}`]);
      expect(await registry.headManifest(s.repo, s.old.digest)).toBeDefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// npm installs a git dependency by cloning it, installing its dev dependencies and running `prepare`
// (the build). Slow (a full dev install), so only where asked for: .ci/run sets REGSWEEP_E2E_GIT=1.
const gitSkip =
  process.env.REGSWEEP_E2E_GIT === "1" ? false : "set REGSWEEP_E2E_GIT=1 to test the git install";

describe.skipIf(gitSkip)(
  `from git: npm pack git+file://… then npm install -g the tarball${gitSkip ? ` (${gitSkip})` : ""}`,
  () => {
    it("builds dist/ from a clone with no dist/ (prepare runs tsc) and installs a working regsweep", async () => {
      const work = await tempDir("regsweep-git-");
      try {
        // npm clones the committed tree (no dist/, no node_modules/), installs its dev dependencies and runs prepare.
        const pack = await runAsConsumer(
          "npm",
          ["pack", "--json", ...INSTALL_FLAGS, `git+file://${ROOT}`],
          work,
        );
        expect(pack.code, pack.stderr).toBe(0);
        const [info] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf("["))) as {
          filename: string;
          files: { path: string }[];
        }[];
        expect(info?.files.map((f) => f.path)).toEqual(
          expect.arrayContaining(["dist/index.js", "dist/cli/main.js"]),
        );
        const prefix = join(work, "prefix");
        const install = await runAsConsumer(
          "npm",
          ["install", "-g", "--prefix", prefix, ...INSTALL_FLAGS, join(work, info?.filename ?? "")],
          work,
        );
        expect(install.code, install.stderr).toBe(0);
        const res = await runAsConsumer(join(prefix, "bin", "regsweep"), ["--version"], work);
        expect(res.code, res.stderr).toBe(0);
        expect(res.stdout.trim()).toBe(await packageVersion());
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    }, 900_000);
  },
);

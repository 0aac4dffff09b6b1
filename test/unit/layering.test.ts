import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative, sep } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = join(import.meta.dirname, "../../src");

/**
 * Which folder may import which: each layer only from the layers before it (README, Layout).
 * Files at the top of src (errors, log, version, index) sit outside the chain: the base ones may
 * be imported by any layer, and index.ts (the public API) may import any.
 */
const LAYERS = [
  "oci",
  "registry",
  "inventory",
  "config",
  "usage",
  "pullrequest",
  "policy",
  "plan",
  "apply",
  "report",
  "fixtures",
  "demo",
  "pipeline",
  "cli",
];
const BASE = new Set(["errors", "log", "version", "node-version"]);

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

const unitOf = (path: string) => {
  const [first = "", ...rest] = relative(SRC, path).split(sep);
  return rest.length ? first : first.replace(/\.(ts|js)$/, "");
};

describe("layering", () => {
  it("no layer imports a later one, and no CLI command imports another command", () => {
    const violations: string[] = [];
    for (const file of files(SRC)) {
      const from = unitOf(file);
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/(?:from\s*|import\s*\(?\s*)"(\.[^"]+)"/g)) {
        const target = normalize(join(dirname(file), m[1] as string));
        const to = unitOf(target);
        if (to === from || BASE.has(to) || from === "index") continue;
        const a = LAYERS.indexOf(from);
        const b = LAYERS.indexOf(to);
        if (BASE.has(from) || a < 0 || b < 0 || b > a) {
          violations.push(`${relative(SRC, file)} imports ${relative(SRC, target)}`);
        }
        if (from === "cli" && /-command\.js$/.test(target) && /-command\.ts$/.test(file)) {
          violations.push(`${relative(SRC, file)} imports another command, ${relative(SRC, target)}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });
});

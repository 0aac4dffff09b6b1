import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../integration/helpers.js";

const ROOT = resolve(import.meta.dirname, "../..");

/** Runs an entry point as if on an older Node.js (process.versions.node says so before it loads). */
function asOldNode(entry: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  const script = `Object.defineProperty(process.versions, "node", { value: "20.20.2" }); process.argv.splice(1, 0, ${JSON.stringify(entry)}); await import(${JSON.stringify(entry)});`;
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script, ...args], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", fail);
    child.on("close", (code) => done({ code, stderr }));
  });
}

describe("every entry point checks the Node.js version before loading anything", () => {
  for (const entry of ["bin/regsweep.js", "dist/cli/demo.js"]) {
    it(`${entry} on Node 20: one line saying what to install, exit 1, nothing done`, async () => {
      const dir = join(await tempDir(), "demo");
      const res = await asOldNode(
        join(ROOT, entry),
        entry.includes("demo") ? [dir] : ["scan", "--registry", "oci:/nonexistent"],
      );
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(
        /^regsweep needs Node\.js 22\.19 or newer; this is v20\.20\.2\.\nInstall it/,
      );
      expect(res.stderr).not.toMatch(/at .*node_modules/);
      expect(existsSync(dir)).toBe(false);
    });
  }
});

import { spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../integration/helpers.js";

const DEMO = resolve(import.meta.dirname, "../../dist/cli/demo.js");

describe("npm run demo", () => {
  it("builds its own registry and prints a plan that keeps what runs and deletes the rest", async () => {
    const dir = join(await tempDir(), "demo");
    const { code, out } = await new Promise<{ code: number | null; out: string }>((done) => {
      const child = spawn(process.execPath, [DEMO, dir], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (out += d));
      child.on("close", (c) => done({ code: c, out }));
    });
    expect(code).toBe(0);
    expect(out).toMatch(/Summary: 16 manifests in 3 repositories; delete 1, keep 15 \(3 in use\)/);
    expect(out).toMatch(/index-of-in-use-child/);
    expect(out).toMatch(/Dry run: nothing was deleted/);
  });
});

import { spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { buildImage, pushManifest } from "../../src/fixtures/image-factory.js";
import { connect, tempDir, uniqueRepo } from "./helpers.js";

const BIN = resolve(import.meta.dirname, "../../bin/regsweep.js");

/** Runs the CLI on a pseudo-terminal (util-linux `script`), typing `input` at it. */
function runOnTty(args: string[], input: string): Promise<{ code: number; output: string }> {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  return new Promise((done, reject) => {
    const child = spawn("script", ["-qefc", quoted, "/dev/null"], { stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => {
      output += d;
      if (output.includes("Type DELETE")) child.stdin.end(input);
    });
    child.on("error", reject);
    child.on("close", (code) => done({ code: code ?? -1, output }));
  });
}

describe("interactive confirmation", () => {
  const url = inject("registryUrl");

  it("deletes only after DELETE is typed at the terminal", async () => {
    const { registry } = connect(url);
    const p = uniqueRepo("tty");
    const image = buildImage({ seed: p, created: "2020-01-01" });
    await pushManifest(registry, p, image, ["1"]);
    const dir = await tempDir();
    const args = [
      "purge",
      "--registry",
      url,
      "--filter",
      `${p}:.*`,
      "--apply",
      "--no-usage-sources",
      "--no-cache",
      "--audit-dir",
      join(dir, "a"),
    ];

    const declined = await runOnTty(args, "no\n");
    expect(declined.output).toMatch(/About to delete 1 manifests/);
    expect(declined.code).toBe(1);
    expect(await registry.headManifest(p, image.digest)).toBeDefined();

    const confirmed = await runOnTty(args, "DELETE\n");
    expect(confirmed.code).toBe(0);
    expect(await registry.headManifest(p, image.digest)).toBeUndefined();
  });
});

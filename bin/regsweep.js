#!/usr/bin/env node
import module from "node:module";

// Checked before anything loads: on an older Node the dependencies fail with unreadable traces.
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(
    `regsweep needs Node.js 22.19 or newer; this is v${process.versions.node}.\n` +
      "Install it (e.g. `npm install --prefix ~/.node22 node@22` and put ~/.node22/node_modules/.bin first on PATH).\n",
  );
  process.exit(1);
}
// Reuses compiled bytecode between runs: scripts call regsweep often, and startup is most of a small run.
module.enableCompileCache?.();
const { main } = await import("../dist/cli/main.js");
process.exitCode = await main(process.argv);

#!/usr/bin/env node
import module from "node:module";

// Reuses compiled bytecode between runs: scripts call regsweep often, and startup is most of a small run.
module.enableCompileCache?.();
const { main } = await import("../dist/cli/main.js");
process.exitCode = await main(process.argv);

// npm runs `prepare` after `npm ci` in a clone, before `npm pack`, and in the temporary clone of a
// git install (`npm install git+…`) after installing the clone's dev dependencies: dist/ is built
// here, never committed. One npm bug is worked around: a *global* git install
// (`npm install -g git+…`) hands its `global` setting to that nested install (npm/cli#8440), which
// then installs nothing into the clone, so `tsc` is missing. The dev dependencies are then
// installed into the clone here, from the lockfile, before building.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");

function run(command, args) {
  const res = spawnSync(command, args, { cwd: root, stdio: "inherit" });
  if (res.error) throw res.error;
  if (res.status !== 0) process.exit(res.status ?? 1);
}

if (!existsSync(tsc)) {
  process.stderr.write("regsweep prepare: typescript is not installed here; installing the dev dependencies\n");
  // npm sets npm_execpath for scripts: the npm that runs us, not whichever is first on PATH.
  const npm = process.env.npm_execpath;
  const args = ["install", "--global=false", `--prefix=${root}`, "--include=dev", "--ignore-scripts", "--no-save", "--no-audit", "--no-fund"];
  if (npm) run(process.execPath, [npm, ...args]);
  else run("npm", args);
}
run(process.execPath, [tsc, "-p", "tsconfig.build.json"]);

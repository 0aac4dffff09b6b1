// Assembles the container image's runtime tree (the Dockerfile's build stage runs it), with node
// alone: the locally made build base has no shell, no cp, no find.
//   node scripts/image-root.mjs APP_DIR ROOTFS
// APP_DIR holds package.json, LICENSE, bin/, dist/ and production node_modules/ (after `npm prune --omit=dev`).
// ROOTFS gets app/ (what the npm package ships, plus node_modules/ without what never runs),
// usr/local/bin/regsweep (a link to app/bin/regsweep.js) and an empty work/.
import { cpSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";

const [appDir, rootfs] = process.argv.slice(2);
if (!appDir || !rootfs) {
  process.stderr.write("usage: node scripts/image-root.mjs APP_DIR ROOTFS\n");
  process.exit(2);
}

// The demo and its image builders run from a clone only (`npm run demo`); the npm package leaves them out too.
const NOT_SHIPPED = /^dist\/(demo|fixtures)(\/|$)|^dist\/cli\/demo(-run)?\.(js|d\.ts)$/;
// Never loaded at run time: documentation, declarations, TypeScript sources, source maps, tests.
const DEAD_FILE = /\.([cm]?ts|map|tsbuildinfo|md|markdown)$/i;
const DEAD_DIR = new Set(["__tests__", "test", "tests", ".github", "dist-types", "example", "examples"]);
// Licence and notice files stay with the code they cover, whatever their extension.
const KEEP_FILE = /^(licen[cs]e|notice|copying)/i;

const app = join(rootfs, "app");
mkdirSync(app, { recursive: true });
for (const file of ["package.json", "LICENSE"]) cpSync(join(appDir, file), join(app, file));
for (const dir of ["bin", "dist"]) {
  cpSync(join(appDir, dir), join(app, dir), {
    recursive: true,
    filter: (src) => !NOT_SHIPPED.test(src.slice(appDir.length + 1)),
  });
}
renameSync(join(appDir, "node_modules"), join(app, "node_modules"));

let removed = 0;
function prune(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (DEAD_DIR.has(entry.name)) {
        rmSync(path, { recursive: true, force: true });
        removed++;
      } else prune(path);
    } else if (entry.isFile() && DEAD_FILE.test(entry.name) && !KEEP_FILE.test(entry.name)) {
      rmSync(path);
      removed++;
    }
  }
}
prune(join(app, "node_modules"));

const bin = join(rootfs, "usr", "local", "bin");
mkdirSync(bin, { recursive: true });
// A link, not a copy: node resolves it, so bin/regsweep.js finds ../dist from /app.
symlinkSync("/app/bin/regsweep.js", join(bin, "regsweep"));
mkdirSync(join(rootfs, "work"), { recursive: true });
process.stdout.write(`image root in ${rootfs}: ${removed} unused files and folders left out of node_modules\n`);

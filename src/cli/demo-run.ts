import { mkdir, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { seedDemo } from "../demo/seed-demo.js";
import { main } from "./main.js";

/**
 * `npm run demo`: builds a registry as an OCI layout tree under ./demo-registry (no server
 * needed), writes the in-use list a deploy pipeline would produce, and runs a dry-run purge.
 */
const root = resolve(process.argv[2] ?? "demo-registry");
const host = "registry.example.com";
await rm(root, { recursive: true, force: true });
await mkdir(root, { recursive: true });
const registryDir = join(root, "registry");
const { inUse } = await seedDemo(registryDir, new Date(), host);
const inUseFile = join(root, "in-use.txt");
await writeFile(inUseFile, inUse);

const argv = [
  "purge",
  "--registry",
  `oci:${registryDir}`,
  "--registry-alias",
  host,
  "--filter",
  "shop/.*:.*",
  "--ago",
  "30d",
  "--keep",
  "1",
  "--untagged",
  "--in-use-file",
  inUseFile,
  "--no-cache",
  "--audit-dir",
  join(root, "audits"),
  "-o",
  join(root, "plan.json"),
];
process.stderr.write(`$ regsweep ${argv.map((a) => (/[\s*:]/.test(a) ? `'${a}'` : a)).join(" ")}\n\n`);
process.exitCode = await main(["node", "regsweep", ...argv]);
process.stderr.write(`\nThe registry, the in-use list, the plan and the audit record are in ${root}.\n`);

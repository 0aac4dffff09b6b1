/**
 * One request floor in a process of its own, as regsweep's scans run: a fresh Node, JIT-cold,
 * sharing no event loop with the bench. Its figures are taken from its first request to its last
 * (module loading through tsx is left out, which favours the floor), and printed as one JSON line.
 *
 *   npx tsx bench/floor-child.ts --url URL --mode cold|warm|head --concurrency N
 *                                [--referrers] [--known-out FILE] [--known FILE]
 *
 * `--known-out` (cold) writes the digests each repository's walk reached; `--known` (warm, head)
 * reads them, so the warm floors ask for their referrers again as the scan does.
 */
import { readFile, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { coldFloor, type FloorResult, type KnownDigests, warmFloor } from "./floor.js";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    mode: { type: "string", default: "cold" },
    concurrency: { type: "string", default: "8" },
    referrers: { type: "boolean", default: false },
    "known-out": { type: "string" },
    known: { type: "string" },
  },
  strict: true,
});
if (!values.url) throw new Error("--url is required");
const concurrency = Number(values.concurrency);
let result: FloorResult;
if (values.mode === "cold") {
  const { known, ...figures } = await coldFloor(values.url, concurrency, { referrers: values.referrers });
  if (values["known-out"]) await writeFile(values["known-out"], JSON.stringify([...known]));
  result = figures;
} else {
  const known: KnownDigests | undefined = values.known
    ? new Map(JSON.parse(await readFile(values.known, "utf8")) as [string, string[]][])
    : undefined;
  result = await warmFloor(values.url, concurrency, values.mode === "head" ? "HEAD" : "GET", known);
}
process.stdout.write(`${JSON.stringify(result)}\n`);

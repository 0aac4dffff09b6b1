/**
 * Scan benchmark (issue 2, point 9; issue 13): times `regsweep scan` cold and warm against the
 * request floor (a bare loop of the same requests at the same concurrency), measured in the same
 * run against the same registry, and prints ratios, requests per manifest, CPU and peak memory.
 * Two registries: Debian's docker-registry (distribution 2.8, seeded by pushes; slow enough to hide
 * much of the client's cost) and a synthetic one (bench/synthetic-registry.ts, its own process,
 * content generated on the fly; fast, like a tuned ACR, ECR or Harbor). Targets are printed beside
 * the figures but never fail the run.
 *
 *   npx tsx bench/scan.ts [--registry synthetic|distribution|both] [--repos 50] [--per-repo 40]
 *                         [--synthetic-repos 4000] [--synthetic-per-repo 20] [--concurrency 8]
 *                         [--runs 1] [--skip-skopeo] [--skopeo-sample N] [--cpu-prof DIR]
 */
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startRegistry } from "../test/harness/registry-process.js";
import { type ChildResult, ChildRunner } from "./child.js";
import { coldFloor, type FloorResult } from "./floor.js";
import { seedRegistry } from "./seed.js";
import { SKOPEO_COMMANDS, type SkopeoResult, skopeoVersion, skopeoWalk } from "./skopeo.js";
import { spawnSyntheticRegistry } from "./synthetic-registry.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PUSH_CONCURRENCY = 16;
/** Both registries name repositories team0/ … team4/ in turn (bench/seed.ts, bench/synthetic-registry.ts). */
const FIFTH_FILTER = "team0/.*";
const TARGET = { coldRatio: 1.25, warmRatio: 1.2, skopeoSpeedup: 10, bytesPerManifest: 4096 };

const USAGE = `usage: npx tsx bench/scan.ts [options]
  --registry WHICH         synthetic, distribution or both (default both)
  --repos N                distribution: repositories to seed (default 50)
  --per-repo N             distribution: tagged images per repository (default 40)
  --synthetic-repos N      synthetic: repositories (default 4000: 100,000 manifests)
  --synthetic-per-repo N   synthetic: tags per repository (default 20: 25 manifests with indexes and referrers)
  --no-referrers-api       synthetic: answer 404 to the referrers API (the scan falls back to tags)
  --concurrency N          requests in flight, for regsweep and the floor alike (default 8)
  --runs N                 repeat the scan and floor measurements N times and report the median (default 1)
  --skip-skopeo            do not run the skopeo walk (distribution only)
  --skopeo-sample N        inspect only N images with skopeo and extrapolate (default: all)
  --cpu-prof DIR           write a V8 CPU profile of each regsweep scan child into DIR`;

type Which = "synthetic" | "distribution" | "both";

interface Options {
  registry: Which;
  repos: number;
  perRepo: number;
  syntheticRepos: number;
  syntheticPerRepo: number;
  referrersApi: boolean;
  concurrency: number;
  runs: number;
  skipSkopeo: boolean;
  skopeoSample: number | undefined;
  cpuProf: string | undefined;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      registry: { type: "string", default: "both" },
      repos: { type: "string", default: "50" },
      "per-repo": { type: "string", default: "40" },
      "synthetic-repos": { type: "string", default: "4000" },
      "synthetic-per-repo": { type: "string", default: "20" },
      "no-referrers-api": { type: "boolean", default: false },
      concurrency: { type: "string", default: "8" },
      runs: { type: "string", default: "1" },
      "skip-skopeo": { type: "boolean", default: false },
      "skopeo-sample": { type: "string" },
      "cpu-prof": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) return undefined;
  const whole = (name: string, value: string, min: number): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) {
      throw new Error(`--${name} takes a whole number ≥ ${min}, not ${JSON.stringify(value)}`);
    }
    return n;
  };
  if (!["synthetic", "distribution", "both"].includes(values.registry)) {
    throw new Error(
      `--registry takes synthetic, distribution or both, not ${JSON.stringify(values.registry)}`,
    );
  }
  const sample = values["skopeo-sample"];
  return {
    registry: values.registry as Which,
    repos: whole("repos", values.repos, 1),
    perRepo: whole("per-repo", values["per-repo"], 1),
    syntheticRepos: whole("synthetic-repos", values["synthetic-repos"], 1),
    syntheticPerRepo: whole("synthetic-per-repo", values["synthetic-per-repo"], 1),
    referrersApi: !values["no-referrers-api"],
    concurrency: whole("concurrency", values.concurrency, 1),
    runs: whole("runs", values.runs, 1),
    skipSkopeo: values["skip-skopeo"],
    skopeoSample: sample === undefined ? undefined : whole("skopeo-sample", sample, 1),
    cpuProf: values["cpu-prof"] === undefined ? undefined : resolve(values["cpu-prof"]),
  };
}

interface ScanRun extends ChildResult {
  readonly requests: number | undefined;
  readonly manifests: number;
}

async function regsweepScan(
  runner: ChildRunner,
  url: string,
  cacheDir: string,
  concurrency: number,
  cpuProf: string | undefined,
  extra: readonly string[] = [],
): Promise<ScanRun> {
  const args = ["scan", "--registry", url, "--insecure", "--format", "json", ...extra];
  args.push("--cache-dir", cacheDir, "--concurrency", String(concurrency));
  const prof = cpuProf ? ["--cpu-prof", "--cpu-prof-dir", cpuProf] : [];
  const result = await runner.run([...prof, "bin/regsweep.js", ...args], ROOT);
  const json = JSON.parse(result.stdout) as { requests?: number; repositories: { manifests: number }[] };
  return {
    ...result,
    requests: json.requests,
    manifests: json.repositories.reduce((n, r) => n + r.manifests, 0),
  };
}

async function floorInChild(
  runner: ChildRunner,
  target: Target,
  concurrency: number,
  mode: "cold" | "warm" | "head",
  extra: readonly string[],
): Promise<FloorResult> {
  const args = ["--url", target.url, "--mode", mode, "--concurrency", String(concurrency), ...extra];
  if (target.referrers) args.push("--referrers");
  const result = await runner.run(["--import", "tsx", "bench/floor-child.ts", ...args], ROOT);
  return JSON.parse(result.stdout) as FloorResult;
}

/** The run with the median time (the slower middle one for an even count), so its other figures match. */
function median<T extends { ms: number }>(runs: readonly T[]): T {
  const sorted = [...runs].sort((a, b) => a.ms - b.ms);
  return sorted[Math.floor(sorted.length / 2)] as T;
}

const log = (line = "") => process.stdout.write(`${line}\n`);
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const int = (n: number) => Math.round(n).toLocaleString("en-US");
const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
const bytes = (b: number | undefined) => (b === undefined ? "-" : `${int(b)} B`);
const ratio = (r: number) => `${r.toFixed(2)}×`;
const loads = (l: number[]) => l.map((x) => x.toFixed(2)).join(" ");

/** A registry to measure against, seeded or generated, and what it holds. */
interface Target {
  readonly name: "synthetic" | "distribution";
  readonly url: string;
  readonly host: string;
  readonly describe: string;
  readonly shape: string;
  readonly manifests: number;
  readonly referrers: boolean;
  readonly repositories: readonly string[];
  stop(): Promise<void>;
}

interface Figures {
  opts: Options;
  target: Target;
  node: ChildResult;
  loaded: ChildResult;
  cold: ScanRun;
  warm: ScanRun;
  /** A cold scan of one fifth of the repositories: with `cold`, the memory each further manifest costs. */
  fifth: ScanRun;
  floorCold: FloorResult;
  floorWarm: FloorResult;
  floorWarmHead: FloorResult;
  /** The cold floor once more, inside this JIT-warm process: what the fresh processes pay for starting. */
  floorColdInProcess: FloorResult;
  skopeo: SkopeoResult | undefined;
  skopeoVer: string | undefined;
  rssMethod: string;
  loadBefore: number[];
  loadAfter: number[];
}

async function distributionTarget(opts: Options): Promise<Target> {
  const registry = await startRegistry();
  try {
    const version = execFileSync("docker-registry", ["--version"], { encoding: "utf8" }).trim();
    log(`distribution: ${version} at ${registry.url}`);
    log(
      `seeding ${int(opts.repos)} repositories × ${int(opts.perRepo)} tags (${PUSH_CONCURRENCY} pushes at a time) …`,
    );
    const seed = await seedRegistry(registry.url, {
      repos: opts.repos,
      perRepo: opts.perRepo,
      pushConcurrency: PUSH_CONCURRENCY,
    });
    const where = `${seed.multiArchRepos} ${seed.multiArchRepos === 1 ? "repository" : "repositories"}`;
    const shape =
      `${int(seed.tags)} tags, ${int(seed.manifests)} manifests ` +
      `(${seed.indexes} multi-arch indexes of 2 images each, in ${where}; no referrers API)`;
    log(
      `seeded in ${secs(seed.ms)} (${int(seed.requests)} requests${seed.retries ? `, ${seed.retries} retried` : ""}): ${shape}`,
    );
    return {
      name: "distribution",
      url: registry.url,
      host: registry.host,
      describe: version,
      shape: `${int(opts.repos)} repositories: ${shape}`,
      manifests: seed.manifests,
      referrers: false,
      repositories: seed.repositories,
      stop: () => registry.stop(),
    };
  } catch (error) {
    await registry.stop();
    throw error;
  }
}

async function syntheticTarget(opts: Options): Promise<Target> {
  const running = await spawnSyntheticRegistry({
    repos: opts.syntheticRepos,
    perRepo: opts.syntheticPerRepo,
    referrersApi: opts.referrersApi,
  });
  const s = running.shape;
  const shape =
    `${int(s.repositories)} repositories: ${int(s.tags)} tags, ${int(s.manifests)} manifests ` +
    `(${int(s.indexes)} indexes of 2 images, ${int(s.referrers)} referrers; ` +
    `referrers API ${opts.referrersApi ? "on" : "off"})`;
  log(`synthetic registry (bench/synthetic-registry.ts, own process) at ${running.url}: ${shape}`);
  return {
    name: "synthetic",
    url: running.url,
    host: new URL(running.url).host,
    describe: "synthetic distribution registry (node:http, keep-alive, content generated on the fly)",
    shape,
    manifests: s.manifests,
    referrers: opts.referrersApi,
    repositories: [],
    stop: () => running.stop(),
  };
}

async function measure(
  opts: Options,
  target: Target,
  runner: ChildRunner,
  node: ChildResult,
  loaded: ChildResult,
  cacheDirs: string[],
): Promise<Figures> {
  const c = opts.concurrency;
  // One untimed pass so that the first measurement does not meet a colder registry than the rest
  // (for the synthetic one: its content is generated on this first read).
  await coldFloor(target.url, c, { referrers: target.referrers });
  const loadBefore = loadavg();
  const runs: {
    cold: ScanRun;
    warm: ScanRun;
    floorCold: FloorResult;
    floorWarm: FloorResult;
    head: FloorResult;
  }[] = [];
  for (let i = 1; i <= opts.runs; i++) {
    const of = `${target.name}${opts.runs > 1 ? `, run ${i} of ${opts.runs}` : ""}`;
    const cacheDir = await mkdtemp(join(tmpdir(), "regsweep-bench-cache-"));
    cacheDirs.push(cacheDir);
    log(`regsweep scan, cold (${of}) …`);
    const cold = await regsweepScan(runner, target.url, cacheDir, c, opts.cpuProf);
    log(`regsweep scan, warm (${of}) …`);
    const warm = await regsweepScan(runner, target.url, cacheDir, c, opts.cpuProf);
    // Each floor in a fresh process, as each scan is (see bench/floor-child.ts).
    const known = join(cacheDir, "floor-known.json");
    log(`request floor, cold (${of}) …`);
    const floorCold = await floorInChild(runner, target, c, "cold", ["--known-out", known]);
    log(`request floor, warm (${of}) …`);
    const withKnown = target.referrers ? ["--known", known] : [];
    const floorWarm = await floorInChild(runner, target, c, "warm", withKnown);
    const head = await floorInChild(runner, target, c, "head", withKnown);
    runs.push({ cold, warm, floorCold, floorWarm, head });
  }
  // Start-up (modules, the young generation, V8's heap headroom) is a large part of a small scan's
  // peak RSS: the slope between a fifth of the repositories and all of them is what a manifest adds.
  log(`regsweep scan, cold, repositories ${FIFTH_FILTER} only (${target.name}) …`);
  const fifthCache = await mkdtemp(join(tmpdir(), "regsweep-bench-cache-"));
  cacheDirs.push(fifthCache);
  const fifth = await regsweepScan(runner, target.url, fifthCache, c, undefined, ["--filter", FIFTH_FILTER]);
  log(`request floor, cold, in this process (${target.name}) …`);
  const floorColdInProcess = await coldFloor(target.url, c, { referrers: target.referrers });

  let skopeo: SkopeoResult | undefined;
  let skopeoVer: string | undefined;
  if (target.name === "distribution" && !opts.skipSkopeo) {
    skopeoVer = await skopeoVersion();
    if (!skopeoVer) {
      log("skopeo not found: skipping the skopeo walk");
    } else {
      const sampleNote = opts.skopeoSample ? ` (inspecting a sample of ${opts.skopeoSample} images)` : "";
      log(`skopeo walk, sequential${sampleNote} …`);
      skopeo = await skopeoWalk(target.host, target.repositories, opts.skopeoSample);
    }
  }
  return {
    opts,
    target,
    node,
    loaded,
    cold: median(runs.map((r) => r.cold)),
    fifth,
    warm: median(runs.map((r) => r.warm)),
    floorCold: median(runs.map((r) => r.floorCold)),
    floorWarm: median(runs.map((r) => r.floorWarm)),
    floorWarmHead: median(runs.map((r) => r.head)),
    floorColdInProcess,
    skopeo,
    skopeoVer,
    rssMethod: runner.describe(),
    loadBefore,
    loadAfter: loadavg(),
  };
}

async function main(): Promise<number> {
  let opts: Options | undefined;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (!opts) {
    log(USAGE);
    return 0;
  }
  if (opts.cpuProf) await mkdir(opts.cpuProf, { recursive: true });

  log("building regsweep (npm run build) …");
  execFileSync("npm", ["run", "build", "--silent"], { cwd: ROOT, stdio: "inherit" });

  const runner = await ChildRunner.create();
  let target: Target | undefined;
  const cacheDirs: string[] = [];
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: stopping the registry\n`);
    void (target?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const all: Figures[] = [];
  try {
    // Baselines: a bare Node process, and regsweep loading all its modules and doing nothing.
    const node = await runner.run(["-e", ""]);
    const loaded = await runner.run(["bin/regsweep.js", "--version"], ROOT);
    const which: ("synthetic" | "distribution")[] =
      opts.registry === "both" ? ["synthetic", "distribution"] : [opts.registry];
    for (const name of which) {
      target = name === "synthetic" ? await syntheticTarget(opts) : await distributionTarget(opts);
      try {
        const figures = await measure(opts, target, runner, node, loaded, cacheDirs);
        all.push(figures);
        report(figures);
      } finally {
        await target.stop();
        target = undefined;
      }
    }
    if (all.length > 1) summary(all);
    return 0;
  } finally {
    await target?.stop();
    for (const dir of cacheDirs) await rm(dir, { recursive: true, force: true });
    await runner.close();
  }
}

/** Peak RSS a cold scan adds per manifest beyond the fifth's: undefined when the fifth is not smaller. */
function marginalBytes(f: Figures): number | undefined {
  const more = f.cold.manifests - f.fifth.manifests;
  return more > 0 ? ((f.cold.maxRssKiB - f.fifth.maxRssKiB) * 1024) / more : undefined;
}

/** One line per registry: the ratios the issue sets targets for. */
function summary(all: readonly Figures[]): void {
  log();
  log("summary (one run, same machine):");
  const rows: string[][] = [
    [
      "registry",
      "manifests",
      "cold / floor",
      "warm / GET floor",
      "warm / HEAD floor",
      "RSS/manifest",
      "per further manifest",
      "load avg",
    ],
  ];
  for (const f of all) {
    rows.push([
      f.target.name,
      int(f.target.manifests),
      ratio(f.cold.ms / f.floorCold.ms),
      ratio(f.warm.ms / f.floorWarm.ms),
      ratio(f.warm.ms / f.floorWarmHead.ms),
      `${int(((f.cold.maxRssKiB - f.node.maxRssKiB) * 1024) / f.target.manifests)} B`,
      bytes(marginalBytes(f)),
      loads(f.loadBefore),
    ]);
  }
  printTable(rows, [false, true, true, true, true, true, true, false]);
}

function report(f: Figures): void {
  const { target, node, cold, warm, floorCold, floorWarm, skopeo } = f;
  const manifests = target.manifests;
  const perManifest = (requests: number | undefined) =>
    requests === undefined ? "-" : (requests / manifests).toFixed(2);
  const aboveNode = (r: ChildResult) => r.maxRssKiB - node.maxRssKiB;
  /** Per manifest of that scan's own count (a fifth's row divides by the fifth's manifests). */
  const bytesPerManifest = (r: ScanRun) => (aboveNode(r) * 1024) / r.manifests;

  log();
  log(
    `regsweep scan benchmark, ${target.name} registry: ${target.shape}; concurrency ${f.opts.concurrency}` +
      (f.opts.runs > 1 ? `; median of ${f.opts.runs} runs` : ""),
  );
  log(`${target.describe}, node ${process.version}${f.skopeoVer ? `, ${f.skopeoVer}` : ""}`);
  log(
    `host: ${cpus().length} CPUs; load average ${loads(f.loadBefore)} before the first measurement, ` +
      `${loads(f.loadAfter)} after the last`,
  );
  for (const [what, n] of [
    ["regsweep (cold)", cold.manifests],
    ["regsweep (warm)", warm.manifests],
    ["the cold floor", floorCold.manifests],
  ] as const) {
    if (n !== manifests) log(`WARNING: ${what} counted ${n} manifests, the registry holds ${manifests}`);
  }
  log();

  const scanRow = (label: string, r: ScanRun) => [
    label,
    secs(r.ms),
    secs(r.cpuMs),
    r.requests === undefined ? "-" : int(r.requests),
    r.requests === undefined ? "-" : (r.requests / r.manifests).toFixed(2),
    mib(r.maxRssKiB),
    mib(aboveNode(r)),
    bytes(bytesPerManifest(r)),
  ];
  const floorRow = (label: string, r: FloorResult) => [
    label,
    secs(r.ms),
    secs(r.cpuMs),
    int(r.requests),
    perManifest(r.requests),
  ];
  const rows: string[][] = [
    ["measurement", "time", "CPU", "requests", "req/manifest", "peak RSS", "above node", "per manifest"],
    scanRow("regsweep scan, cold", cold),
    scanRow("regsweep scan, warm (cache)", warm),
    scanRow(`regsweep scan, cold, ${FIFTH_FILTER} only (${int(f.fifth.manifests)} manifests)`, f.fifth),
    floorRow("floor, cold", floorCold),
    floorRow("floor, warm", floorWarm),
    floorRow("  same with HEADs (unsound: digest not checked)", f.floorWarmHead),
    floorRow("floor, cold, in the JIT-warm bench process", f.floorColdInProcess),
  ];
  if (skopeo) {
    rows.push([skopeo.sampled ? "skopeo walk (extrapolated)" : "skopeo walk, sequential", secs(skopeo.ms)]);
    rows.push(["  without inspect --config", secs(skopeo.ms - skopeo.configMs)]);
  }
  rows.push(["node -e '' (baseline)", secs(node.ms), secs(node.cpuMs), "", "", mib(node.maxRssKiB)]);
  rows.push([
    "regsweep --version (startup)",
    secs(f.loaded.ms),
    secs(f.loaded.cpuMs),
    "",
    "",
    mib(f.loaded.maxRssKiB),
    mib(aboveNode(f.loaded)),
  ]);
  printTable(rows, [false, true, true, true, true, true, true, true]);

  log();
  const coldRatio = cold.ms / floorCold.ms;
  const warmRatio = warm.ms / floorWarm.ms;
  const verdict = (ok: boolean) => (ok ? "met" : "MISSED");
  const targetRows: string[][] = [
    ["", "measured", "target", ""],
    [
      "cold scan / cold floor",
      ratio(coldRatio),
      `≤ ${ratio(TARGET.coldRatio)}`,
      verdict(coldRatio <= TARGET.coldRatio),
    ],
    [
      "warm scan / warm floor (GET per tag)",
      ratio(warmRatio),
      `≤ ${ratio(TARGET.warmRatio)}`,
      verdict(warmRatio <= TARGET.warmRatio),
    ],
    [
      "warm scan / HEAD floor",
      ratio(warm.ms / f.floorWarmHead.ms),
      `≤ ${ratio(TARGET.warmRatio)}`,
      verdict(warm.ms / f.floorWarmHead.ms <= TARGET.warmRatio),
    ],
  ];
  if (skopeo) {
    const speedup = skopeo.ms / cold.ms;
    targetRows.push([
      `skopeo walk / cold scan${skopeo.sampled ? " (extrapolated)" : ""}`,
      ratio(speedup),
      `≥ ${ratio(TARGET.skopeoSpeedup)}`,
      verdict(speedup >= TARGET.skopeoSpeedup),
    ]);
    const bare = (skopeo.ms - skopeo.configMs) / cold.ms;
    targetRows.push([
      "  same, walk without inspect --config",
      ratio(bare),
      `≥ ${ratio(TARGET.skopeoSpeedup)}`,
      verdict(bare >= TARGET.skopeoSpeedup),
    ]);
  } else if (target.name === "distribution") {
    targetRows.push(["skopeo walk / cold scan", "skipped", `≥ ${ratio(TARGET.skopeoSpeedup)}`, ""]);
  }
  for (const [label, r] of [
    ["peak RSS above node per manifest, cold", cold],
    ["peak RSS above node per manifest, warm", warm],
  ] as const) {
    const b = bytesPerManifest(r);
    targetRows.push([
      label,
      bytes(b),
      `≤ ${int(TARGET.bytesPerManifest)} B`,
      verdict(b <= TARGET.bytesPerManifest),
    ]);
  }
  const slope = marginalBytes(f);
  targetRows.push([
    `  same, per further manifest (${FIFTH_FILTER} → all)`,
    bytes(slope),
    `≤ ${int(TARGET.bytesPerManifest)} B`,
    slope === undefined ? "" : verdict(slope <= TARGET.bytesPerManifest),
  ]);
  targetRows.push([
    "requests per manifest, cold (floor)",
    `${perManifest(cold.requests)} (${perManifest(floorCold.requests)})`,
  ]);
  targetRows.push([
    "requests per manifest, warm (floor)",
    `${perManifest(warm.requests)} (${perManifest(floorWarm.requests)})`,
  ]);
  printTable(targetRows, [false, true, false, false]);

  log();
  log("notes:");
  log(
    "- regsweep runs as a child process (node bin/regsweep.js scan --format json --cache-dir <fresh dir>), so its",
  );
  log(
    '  time includes Node startup and module loading (see "regsweep --version"). Each floor runs in a fresh',
  );
  log(
    "  process too (bench/floor-child.ts: undici request() + p-queue at the same concurrency and connection",
  );
  log(
    "  count, no checks, no cache), timed from its first request to its last: its start-up is not counted.",
  );
  log("  The last floor line is the cold floor run inside this process, JIT-warm: not what a scan can meet.");
  log(
    `- cold floor: catalog, tag lists, a GET per manifest (index children${target.referrers ? " and referrers" : ""} too) and per image config${target.referrers ? ",\n  and one referrers request per manifest (the registry has the API; the scan asks the same)" : ""}.`,
  );
  log(
    "  warm floor: catalog, tag lists, one manifest GET per tag (hashed by regsweep: a HEAD's digest never",
  );
  log("  decides a deletion); the line below it is the same walk with HEADs, what trusting them would save.");
  if (target.referrers) {
    log(
      "  Both warm floors ask for every known manifest's referrers again, as the scan does (new ones can appear).",
    );
  }
  log("- CPU is user + system time of the client only, not the registry's. Peak RSS and CPU of child");
  log(`  processes come from ${f.rssMethod}.`);
  log(
    `  "above node" subtracts the \`node -e ''\` figure; "per manifest" divides that by ${int(manifests)} manifests.`,
  );
  if (skopeo) {
    log(
      `- skopeo: one process after another, ${int(skopeo.invocations)} invocations in ${secs(skopeo.measuredMs)}:`,
    );
    for (const cmd of SKOPEO_COMMANDS) log(`    ${cmd}`);
    log("  an index tag is inspected as the index plus the config of the platform matching this host.");
    log(
      '  The issue\'s walk is list-tags + inspect --raw only; the line "without inspect --config" is that walk.',
    );
    if (skopeo.sampled) {
      log(
        `  SAMPLED: list-tags ran for all ${skopeo.repositories} repositories, inspect for ${skopeo.inspected} of ` +
          `${skopeo.tags} tags; the inspect time is scaled by ${(skopeo.tags / skopeo.inspected).toFixed(2)}.`,
      );
    }
  }
  log(
    `- "per further manifest": peak RSS of the cold scan less that of a cold scan of ${FIFTH_FILTER} alone, divided by`,
  );
  log(
    "  the manifests between them: start-up, the young generation and V8's heap headroom are paid once, not per manifest.",
  );
  log("- targets are benchmark goals, not pass/fail: this run exits 0 whatever the figures.");
}

function printTable(rows: string[][], rightAlign: boolean[]): void {
  const columns = Math.max(...rows.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  for (const row of rows) {
    const cells = widths.map((w, i) => {
      const cell = row[i] ?? "";
      return rightAlign[i] ? cell.padStart(w) : cell.padEnd(w);
    });
    log(cells.join("  ").trimEnd());
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);

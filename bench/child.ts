import { spawn } from "node:child_process";
import { access, constants, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Runs a Node child process and measures its wall time and peak resident memory.
 *
 * Peak memory and CPU time come from GNU time (`/usr/bin/time -f "%M %U %S" -o FILE`, the kernel's
 * rusage) when it is installed, else from a preload (`node --import data:…`) that writes
 * `process.resourceUsage()` figures to a file when the process exits. Peak memory is in KiB.
 */
export interface ChildResult {
  readonly ms: number;
  readonly maxRssKiB: number;
  /** User + system CPU time of the child. */
  readonly cpuMs: number;
  readonly stdout: string;
  readonly stderr: string;
}

export type RssMethod = "gnu-time" | "preload";

const GNU_TIME = "/usr/bin/time";
const RSS_FILE_ENV = "REGSWEEP_BENCH_MAXRSS_FILE";
const PRELOAD = `data:text/javascript,${encodeURIComponent(
  `import { writeFileSync } from "node:fs";
process.on("exit", () => {
  const u = process.resourceUsage();
  writeFileSync(process.env.${RSS_FILE_ENV}, [u.maxRSS, u.userCPUTime / 1e6, u.systemCPUTime / 1e6].join(" "));
});`,
)}`;

export class ChildRunner {
  private constructor(
    readonly method: RssMethod,
    private readonly dir: string,
  ) {}

  /** Picks GNU time when it works here, else the preload. */
  static async create(): Promise<ChildRunner> {
    const dir = await mkdtemp(join(tmpdir(), "regsweep-bench-rss-"));
    const gnu = new ChildRunner("gnu-time", dir);
    try {
      await access(GNU_TIME, constants.X_OK);
      const probe = await gnu.run(["-e", ""]);
      if (probe.maxRssKiB > 0) return gnu;
    } catch {
      // fall through to the preload
    }
    return new ChildRunner("preload", dir);
  }

  describe(): string {
    return this.method === "gnu-time"
      ? "/usr/bin/time -f '%M %U %S' (the kernel's rusage)"
      : "a --import preload writing process.resourceUsage() at exit";
  }

  /** Runs `node ...nodeArgs`; rejects on a non-zero exit. */
  async run(
    nodeArgs: readonly string[],
    cwd?: string,
    env: NodeJS.ProcessEnv = process.env,
  ): Promise<ChildResult> {
    const rssFile = join(this.dir, `rss-${process.hrtime.bigint()}`);
    const [cmd, args, childEnv] =
      this.method === "gnu-time"
        ? [GNU_TIME, ["-f", "%M %U %S", "-o", rssFile, process.execPath, ...nodeArgs], env]
        : [process.execPath, ["--import", PRELOAD, ...nodeArgs], { ...env, [RSS_FILE_ENV]: rssFile }];
    const started = performance.now();
    const { code, stdout, stderr } = await new Promise<{
      code: number | null;
      stdout: string;
      stderr: string;
    }>((resolve, reject) => {
      const child = spawn(cmd, args, { cwd, env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stdout.setEncoding("utf8").on("data", (c: string) => {
        out += c;
      });
      child.stderr.setEncoding("utf8").on("data", (c: string) => {
        err += c;
      });
      child.once("error", reject);
      child.once("close", (c) => resolve({ code: c, stdout: out, stderr: err }));
    });
    const ms = performance.now() - started;
    if (code !== 0) {
      throw new Error(`node ${nodeArgs.join(" ")} exited with ${code}:\n${stderr.slice(-4000)}`);
    }
    const text = await readFile(rssFile, "utf8");
    await rm(rssFile, { force: true });
    // GNU time may prefix lines such as "Command exited with non-zero status"; the figures are last.
    const figures = (text.trim().split("\n").at(-1) ?? "").split(" ").map(Number);
    const [maxRssKiB, user, system] = figures;
    if (maxRssKiB === undefined || user === undefined || system === undefined || figures.some(Number.isNaN)) {
      throw new Error(`could not read peak memory and CPU time from ${JSON.stringify(text)}`);
    }
    return { ms, maxRssKiB, cpuMs: (user + system) * 1000, stdout, stderr };
  }

  async close(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

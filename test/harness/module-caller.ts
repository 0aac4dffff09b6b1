import { spawn } from "node:child_process";

export interface CallerOutcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
  /** True when it had to be killed: something it opened kept it alive past `limitMs`. */
  readonly killed: boolean;
}

/**
 * Runs an ES module script (a library caller) in its own Node process, which must end by itself
 * — nothing left open — within `limitMs`; otherwise it is killed and `killed` says so.
 */
export function runCaller(script: string, args: readonly string[], limitMs: number): Promise<CallerOutcome> {
  return new Promise((done, fail) => {
    const started = Date.now();
    const child = spawn(process.execPath, ["--input-type=module", "-e", script, "--", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill("SIGKILL");
    }, limitMs);
    child.on("error", fail);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr, ms: Date.now() - started, killed });
    });
  });
}

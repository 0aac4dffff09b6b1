import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { get as httpGet } from "node:http";
import { get as httpsGet } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { finished } from "node:stream/promises";
import { promisify } from "node:util";
import { freePort } from "./free-port.js";

const run = promisify(execFile);

export interface TokenAuthOptions {
  realm: string;
  service: string;
  issuer: string;
  rootCertBundlePath: string;
}

export interface RegistryOptions {
  auth?: { htpasswd: Record<string, string> } | { token: TokenAuthOptions };
  tls?: { certPath: string; keyPath: string };
  /** Default true; false reproduces a registry that refuses DELETE (405). */
  deleteEnabled?: boolean;
}

export interface RunningRegistry {
  /** http(s)://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT */
  host: string;
  port: number;
  /** Filesystem storage root; tests may inspect or corrupt blobs here. */
  dataDir: string;
  /** Its configuration file (what `docker-registry garbage-collect` needs). */
  configPath: string;
  /** Stops it and starts it again on the same port and storage, with deletes as given (a pod rolled with a new env). */
  restart(opts: { deleteEnabled: boolean }): Promise<void>;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;
const POLL_INTERVAL_MS = 20;
const START_ATTEMPTS = 5;
const KILL_GRACE_MS = 2_000;

// A registry must never outlive the test process. The 'exit' hook covers normal exits, but vitest
// ends its fork workers with SIGTERM, which skips 'exit' handlers. So the registry also runs beside
// a watchdog reading fd 3, a pipe whose write end only we hold: it sees EOF however we die (even
// SIGKILL) and terminates the registry. `exec` keeps the registry's PID equal to child.pid.
const WATCHDOG = '(cat <&3; kill "$$") >/dev/null 2>&1 & exec docker-registry serve "$1" 3<&-';

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const c of live) c.kill("SIGKILL");
    });
  }
  live.add(child);
  child.once("exit", () => live.delete(child));
}

/** Starts a private CNCF distribution registry with filesystem storage in a fresh temp dir. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<RunningRegistry> {
  const dir = await mkdtemp(join(tmpdir(), "regsweep-registry-"));
  try {
    const dataDir = join(dir, "data");
    await mkdir(dataDir);
    const authYaml = await authSection(dir, opts.auth);
    const scheme = opts.tls ? "https" : "http";
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const cfgPath = join(dir, "config.yml");
      await writeFile(cfgPath, configYaml(port, dataDir, authYaml, opts.tls, opts.deleteEnabled));
      const child = spawn("sh", ["-c", WATCHDOG, "sh", cfgPath], {
        stdio: ["ignore", "ignore", "pipe", "pipe"],
      });
      track(child);
      let stderr = "";
      child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
        stderr = (stderr + chunk).slice(-4096);
      });
      // 'exit' can fire before the last stderr bytes (e.g. "address already in use") are read.
      const stderrDrained = child.stderr ? finished(child.stderr).catch(() => {}) : Promise.resolve();
      const url = `${scheme}://127.0.0.1:${port}`;
      const outcome = await waitUntilReady(child, url);
      if (outcome === "ready") {
        let current = child;
        return {
          url,
          host: `127.0.0.1:${port}`,
          port,
          dataDir,
          configPath: cfgPath,
          async restart(next) {
            await kill(current);
            await writeFile(cfgPath, configYaml(port, dataDir, authYaml, opts.tls, next.deleteEnabled));
            for (let tries = 1; ; tries++) {
              current = spawn("sh", ["-c", WATCHDOG, "sh", cfgPath], {
                stdio: ["ignore", "ignore", "pipe", "pipe"],
              });
              track(current);
              current.stderr?.resume();
              const again = await waitUntilReady(current, url);
              if (again === "ready") return;
              await kill(current);
              if (tries >= START_ATTEMPTS)
                throw new Error(`docker-registry did not restart (${again}) at ${url}`);
            }
          },
          stop: once(async () => {
            await kill(current);
            await rm(dir, { recursive: true, force: true });
          }),
        };
      }
      await kill(child);
      await stderrDrained;
      // Another process may have grabbed the port between freePort() and the registry's bind.
      if (outcome === "exited" && /address already in use/.test(stderr) && attempt < START_ATTEMPTS) continue;
      throw new Error(`docker-registry did not become ready (${outcome}) at ${url}:\n${stderr}`);
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function authSection(dir: string, auth: RegistryOptions["auth"]): Promise<string> {
  if (!auth) return "";
  if ("htpasswd" in auth) {
    const lines: string[] = [];
    for (const [user, password] of Object.entries(auth.htpasswd)) {
      // distribution only accepts bcrypt entries and silently ignores every other hash type.
      const { stdout } = await run("htpasswd", ["-Bbn", user, password]);
      lines.push(stdout.trim());
    }
    const path = join(dir, "htpasswd");
    await writeFile(path, `${lines.join("\n")}\n`);
    return `auth:\n  htpasswd:\n    realm: regsweep-test\n    path: ${q(path)}\n`;
  }
  const t = auth.token;
  return [
    "auth:",
    "  token:",
    `    realm: ${q(t.realm)}`,
    `    service: ${q(t.service)}`,
    `    issuer: ${q(t.issuer)}`,
    `    rootcertbundle: ${q(t.rootCertBundlePath)}`,
    "",
  ].join("\n");
}

function configYaml(
  port: number,
  dataDir: string,
  auth: string,
  tls: RegistryOptions["tls"],
  deleteEnabled = true,
): string {
  const tlsYaml = tls ? `  tls:\n    certificate: ${q(tls.certPath)}\n    key: ${q(tls.keyPath)}\n` : "";
  return `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${q(dataDir)}
  delete:
    enabled: ${deleteEnabled}
http:
  addr: ${q(`127.0.0.1:${port}`)}
  # Without a fixed secret the registry logs a warning on every start.
  secret: ${q(randomBytes(16).toString("hex"))}
${tlsYaml}${auth}`;
}

/** JSON strings are valid YAML double-quoted scalars, so paths with odd characters stay safe. */
function q(value: string): string {
  return JSON.stringify(value);
}

async function waitUntilReady(child: ChildProcess, url: string): Promise<"ready" | "exited" | "timeout"> {
  const exited = new Promise<"exited">((resolve) => child.once("exit", () => resolve("exited")));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return "exited";
    const status = await Promise.race([probe(`${url}/v2/`), exited]);
    if (status === "exited") return status;
    // A 200/401 could come from a stranger that won the port race, so the child must still be alive.
    if ((status === 200 || status === 401) && child.exitCode === null) return "ready";
    await Promise.race([new Promise((r) => setTimeout(r, POLL_INTERVAL_MS)), exited]);
  }
  return "timeout";
}

/** Resolves the HTTP status, or null when nothing answers yet. */
function probe(url: string): Promise<number | null> {
  return new Promise((resolve) => {
    const get = url.startsWith("https:") ? httpsGet : httpGet;
    // Only liveness matters here; certificate trust is the caller's business.
    const req = get(url, { agent: false, rejectUnauthorized: false, timeout: 1_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? null);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(null));
  });
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    await new Promise<void>((resolve) => {
      const escalate = setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS);
      child.once("exit", () => {
        clearTimeout(escalate);
        resolve();
      });
      child.kill("SIGTERM");
    });
  }
  // Lets the watchdog exit too.
  child.stdio[3]?.destroy();
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let pending: Promise<void> | undefined;
  return () => {
    pending ??= fn();
    return pending;
  };
}

import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../errors.js";
import type { Credentials } from "./auth.js";

/** Credentials the machine already holds for a registry, and where they came from (never the secret). */
export interface StoredCredentials {
  readonly credentials: Credentials;
  /** e.g. `~/.docker/config.json (auths)` or `docker-credential-pass (credHelpers in ~/.docker/config.json)`. */
  readonly from: string;
}

interface AuthFile {
  auths?: Record<string, { auth?: string; identitytoken?: string; username?: string; password?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

const HELPER_TIMEOUT_MS = 30_000;

/**
 * The files Docker, podman and skopeo keep registry logins in, in the order containers-auth.json(5)
 * reads them: `REGISTRY_AUTH_FILE` alone when set; `$DOCKER_CONFIG/config.json` first when set;
 * otherwise `${XDG_RUNTIME_DIR}/containers/auth.json`, `~/.config/containers/auth.json`, then
 * `~/.docker/config.json`.
 */
export function authFiles(env: Record<string, string | undefined>): string[] {
  if (env.REGISTRY_AUTH_FILE) return [env.REGISTRY_AUTH_FILE];
  const home = env.HOME ?? homedir();
  const docker = join(env.DOCKER_CONFIG ?? join(home, ".docker"), "config.json");
  const containers = [
    ...(env.XDG_RUNTIME_DIR ? [join(env.XDG_RUNTIME_DIR, "containers", "auth.json")] : []),
    join(env.XDG_CONFIG_HOME ?? join(home, ".config"), "containers", "auth.json"),
  ];
  return env.DOCKER_CONFIG ? [docker, ...containers] : [...containers, docker];
}

/**
 * The first login a file holds for `host`: a credential helper named for the host (`credHelpers`),
 * the file's `auths` entry (base64 `user:password`, or an `identitytoken`), else its `credsStore`.
 * A file that cannot be parsed, or a helper that fails, is an error naming it: a login the user
 * made must not be silently replaced by anonymous access.
 */
export async function storedCredentials(
  host: string,
  env: Record<string, string | undefined> = process.env,
): Promise<StoredCredentials | undefined> {
  for (const file of authFiles(env)) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw new UsageError(`${file}: ${(error as Error).message}`);
    }
    let parsed: AuthFile;
    try {
      parsed = JSON.parse(text) as AuthFile;
    } catch (error) {
      throw new UsageError(`${file} is not JSON (${(error as Error).message}): fix it, or pass --username`);
    }
    const shown = file.replace(env.HOME ?? homedir(), "~");
    const helper = parsed.credHelpers?.[host];
    if (helper) return fromHelper(helper, host, env, `credHelpers in ${shown}`);
    const entry = Object.entries(parsed.auths ?? {}).find(([key]) => hostOfKey(key) === host)?.[1];
    if (entry) {
      const credentials = fromEntry(entry, shown, host);
      if (credentials) return { credentials, from: `${shown} (auths)` };
    }
    if (parsed.credsStore) {
      const found = await fromHelper(parsed.credsStore, host, env, `credsStore in ${shown}`, true);
      if (found) return found;
    }
  }
  return undefined;
}

/** `https://reg.example.com/v1/`, `reg.example.com` and `http://reg:5000` all name their host[:port]. */
function hostOfKey(key: string): string {
  return key.replace(/^[a-z]+:\/\//i, "").replace(/\/.*$/, "");
}

function fromEntry(
  entry: NonNullable<AuthFile["auths"]>[string],
  file: string,
  host: string,
): Credentials | undefined {
  if (entry.identitytoken) {
    return { username: entry.username ?? "<token>", password: "", identityToken: entry.identitytoken };
  }
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon <= 0)
      throw new UsageError(`${file}: the auths entry for ${host} is not base64 of user:password`);
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (entry.username && entry.password !== undefined)
    return { username: entry.username, password: entry.password };
  return undefined;
}

/** The docker-credential-helpers protocol: `docker-credential-<name> get`, the server on stdin, JSON out. */
function fromHelper(
  name: string,
  host: string,
  env: Record<string, string | undefined>,
  where: string,
  optional = false,
): Promise<StoredCredentials | undefined> {
  const program = `docker-credential-${name}`;
  return new Promise((resolve, reject) => {
    const child = execFile(
      program,
      ["get"],
      { env: env as NodeJS.ProcessEnv, timeout: HELPER_TIMEOUT_MS, maxBuffer: 1 << 20 },
      (error, stdout, stderr) => {
        if (error) {
          // The protocol's answer for "no login for this server": not an error, just none.
          if (/credentials not found/i.test(`${stdout}${stderr}`)) return resolve(undefined);
          if (optional && (error as NodeJS.ErrnoException).code === "ENOENT") return resolve(undefined);
          const why =
            (error as NodeJS.ErrnoException).code === "ENOENT"
              ? "is not on PATH"
              : error.killed
                ? `gave no answer within ${HELPER_TIMEOUT_MS / 1000} s`
                : `failed: ${(stderr || stdout).trim().split("\n")[0] ?? error.message}`;
          return reject(new UsageError(`${program} (${where}) ${why}: fix it, or pass --username`));
        }
        try {
          const answer = JSON.parse(stdout) as { Username?: string; Secret?: string };
          if (!answer.Secret) return resolve(undefined);
          const credentials: Credentials =
            answer.Username === "<token>"
              ? { username: "<token>", password: "", identityToken: answer.Secret }
              : { username: answer.Username ?? "", password: answer.Secret };
          resolve({ credentials, from: `${program} (${where})` });
        } catch {
          reject(new UsageError(`${program} (${where}) did not answer JSON: fix it, or pass --username`));
        }
      },
    );
    // A helper that exits without reading its input must not crash us with EPIPE: its exit says why.
    child.stdin?.on("error", () => {});
    child.stdin?.end(host);
  });
}

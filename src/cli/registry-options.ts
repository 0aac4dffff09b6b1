import { type Command, InvalidArgumentError, Option } from "commander";
import type { Config } from "../config/config-schema.js";
import { UsageError } from "../errors.js";
import { defaultCacheDir } from "../inventory/content-cache.js";
import { log } from "../log.js";
import { parseRegistryTarget } from "../oci/reference.js";
import { type OpenedRegistry, type OpenRegistryOptions, openRegistry } from "../pipeline/open-registry.js";
import { parseDuration } from "../policy/duration.js";
import { looksLikeEcr } from "../registry/ecr-host.js";
import { storedCredentials } from "../registry/stored-credentials.js";

export interface RegistryFlags {
  registry?: string;
  insecure?: boolean;
  caFile?: string;
  concurrency?: number;
  rps?: number;
  cacheDir?: string;
  cache: boolean;
  username?: string;
  passwordStdin?: boolean;
  logLevel?: string;
  config?: string;
  registryType?: "auto" | "distribution" | "acr" | "ecr";
  /** --timeout as typed; parsed by openRegistry (parseTimeout). */
  timeout?: string;
}

/** Flags win over the configuration file, which wins over built-in defaults. */
export function withConfig(flags: RegistryFlags, config: Config): RegistryFlags & { concurrency: number } {
  const r = config.registry;
  return {
    ...flags,
    registry: flags.registry ?? r.url,
    insecure: flags.insecure ?? r.insecure,
    caFile: flags.caFile ?? r.caFile,
    concurrency: flags.concurrency ?? r.concurrency,
    rps: flags.rps ?? r.rps,
    cacheDir: flags.cacheDir ?? r.cacheDir,
    username: flags.username ?? r.username,
  };
}

export function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} takes a whole number`);
    return n;
  };
}

export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * `--timeout`: a duration as `--ago` takes it (`30s`, `2m`, `1m30s`, `500ms`) or a plain number of
 * seconds. Zero is refused: every request must end (a hung registry would hang the run).
 */
export function parseTimeout(text: string): number {
  const trimmed = text.trim();
  const ms = /^\d+(?:\.\d+)?$/.test(trimmed) ? Number(trimmed) * 1000 : parseDuration(trimmed);
  if (ms === undefined || !(ms > 0)) {
    throw new UsageError(
      `--timeout ${JSON.stringify(text)} is not a positive duration: use e.g. 30s, 2m, 1m30s or a number of seconds`,
    );
  }
  return ms;
}

/** The flags every command that talks to a registry accepts. */
export function addRegistryOptions(cmd: Command): Command {
  return cmd
    .option(
      "--registry <url>",
      "registry: https://host[:port], http://127.0.0.1:PORT, or oci:DIR (an OCI image layout tree)",
    )
    .option("--config <file>", "regsweep.yaml (or JSON): registry, policy, usage sources")
    .option("--insecure", "allow plain http and unverified TLS")
    .addOption(
      new Option(
        "--registry-type <type>",
        "acr uses ACR's metadata API and Entra sign-in; ecr ECR's DescribeImages and GetAuthorizationToken (auto: by host name)",
      )
        .choices(["auto", "distribution", "acr", "ecr"])
        .default("auto"),
    )
    .option("--ca-file <pem>", "trust this CA certificate besides the system ones")
    .addOption(
      new Option("--concurrency <n>", "requests in flight at once (default 8)").argParser(
        positiveInt("--concurrency"),
      ),
    )
    .addOption(
      new Option("--rps <n>", "at most this many requests per second").argParser(positiveInt("--rps")),
    )
    .option(
      "--timeout <duration>",
      "give up on a request that gets no answer for this long: 30s, 2m, or seconds (default 30s)",
    )
    .option(
      "--cache-dir <dir>",
      "where immutable manifests and configs are cached (default ~/.cache/regsweep)",
    )
    .option("--no-cache", "do not read or write the on-disk cache")
    .addOption(new Option("--username <user>", "registry user name").env("REGSWEEP_USERNAME"))
    .option("--password-stdin", "read the registry password (or token) from standard input")
    .addOption(
      new Option("--log-level <level>", "diagnostic JSON logs on stderr")
        .choices(["silent", "error", "warn", "info", "debug", "trace"])
        .env("REGSWEEP_LOG_LEVEL"),
    );
}

/**
 * How the command line reaches the registry: flags over the configuration file over defaults, the
 * password from standard input (--password-stdin) or REGSWEEP_PASSWORD, the default cache directory.
 */
export async function registryOptions(
  flags: RegistryFlags,
  config: Config,
  readStdin: () => Promise<string>,
  env: Record<string, string | undefined> = process.env,
): Promise<{ url: string; options: OpenRegistryOptions; login?: string }> {
  if (flags.logLevel) log.level = flags.logLevel;
  const timeoutMs = flags.timeout === undefined ? DEFAULT_TIMEOUT_MS : parseTimeout(flags.timeout);
  if (!flags.registry)
    throw new UsageError("--registry is required (e.g. --registry https://myregistry.example.com)");
  if (flags.passwordStdin && !flags.username) throw new UsageError("--password-stdin needs --username");
  const password = flags.passwordStdin ? (await readStdin()).replace(/\r?\n$/, "") : env.REGSWEEP_PASSWORD;
  // Flags and REGSWEEP_* win; then a login the machine already has (docker login, podman login).
  const stored = flags.username && password !== undefined ? undefined : await loginOnThisMachine(flags, env);
  const login = flags.username && password !== undefined ? `--username ${flags.username}` : stored?.from;
  return {
    ...(login ? { login } : {}),
    url: flags.registry,
    options: {
      insecure: flags.insecure ?? false,
      ...(flags.caFile ? { caFile: flags.caFile } : {}),
      concurrency: Math.max(1, flags.concurrency ?? 8),
      ...(flags.rps ? { rps: flags.rps } : {}),
      timeoutMs,
      ...(flags.username && password !== undefined ? { username: flags.username, password } : {}),
      ...(stored
        ? {
            username: stored.credentials.username,
            password: stored.credentials.password,
            ...(stored.credentials.identityToken ? { identityToken: stored.credentials.identityToken } : {}),
          }
        : {}),
      registryType: flags.registryType ?? "auto",
      azure: { settings: config.azure, env },
      ...(flags.cache ? { cacheDir: flags.cacheDir ?? defaultCacheDir() } : {}),
    },
  };
}

/**
 * The machine's stored login for the registry's host (Docker's config.json, podman's auth.json,
 * their credential helpers). Not for ECR, which signs in with GetAuthorizationToken and renews it;
 * nor for an OCI layout.
 */
async function loginOnThisMachine(flags: RegistryFlags, env: Record<string, string | undefined>) {
  const target = parseRegistryTarget(flags.registry ?? "", flags.insecure ?? false);
  if (target.kind !== "http") return undefined;
  if (
    flags.registryType === "ecr" ||
    ((flags.registryType ?? "auto") === "auto" && looksLikeEcr(target.host))
  )
    return undefined;
  return storedCredentials(target.host, env);
}

/** Opens the registry the flags and configuration name, through the pipeline. */
export async function openRegistryFromFlags(
  flags: RegistryFlags,
  config: Config,
  readStdin: () => Promise<string>,
  run: { signal?: AbortSignal } = {},
): Promise<OpenedRegistry> {
  const { url, options } = await registryOptions(flags, config, readStdin);
  return openRegistry(url, { ...options, ...(run.signal ? { signal: run.signal } : {}) });
}

import { readFileSync } from "node:fs";

export interface RegistryLocation {
  /** Base URL without a trailing slash, e.g. `https://myacr.azurecr.io`. */
  readonly baseUrl: string;
  /** How image references name this registry: lowercase host[:port]. */
  readonly host: string;
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * Accepts `https://host[:port]`, `http://host:port` or a bare `host[:port]`. Plain http is allowed for
 * loopback addresses (as Docker does) and otherwise only with --insecure.
 */
export function parseRegistryUrl(input: string, insecure: boolean): RegistryLocation {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(input)
    ? input
    : `${insecure || isLoopbackHost(input) ? "http" : "https"}://${input}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(
      `--registry ${JSON.stringify(input)} is not a registry URL (expected https://host[:port])`,
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new UsageError(`--registry ${JSON.stringify(input)}: only http(s) registries are supported here`);
  }
  if (url.username || url.password) {
    throw new UsageError("--registry must not contain credentials: use --username and --password-stdin");
  }
  if (url.pathname !== "/" && url.pathname !== "") {
    throw new UsageError(`--registry ${JSON.stringify(input)}: give the registry root, not a path`);
  }
  if (url.protocol === "http:" && !insecure && !isLoopbackName(url.hostname)) {
    throw new UsageError(`--registry ${input} is plain http: pass --insecure to allow it`);
  }
  return { baseUrl: `${url.protocol}//${url.host}`, host: url.host.toLowerCase() };
}

function isLoopbackHost(hostPort: string): boolean {
  const host = hostPort.startsWith("[")
    ? hostPort.slice(0, hostPort.indexOf("]") + 1)
    : hostPort.split(":")[0];
  return isLoopbackName(host ?? "");
}

function isLoopbackName(name: string): boolean {
  const lower = name.toLowerCase();
  return LOOPBACK.has(lower) || /^127\.\d+\.\d+\.\d+$/.test(lower);
}

/**
 * Canonical form for comparing registry hosts: lowercase, no default https port, Docker Hub's
 * aliases folded, and loopback names folded together (127.0.0.1:5000 is localhost:5000).
 */
export function canonicalHost(host: string): string {
  let h = host.toLowerCase();
  if (h.endsWith(":443")) h = h.slice(0, -4);
  if (h === "index.docker.io" || h === "registry-1.docker.io") return "docker.io";
  const portAt = h.startsWith("[") ? h.indexOf("]:") + 1 : h.lastIndexOf(":");
  const name = portAt > 0 ? h.slice(0, portAt) : h;
  const port = portAt > 0 ? h.slice(portAt) : "";
  return LOOPBACK.has(name) ? `loopback${port}` : h;
}

/**
 * Reads the PEM given with --ca-file. A file that cannot be read or holds no certificate is a
 * configuration mistake (exit 2), not a registry failure.
 */
export function readCaFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
    throw new UsageError(
      `--ca-file ${path}: cannot read it (${code}) — give the path of a PEM certificate file`,
    );
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----")) {
    throw new UsageError(
      `--ca-file ${path}: no PEM certificate in it (expected -----BEGIN CERTIFICATE-----) — give the CA certificate, not a key or a DER file`,
    );
  }
  return text;
}

/** A mistake in how regsweep was called or configured: exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

import { UsageError } from "../errors.js";
import { type Digest, isDigest } from "./digest.js";

/*
 * Every name regsweep reads for a registry or an image, parsed once into a typed value: image
 * references (`host/repo:tag@digest`, as Docker and containerd read them), registry locations
 * (`https://host`, `http://127.0.0.1:5000`, a bare `host:port`, `oci:DIR`), and the canonical host
 * form used to compare them.
 */

/** An image reference normalised the way Docker and containerd read it. */
export interface ImageReference {
  /** Lowercase registry host[:port]; `docker.io` when none was given. */
  readonly host: string;
  /** Repository path, with `library/` added for one-component Docker Hub names. */
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: Digest;
}

export class InvalidReferenceError extends Error {
  override name = "InvalidReferenceError";
}

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DOMAIN =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$/;

/**
 * Parses `[host[:port]/]path[:tag][@sha256:…]` as distribution/reference does: the first component
 * is a host when it has a `.` or `:`, is `localhost`, or has an uppercase letter; otherwise the
 * host is docker.io. No tag and no digest means `latest`. With both, the digest decides.
 */
export function parseReference(input: string): ImageReference {
  const text = input.trim();
  if (!text) throw new InvalidReferenceError("empty image reference");
  const at = text.indexOf("@");
  let digest: Digest | undefined;
  let rest = text;
  if (at >= 0) {
    const d = text.slice(at + 1);
    if (!isDigest(d)) {
      throw new InvalidReferenceError(`${JSON.stringify(input)}: digest must be sha256:<64 lowercase hex>`);
    }
    digest = d;
    rest = text.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag))
      throw new InvalidReferenceError(`${JSON.stringify(input)}: invalid tag ${JSON.stringify(tag)}`);
  }
  const slash = rest.indexOf("/");
  const first = slash >= 0 ? rest.slice(0, slash) : "";
  let host = "docker.io";
  let path = rest;
  if (
    slash >= 0 &&
    (first.includes(".") || first.includes(":") || first === "localhost" || first !== first.toLowerCase())
  ) {
    if (!DOMAIN.test(first))
      throw new InvalidReferenceError(
        `${JSON.stringify(input)}: invalid registry host ${JSON.stringify(first)}`,
      );
    host = first.toLowerCase();
    path = rest.slice(slash + 1);
  }
  if (host === "index.docker.io" || host === "registry-1.docker.io") host = "docker.io";
  const components = path.split("/");
  if (!path || components.some((c) => !PATH_COMPONENT.test(c))) {
    throw new InvalidReferenceError(
      `${JSON.stringify(input)}: invalid repository name ${JSON.stringify(path)}`,
    );
  }
  if (host === "docker.io" && components.length === 1) path = `library/${path}`;
  if (!tag && !digest) tag = "latest";
  return { host, repository: path, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

export function formatReference(ref: ImageReference): string {
  return `${ref.host}/${ref.repository}${ref.tag ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
}

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

/** Where a registry is: reached over HTTP(S), or a tree of OCI image layouts on disk. */
export type RegistryTarget =
  | ({ readonly kind: "http" } & RegistryLocation)
  | { readonly kind: "oci-layout"; readonly path: string };

/** `oci:DIR` is a tree of OCI image layouts; anything else goes through parseRegistryUrl. */
export function parseRegistryTarget(input: string, insecure: boolean): RegistryTarget {
  if (input.startsWith("oci:")) {
    const path = input.slice("oci:".length);
    if (!path) throw new UsageError("--registry oci: needs a directory (oci:DIR)");
    return { kind: "oci-layout", path };
  }
  return { kind: "http", ...parseRegistryUrl(input, insecure) };
}

import { type Digest, isDigest } from "../oci/digest.js";

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

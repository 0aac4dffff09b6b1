import { hash } from "node:crypto";

/** A content digest in canonical `sha256:<64 hex>` form; parse with parseDigest at the edge. */
export type Digest = `sha256:${string}` & { readonly __brand: "Digest" };

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function isDigest(value: string): value is Digest {
  return DIGEST_RE.test(value);
}

export function parseDigest(value: string): Digest {
  if (!isDigest(value)) throw new Error(`not a sha256 digest: ${JSON.stringify(value)}`);
  return value;
}

export function sha256Digest(bytes: Uint8Array | string): Digest {
  // One-shot: no Hash object per body (half the cost of createHash().update().digest() for a
  // manifest of a few hundred bytes, and a scan hashes every body it reads).
  return `sha256:${hash("sha256", bytes, "hex")}` as Digest;
}

/** The cosign / OCI referrers tag-schema name of a subject: `sha256-<hex>`. */
export function referrersTagFor(digest: Digest): string {
  return digest.replace(":", "-");
}

const REFERRER_TAG_RE = /^sha256-([a-f0-9]{64})(?:\.(sig|att|sbom))?$/;

/** The subject digest a cosign-style tag (`sha256-<hex>[.sig|.att|.sbom]`) points at, if it is one. */
export function subjectOfReferrerTag(
  tag: string,
): { subject: Digest; kind: "index" | "sig" | "att" | "sbom" } | undefined {
  const m = REFERRER_TAG_RE.exec(tag);
  if (!m) return undefined;
  return {
    subject: `sha256:${m[1]}` as Digest,
    kind: (m[2] as "sig" | "att" | "sbom" | undefined) ?? "index",
  };
}

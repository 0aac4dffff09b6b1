import { resolve } from "node:path";

/** Where a backup lives; parsed once from the `--backup` / `--from` string. */
export type BackupDestination =
  | { readonly kind: "dir"; readonly path: string }
  | { readonly kind: "oci-archive"; readonly path: string }
  | { readonly kind: "s3"; readonly bucket: string; readonly prefix: string };

export const ACCEPTED_FORMS = "dir:PATH, oci-archive:PATH.tar or s3://BUCKET[/PREFIX]";

// S3 bucket naming rules (3–63 characters, lowercase, digits, dots, hyphens).
const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function parseBackupDestination(dest: string): BackupDestination {
  const fail = (why: string): never => {
    throw new Error(`backup destination ${JSON.stringify(dest)} ${why}; use ${ACCEPTED_FORMS}`);
  };
  if (dest.startsWith("dir:")) {
    const path = dest.slice("dir:".length);
    if (!path) fail("has no path");
    return { kind: "dir", path: resolve(path) };
  }
  if (dest.startsWith("oci-archive:")) {
    const path = dest.slice("oci-archive:".length);
    if (!path || path.endsWith("/")) fail("has no archive file name");
    return { kind: "oci-archive", path: resolve(path) };
  }
  if (dest.startsWith("s3://")) {
    const rest = dest.slice("s3://".length);
    const slash = rest.indexOf("/");
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    // Trailing or doubled slashes would make keys S3 stores treat as different objects.
    const prefix = slash < 0 ? "" : rest.slice(slash + 1).replace(/\/+$/, "");
    if (!BUCKET_RE.test(bucket)) fail(`names an invalid bucket ${JSON.stringify(bucket)}`);
    if (prefix.split("/").some((p) => p === "" || p === "." || p === "..") && prefix !== "")
      fail("has an empty, '.' or '..' prefix segment");
    return { kind: "s3", bucket, prefix };
  }
  return fail("is not recognised");
}

/** A user-facing name: the destination as written, never credentials (none can appear in it). */
export function describeDestination(dest: BackupDestination, s3Endpoint?: string): string {
  switch (dest.kind) {
    case "dir":
      return `dir:${dest.path}`;
    case "oci-archive":
      return `oci-archive:${dest.path}`;
    case "s3": {
      const where = `s3://${dest.bucket}${dest.prefix ? `/${dest.prefix}` : ""}`;
      // origin drops any user:password@ a user might have put into the endpoint URL.
      return s3Endpoint ? `${where} (endpoint ${safeOrigin(s3Endpoint)})` : where;
    }
  }
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(invalid endpoint URL)";
  }
}

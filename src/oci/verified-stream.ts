import { createHash } from "node:crypto";

/** A blob whose bytes did not match its digest or size: retrying cannot help. */
export class DigestMismatchError extends Error {
  override name = "DigestMismatchError";
  readonly code = "EDIGEST";
}

/**
 * Passes a blob through while hashing it, and throws at the end (or as soon as it runs long) when
 * it is not the blob expected. Whatever consumes it — a file write, an upload, an HTTP body — fails
 * before completing, so wrong bytes are never stored under a digest, and no layer is held whole.
 */
export async function* verifiedStream(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  expected: { readonly digest: string; readonly size: number },
  what = "blob",
): AsyncIterable<Uint8Array> {
  const hash = createHash("sha256");
  let size = 0;
  // One chunk is held back until the digest is known, so a consumer never receives a complete
  // body that turns out wrong: an upload fails before its last byte, a write before its end.
  let held: Uint8Array | undefined;
  for await (const chunk of source) {
    size += chunk.byteLength;
    if (size > expected.size) {
      throw new DigestMismatchError(
        `${what} ${expected.digest} is longer than ${expected.size} bytes: corrupt`,
      );
    }
    hash.update(chunk);
    if (held) yield held;
    held = chunk;
  }
  const actual = `sha256:${hash.digest("hex")}`;
  if (actual !== expected.digest || size !== expected.size) {
    throw new DigestMismatchError(
      `${what} ${expected.digest} is ${size} bytes with digest ${actual} (expected ${expected.size} bytes): corrupt or truncated`,
    );
  }
  if (held) yield held;
}

import { type Digest, sha256Digest } from "../oci/digest.js";

/**
 * A pack: bodies one after another, each after a header line `sha256:<hex> <length>\n`. Every
 * body read back is hashed, so whatever a torn or raced append leaves is a miss, never wrong data.
 */

const HEADER_RE = /^sha256:[a-f0-9]{64} \d{1,10}\n/;
/** `sha256:` + 64 hex + space + up to 10 digits + newline. */
const MAX_HEADER = 7 + 64 + 1 + 10 + 1;

/** One record: its header and the body. */
export function packRecord(digest: Digest, body: Uint8Array): { record: Buffer; bodyOffset: number } {
  const header = Buffer.from(`${digest} ${body.byteLength}\n`, "latin1");
  return { record: Buffer.concat([header, body]), bodyOffset: header.byteLength };
}

/**
 * The bodies of a pack that hash to their digest, as views into `bytes`. After a record that does
 * not parse or hash (a torn append, another writer's interleaved bytes) it looks for the next
 * header, so what later appends added is still found.
 */
export function readPack(bytes: Buffer): Map<Digest, Buffer> {
  const bodies = new Map<Digest, Buffer>();
  let at = 0;
  while (at < bytes.byteLength) {
    const header = HEADER_RE.exec(bytes.toString("latin1", at, Math.min(bytes.byteLength, at + MAX_HEADER)));
    const length = header ? Number(header[0].slice(72, -1)) : -1;
    const start = at + (header?.[0].length ?? 0);
    const digest = header?.[0].slice(0, 71) as Digest | undefined;
    const body = header ? bytes.subarray(start, start + length) : undefined;
    if (!digest || !body || body.byteLength !== length || sha256Digest(body) !== digest) {
      const next = bytes.indexOf("sha256:", at + 1, "latin1");
      if (next < 0) break;
      at = next;
      continue;
    }
    bodies.set(digest, body);
    at = start + length;
  }
  return bodies;
}

import { type Digest, sha256Digest } from "../oci/digest.js";

/**
 * A pack: records one after another, each after a header line `sha256:<hex> <length>\n` (a body,
 * named by its digest) or `sha256:<hex> <length> state\n` (a repository's state, checked by the
 * hash of its bytes). Every record is hashed before it is used, so whatever a torn or raced append
 * leaves is a miss, never wrong data; the last state that hashes is the current one.
 */

const HEADER_RE = /^sha256:[a-f0-9]{64} \d{1,10}( state)?\n/;
/** `sha256:` + 64 hex + space + up to 10 digits + ` state` + newline. */
const MAX_HEADER = 7 + 64 + 1 + 10 + 6 + 1;

/** A body record's header line. */
function recordHeader(digest: Digest, body: Uint8Array): Buffer {
  return Buffer.from(`${digest} ${body.byteLength}\n`, "latin1");
}

/** One state record: the state's bytes after a header that names their hash. */
export function stateRecord(state: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${sha256Digest(state)} ${state.byteLength} state\n`, "latin1"), state]);
}

/** Records ready to write in one go: their bytes, and where each body lies within them. */
export interface PackChunk {
  readonly bytes: Buffer;
  readonly bodies: readonly { readonly digest: Digest; readonly offset: number; readonly length: number }[];
}

/** Bodies, then the state if given, as one chunk (bodies first: the state names them). */
export function packChunk(bodies: Iterable<[Digest, Buffer]>, state: Buffer | undefined): PackChunk {
  const chunks: Buffer[] = [];
  const placed: { digest: Digest; offset: number; length: number }[] = [];
  let offset = 0;
  for (const [digest, body] of bodies) {
    // Header and body go into the one concat below: a record of its own would copy every body twice.
    const header = recordHeader(digest, body);
    chunks.push(header, body);
    placed.push({ digest, offset: offset + header.byteLength, length: body.byteLength });
    offset += header.byteLength + body.byteLength;
  }
  if (state) chunks.push(stateRecord(state));
  return { bytes: Buffer.concat(chunks), bodies: placed };
}

export interface PackContents {
  /**
   * The bodies, as views into the bytes read, NOT yet checked: a warm scan needs few of them, and
   * hashing them all was most of reading a pack. Check one against its digest before using it.
   * Of two records for one digest the later wins: it was appended because the earlier one failed.
   */
  readonly bodies: Map<Digest, Buffer>;
  /** The last state record that hashes, if any. */
  readonly state: Buffer | undefined;
  /** The pack's length in bytes. */
  readonly bytes: number;
  /** Bytes a rewrite would drop: earlier states and whatever did not parse or hash. */
  readonly deadBytes: number;
  /** Bytes of the last state's record, header included (0 without one). */
  readonly stateRecordBytes: number;
}

/**
 * Reads a pack. After a record that does not parse or hash (a torn append, another writer's
 * interleaved bytes) it looks for the next header, so what later appends added is still found.
 */
export function readPack(bytes: Buffer): PackContents {
  const bodies = new Map<Digest, Buffer>();
  let state: Buffer | undefined;
  let stateRecordBytes = 0;
  let live = 0;
  let at = 0;
  while (at < bytes.byteLength) {
    const header = HEADER_RE.exec(bytes.toString("latin1", at, Math.min(bytes.byteLength, at + MAX_HEADER)));
    const text = header?.[0] ?? "";
    const isState = header?.[1] !== undefined;
    const length = header ? Number.parseInt(text.slice(72), 10) : -1;
    const start = at + text.length;
    const digest = text.slice(0, 71) as Digest;
    const content = header ? bytes.subarray(start, start + length) : undefined;
    // Unhashed, a torn body would swallow the start of the record after it: one that does not end
    // where the pack does or another record begins is hashed here to tell (garbage after a good one).
    const end = start + length;
    const bounded = end === bytes.byteLength || bytes.toString("latin1", end, end + 7) === "sha256:";
    const whole =
      content !== undefined &&
      content.byteLength === length &&
      ((bounded && !isState) || sha256Digest(content) === digest);
    if (!whole) {
      const next = bytes.indexOf("sha256:", at + 1, "latin1");
      if (next < 0) break;
      at = next;
      continue;
    }
    if (isState) {
      live += start + length - at - stateRecordBytes;
      state = content;
      stateRecordBytes = start + length - at;
    } else {
      const earlier = bodies.get(digest);
      if (earlier) live -= earlier.byteLength + (start - at);
      bodies.set(digest, content);
      live += start + length - at;
    }
    at = end;
  }
  return { bodies, state, bytes: bytes.byteLength, deadBytes: bytes.byteLength - live, stateRecordBytes };
}

import { createReadStream } from "node:fs";

/**
 * Reads a JSON document whose top level is an object without holding the file as one string: the
 * bytes are scanned for the boundaries of each top-level field and, inside a top-level array, of
 * each entry, and every such piece is `JSON.parse`d on its own. `onEntry` sees each entry of a
 * top-level array as it is parsed (to check it, or turn it into something smaller); what it
 * returns is what the array holds. Any valid JSON reads, whatever its layout; what is not valid
 * throws a SyntaxError saying where.
 */
export async function readJsonObject(
  path: string,
  onEntry: (field: string, entry: unknown, index: number) => unknown = (_f, e) => e,
): Promise<Record<string, unknown>> {
  // Chunks of 1 MiB: fewer pieces cut across two of them, fewer calls.
  return parseJsonObject(createReadStream(path, { highWaterMark: 1 << 20 }), onEntry);
}

/** readJsonObject over any sequence of byte chunks (a stream, or a test's chosen cuts). */
export async function parseJsonObject(
  chunks: AsyncIterable<Buffer | string> | Iterable<Buffer | string>,
  onEntry: (field: string, entry: unknown, index: number) => unknown = (_f, e) => e,
): Promise<Record<string, unknown>> {
  const scanner = new TopLevelScanner(onEntry);
  for await (const chunk of chunks) scanner.feed(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return scanner.end();
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** Runs that JSON.parse refused, after which the rest of a document is read byte by byte. */
const MAX_MISSES = 8;

/** How much of a chunk one run of entries reads at most: more made no faster reader, and more garbage at once. */
const BATCH_BYTES = 1 << 15;

/** The values of the bytes from..to (a run of entries, `,` between them) in one JSON.parse, or undefined when they are not that. */
function parseRun(chunk: Buffer, from: number, to: number): unknown[] | undefined {
  try {
    return JSON.parse(`[${chunk.toString("utf8", from, to)}]`) as unknown[];
  } catch {
    return undefined;
  }
}

const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

type State =
  | "start" // before the top-level `{`
  | "key-or-end" // after `{` or `,` at the top level
  | "colon"
  | "value" // before a field's value
  | "piece" // inside a value (a scalar, object or array entry) being collected
  | "entry-or-end" // after `[` or `,` inside a top-level array
  | "after-field" // after a field's value: `,` or `}`
  | "after-entry" // after an array entry: `,` or `]`
  | "done";

class TopLevelScanner {
  private state: State = "start";
  private readonly result: Record<string, unknown> = {};
  private key = "";
  private array: unknown[] | undefined;
  /** The piece being collected (a key, a value or an entry), as slices of the chunks read. */
  private parts: Buffer[] = [];
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** A piece that is a bare scalar (number, true, false, null) ends at the next delimiter. */
  private scalar = false;
  private offset = 0;
  private role: "key" | "value" | "entry" = "key";
  /** Whether entries are still read in batches: off once the layout misled it MAX_MISSES times. */
  private batches = true;
  private misses = 0;
  /** The bytes that close an entry opened at the last indent seen, and that indent. */
  private closer: Buffer = Buffer.alloc(0);

  constructor(private readonly onEntry: (field: string, entry: unknown, index: number) => unknown) {}

  feed(chunk: Buffer): void {
    // A piece begun in an earlier chunk goes on from this chunk's first byte.
    let start = this.state === "piece" ? 0 : -1;
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      const b = chunk[i] as number;
      if (this.state === "piece") {
        if (this.inString) {
          // Most of a plan's bytes are inside strings (digests): jump to the next quote (memchr)
          // rather than look at each byte. It ends the string unless an odd run of backslashes
          // stands right before it, counting one carried over from the last chunk.
          const q = chunk.indexOf(QUOTE, i);
          const end = q < 0 ? n : q;
          let run = 0;
          while (end - 1 - run >= i && chunk[end - 1 - run] === BACKSLASH) run++;
          const odd = (run + (run === end - i && this.escaped ? 1 : 0)) % 2 === 1;
          if (q < 0) {
            this.escaped = odd;
            i = n;
            continue;
          }
          this.escaped = false;
          i = q;
          if (odd) continue;
          this.inString = false;
          if (this.depth === 0 && !this.scalar) {
            this.parts.push(chunk.subarray(start, i + 1));
            start = -1;
            this.finishPiece();
          }
          continue;
        }
        if (this.scalar) {
          if (b === COMMA || b === CLOSE_BRACE || b === CLOSE_BRACKET || isSpace(b)) {
            this.parts.push(chunk.subarray(start, i));
            start = -1;
            this.finishPiece();
            // The delimiter belongs to what comes after the scalar.
            i--;
          }
          continue;
        }
        if (b === QUOTE) this.inString = true;
        else if (b === OPEN_BRACE || b === OPEN_BRACKET) this.depth++;
        else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
          this.depth--;
          if (this.depth === 0) {
            this.parts.push(chunk.subarray(start, i + 1));
            start = -1;
            this.finishPiece();
          }
        }
        continue;
      }
      if (isSpace(b)) continue;
      switch (this.state) {
        case "start":
          if (b !== OPEN_BRACE) this.fail("the document is not a JSON object", i);
          this.state = "key-or-end";
          break;
        case "key-or-end":
          if (b === CLOSE_BRACE && Object.keys(this.result).length === 0) this.state = "done";
          else if (b === QUOTE) start = this.beginPiece(i, b, "key");
          else this.fail("expected a field name", i);
          break;
        case "colon":
          if (b !== COLON) this.fail("expected ':'", i);
          this.state = "value";
          break;
        case "value":
          if (b === OPEN_BRACKET) {
            this.array = [];
            this.state = "entry-or-end";
          } else start = this.beginPiece(i, b, "value");
          break;
        case "entry-or-end":
          if (b === CLOSE_BRACKET && (this.array as unknown[]).length === 0) this.endArray();
          else if (b === OPEN_BRACE && this.batches) {
            const last = this.batch(chunk, i);
            if (last >= 0) {
              i = last;
              this.state = "after-entry";
            } else start = this.beginPiece(i, b, "entry");
          } else start = this.beginPiece(i, b, "entry");
          break;
        case "after-entry":
          if (b === COMMA) this.state = "entry-or-end";
          else if (b === CLOSE_BRACKET) this.endArray();
          else this.fail("expected ',' or ']'", i);
          break;
        case "after-field":
          if (b === COMMA) this.state = "key-or-end";
          else if (b === CLOSE_BRACE) this.state = "done";
          else this.fail("expected ',' or '}'", i);
          break;
        case "done":
          this.fail("text after the end of the document", i);
      }
    }
    if (start >= 0) this.parts.push(chunk.subarray(start));
    this.offset += n;
  }

  /**
   * Reads the entries that begin at `i` (an entry's `{`) and end within this chunk with one
   * JSON.parse, and returns the index of the last one's closing brace; -1 when it read none. An
   * entry laid out as JSON.stringify indents it closes with a newline, its own indent and `}`:
   * that marks where a run of whole entries may end. A raw newline is never inside a JSON string,
   * so the brace is outside strings. Text that JSON.parse takes as a list of values is one, as
   * the whole document would read it; should the layout mislead (a deeper brace at that indent,
   * or the run crossing its array's end), JSON.parse refuses it and the entry is read byte by
   * byte as before, which finds what is wrong, if anything is.
   */
  private batch(chunk: Buffer, i: number): number {
    let lineStart = i;
    while (lineStart > 0 && (chunk[lineStart - 1] === 0x20 || chunk[lineStart - 1] === 0x09)) lineStart--;
    if (lineStart === 0 || chunk[lineStart - 1] !== 0x0a) return -1;
    const indent = i - lineStart;
    const closer = this.closer;
    if (closer.length !== indent + 2 || chunk.compare(closer, 1, indent + 1, lineStart, i) !== 0) {
      this.closer = Buffer.alloc(indent + 2);
      this.closer[0] = 0x0a;
      chunk.copy(this.closer, 1, lineStart, i);
      this.closer[indent + 1] = CLOSE_BRACE;
    }
    const to = Math.min(chunk.length, i + BATCH_BYTES);
    const run = this.closer.length;
    const at = chunk.lastIndexOf(this.closer, to - run);
    if (at < i) return -1;
    let end = at + run;
    let values = parseRun(chunk, i, end);
    if (!values) {
      // The run went past its array's end (the last entries of delete[] into the first of
      // keep[]), or the layout misled: try up to the first such brace.
      const first = chunk.indexOf(this.closer, i);
      end = first + run;
      values = first !== at ? parseRun(chunk, i, end) : undefined;
    }
    if (!values) {
      // Read byte by byte; a layout that keeps misleading is read so from here on, at the cost
      // of a few runs parsed in vain.
      if (++this.misses >= MAX_MISSES) this.batches = false;
      return -1;
    }
    const array = this.array as unknown[];
    for (let k = 0; k < values.length; k++) array.push(this.onEntry(this.key, values[k], array.length));
    return end - 1;
  }

  end(): Record<string, unknown> {
    if (this.state === "piece" && this.scalar && this.parts.length > 0) this.finishPiece();
    if (this.state !== "done") throw new SyntaxError("Unexpected end of JSON input");
    return this.result;
  }

  /** Starts collecting a piece at byte `b`: a string ends at its closing quote, an object or array at its bracket, a scalar at a delimiter. */
  private beginPiece(i: number, b: number, role: "key" | "value" | "entry"): number {
    this.role = role;
    this.state = "piece";
    this.parts = [];
    this.escaped = false;
    this.inString = b === QUOTE;
    this.depth = b === OPEN_BRACE || b === OPEN_BRACKET ? 1 : 0;
    this.scalar = !this.inString && this.depth === 0;
    return i;
  }

  private finishPiece(): void {
    const text = (this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts)).toString(
      "utf8",
    );
    this.parts = [];
    this.scalar = false;
    const value: unknown = JSON.parse(text);
    if (this.role === "key") {
      this.key = value as string;
      this.state = "colon";
    } else if (this.role === "value") {
      this.set(value);
      this.state = "after-field";
    } else {
      const array = this.array as unknown[];
      array.push(this.onEntry(this.key, value, array.length));
      this.state = "after-entry";
    }
  }

  private endArray(): void {
    this.set(this.array);
    this.array = undefined;
    this.state = "after-field";
  }

  /** As JSON.parse: `__proto__` is a field like any other, never the object's prototype. */
  private set(value: unknown): void {
    Object.defineProperty(this.result, this.key, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  }

  private fail(what: string, i: number): never {
    throw new SyntaxError(`${what} at byte ${this.offset + i}`);
  }
}

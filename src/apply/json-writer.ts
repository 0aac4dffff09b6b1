import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { link, mkdir, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import type { Writable } from "node:stream";

/**
 * A document written piece by piece: what `JSON.stringify(value, null, 2)` would give, byte for
 * byte, without ever holding it as one string (a million-manifest plan is larger than V8's
 * longest string). The top-level object and the arrays and objects it holds are written field by
 * field and entry by entry; anything deeper is one `JSON.stringify` per entry. An iterable that is
 * not an array (a generator) is written as an array, so a caller can map a million entries lazily.
 */
export function* jsonChunks(value: unknown, indent = "", depth = 0): Generator<string> {
  const v = toJsonValue(value);
  if (depth >= 2 || v === null || typeof v !== "object") {
    const text = JSON.stringify(v, null, 2) ?? "null";
    yield indent ? text.replaceAll("\n", `\n${indent}`) : text;
    return;
  }
  const inner = `${indent}  `;
  if ((Array.isArray(v) || isIterable(v)) && depth >= 1) {
    // Entries deeper than this are one JSON.stringify each anyway: sixteen at once, nested
    // in as many arrays as levels of indent, come out of it already indented, without a call
    // and a re-indent per entry.
    let first = true;
    for (const text of entryBatches(v as Iterable<unknown>, inner.length / 2)) {
      yield `${first ? "[\n" : ",\n"}${inner}${text}`;
      first = false;
    }
    yield first ? "[]" : `\n${indent}]`;
    return;
  }
  if (Array.isArray(v) || isIterable(v)) {
    let first = true;
    for (const item of v as Iterable<unknown>) {
      yield first ? `[\n${inner}` : `,\n${inner}`;
      first = false;
      // As JSON.stringify: in an array, what has no JSON form is null.
      const j = toJsonValue(item);
      yield* jsonChunks(
        j === undefined || typeof j === "function" || typeof j === "symbol" ? null : j,
        inner,
        depth + 1,
      );
    }
    yield first ? "[]" : `\n${indent}]`;
    return;
  }
  let first = true;
  for (const [key, raw] of Object.entries(v)) {
    const item = toJsonValue(raw);
    if (item === undefined || typeof item === "function" || typeof item === "symbol") continue;
    yield `${first ? "{\n" : ",\n"}${inner}${JSON.stringify(key)}: `;
    first = false;
    yield* jsonChunks(item, inner, depth + 1);
  }
  yield first ? "{}" : `\n${indent}}`;
}

const ENTRIES_PER_BATCH = 16;

/**
 * The entries of an array at `levels` levels of two-space indent, a batch at a time: each batch
 * the text JSON.stringify gives those entries there, joined by `,\n` and the indent.
 */
function* entryBatches(items: Iterable<unknown>, levels: number): Generator<string> {
  let open = "";
  let close = "";
  for (let level = 0; level < levels; level++) {
    open += `[\n${"  ".repeat(level + 1)}`;
    close = `\n${"  ".repeat(level)}]${close}`;
  }
  let batch: unknown[] = [];
  const text = () => {
    let wrapped: unknown = batch;
    for (let level = 1; level < levels; level++) wrapped = [wrapped];
    const all = JSON.stringify(wrapped, null, 2);
    return all.slice(open.length, all.length - close.length);
  };
  for (const item of items) {
    batch.push(item);
    if (batch.length === ENTRIES_PER_BATCH) {
      yield text();
      batch = [];
    }
  }
  if (batch.length > 0) yield text();
}

function toJsonValue(value: unknown): unknown {
  const withToJson = value as { toJSON?: () => unknown } | null;
  return withToJson !== null && typeof withToJson === "object" && typeof withToJson.toJSON === "function"
    ? withToJson.toJSON()
    : value;
}

function isIterable(value: object): boolean {
  return typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === "function";
}

const BATCH = 1 << 16;

/** Writes the document and a closing newline to `out`, waiting for it to drain when its buffer is full. */
export async function writeJson(out: Writable, value: unknown): Promise<void> {
  let batch = "";
  const flush = async () => {
    if (!out.write(batch)) await once(out, "drain");
    batch = "";
  };
  for (const chunk of jsonChunks(value)) {
    // Written before it would grow past BATCH, so that no write is much larger than one.
    if (batch.length > 0 && batch.length + chunk.length > BATCH) await flush();
    batch += chunk;
    if (batch.length >= BATCH) await flush();
  }
  batch += "\n";
  await flush();
}

/** Streams the document into `path.<pid>.partial`, then gives it its name: no reader ever sees half of it. */
async function writePartial(path: string, value: unknown): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  const partial = `${path}.${process.pid}.partial`;
  const out = createWriteStream(partial);
  try {
    const failed = new Promise<never>((_, reject) => out.once("error", reject));
    failed.catch(() => {});
    await Promise.race([writeJson(out, value), failed]);
    out.end();
    await Promise.race([once(out, "finish"), failed]);
  } catch (error) {
    out.destroy();
    await rm(partial, { force: true });
    throw error;
  }
  return partial;
}

/** Writes the JSON document to `path` atomically, replacing what was there. */
export async function writeJsonFile(path: string, value: unknown): Promise<void> {
  const partial = await writePartial(path, value);
  await rename(partial, path);
}

/**
 * Writes the JSON document to `path` atomically, but never over an existing file: EEXIST then,
 * as `writeFile(…, { flag: "wx" })` would say.
 */
export async function writeNewJsonFile(path: string, value: unknown): Promise<void> {
  const partial = await writePartial(path, value);
  try {
    await link(partial, path);
  } finally {
    await rm(partial, { force: true });
  }
}

import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";

/**
 * A minimal POSIX ustar writer: regular files and directories, nothing else. Hand-written because
 * an OCI layout needs only short names and plain files, and the project declares no tar package.
 */
export type TarInput =
  | { readonly type: "dir"; readonly name: string }
  | { readonly type: "file"; readonly name: string; readonly source: string };

const BLOCK = 512;
const MAX_OCTAL_SIZE = 8 ** 11 - 1; // 11 octal digits; larger sizes use base-256 (GNU, read by every tar)

/** Writes `entries` to `path` (created or truncated) and fsyncs it. */
export async function writeTar(
  path: string,
  entries: readonly TarInput[],
  mtime = new Date(),
): Promise<void> {
  const out = await open(path, "w");
  try {
    const seconds = Math.floor(mtime.getTime() / 1000);
    for (const entry of entries) {
      if (entry.type === "dir") {
        await out.write(
          header(entry.name.endsWith("/") ? entry.name : `${entry.name}/`, 0, "5", 0o755, seconds),
        );
        continue;
      }
      const size = (await stat(entry.source)).size;
      await out.write(header(entry.name, size, "0", 0o644, seconds));
      let written = 0;
      for await (const chunk of createReadStream(entry.source)) {
        await out.write(chunk as Buffer);
        written += (chunk as Buffer).byteLength;
      }
      // The header already promised `size` bytes; a file that changed meanwhile would corrupt the archive.
      if (written !== size) throw new Error(`${entry.source} changed size while being archived`);
      const pad = (BLOCK - (size % BLOCK)) % BLOCK;
      if (pad) await out.write(Buffer.alloc(pad));
    }
    await out.write(Buffer.alloc(2 * BLOCK)); // end-of-archive marker
    await out.sync();
  } finally {
    await out.close();
  }
}

function header(name: string, size: number, type: "0" | "5", mode: number, mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  const [prefix, base] = splitName(name);
  h.write(base, 0, 100, "utf8");
  octal(h, 100, 8, mode);
  octal(h, 108, 8, 0); // uid
  octal(h, 116, 8, 0); // gid
  if (size <= MAX_OCTAL_SIZE) octal(h, 124, 12, size);
  else base256(h, 124, 12, size);
  octal(h, 136, 12, mtime);
  h.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  h.write(type, 156, 1, "ascii");
  h.write("ustar\0", 257, 6, "ascii");
  h.write("00", 263, 2, "ascii");
  h.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "ascii");
  return h;
}

/** ustar keeps names up to 100 bytes, or 155 + 100 split at a slash. */
function splitName(name: string): [string, string] {
  if (Buffer.byteLength(name) <= 100) return ["", name];
  for (let i = name.lastIndexOf("/"); i > 0; i = name.lastIndexOf("/", i - 1)) {
    const prefix = name.slice(0, i);
    const base = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(base) <= 100 && base) return [prefix, base];
  }
  throw new Error(`name too long for a ustar archive: ${name}`);
}

function octal(h: Buffer, offset: number, length: number, value: number): void {
  h.write(`${value.toString(8).padStart(length - 1, "0")}\0`, offset, length, "ascii");
}

function base256(h: Buffer, offset: number, length: number, value: number): void {
  let v = BigInt(value);
  for (let i = offset + length - 1; i > offset; i--) {
    h[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  h[offset] = 0x80;
}

import { type FileHandle, open } from "node:fs/promises";

/** One member of a tar archive and where its bytes are. */
export interface TarMember {
  readonly name: string;
  /** "0" regular file, "5" directory, others as found. */
  readonly type: string;
  readonly offset: number;
  readonly size: number;
}

const BLOCK = 512;

/**
 * Lists a tar archive (ustar, plus the pax `path`/`size` records and GNU long names other tools
 * write, so a layout re-packed with `tar` still reads). Verifies every header checksum and that
 * no member runs past the end of the file: a truncated archive is an error, not a shorter list.
 */
export async function listTar(file: FileHandle): Promise<TarMember[]> {
  const length = (await file.stat()).size;
  const members: TarMember[] = [];
  let position = 0;
  let longName: string | undefined;
  let pax: Record<string, string> = {};
  for (;;) {
    if (position + BLOCK > length) throw new Error("tar archive is truncated (no end-of-archive marker)");
    const h = await readAt(file, position, BLOCK);
    if (h.every((b) => b === 0)) return members;
    checkChecksum(h, position);
    const type = String.fromCharCode(h[156] || 0x30);
    let size = parseSize(h.subarray(124, 136));
    if (pax.size !== undefined) size = Number(pax.size);
    const dataOffset = position + BLOCK;
    if (dataOffset + size > length)
      throw new Error(`tar member at offset ${position} runs past the end of the archive`);
    position = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
    if (type === "x" || type === "L") {
      const data = (await readAt(file, dataOffset, size)).toString("utf8");
      if (type === "L") longName = data.replace(/\0+$/, "");
      else pax = parsePax(data);
      continue;
    }
    if (type === "g") continue; // global pax header: nothing we use
    const name = longName ?? pax.path ?? headerName(h);
    longName = undefined;
    pax = {};
    members.push({ name: normalise(name), type, offset: dataOffset, size });
  }
}

export async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) throw new Error(`unexpected end of archive at offset ${position + done}`);
    done += bytesRead;
  }
  return buffer;
}

export function openTar(path: string): Promise<FileHandle> {
  return open(path, "r");
}

function headerName(h: Buffer): string {
  const base = cString(h.subarray(0, 100));
  // Only POSIX ustar ("ustar\0") has a name prefix there; GNU tar ("ustar  ") keeps other fields in it.
  const posix = h.subarray(257, 263).toString("latin1") === "ustar\0";
  const prefix = posix ? cString(h.subarray(345, 500)) : "";
  return prefix ? `${prefix}/${base}` : base;
}

/** `./blobs/sha256/x` (GNU tar -C dir .) and `blobs/` name the same things as `blobs/sha256/x` and `blobs`. */
function normalise(name: string): string {
  return name.replace(/^(\.\/)+/, "").replace(/\/+$/, "");
}

function cString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.subarray(0, end < 0 ? b.length : end).toString("utf8");
}

function parseSize(field: Buffer): number {
  if ((field[0] ?? 0) & 0x80) {
    let v = 0n;
    for (let i = 1; i < field.length; i++) v = (v << 8n) | BigInt(field[i] ?? 0);
    return Number(v);
  }
  const text = cString(field).trim();
  return text ? Number.parseInt(text, 8) : 0;
}

function checkChecksum(h: Buffer, position: number): void {
  const stored = Number.parseInt(cString(h.subarray(148, 156)).trim(), 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (h[i] ?? 0);
  if (stored !== sum)
    throw new Error(`tar header at offset ${position} has a bad checksum (not a tar archive, or corrupt)`);
}

/** pax records: "<length> <key>=<value>\n". */
function parsePax(data: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of data.split("\n")) {
    const m = /^\d+ ([^=]+)=(.*)$/s.exec(line);
    if (m?.[1]) out[m[1]] = m[2] ?? "";
  }
  return out;
}

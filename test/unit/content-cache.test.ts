import { appendFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ContentCache } from "../../src/inventory/content-cache.js";
import { packRecord, readPack } from "../../src/inventory/pack.js";
import { type Digest, sha256Digest } from "../../src/oci/digest.js";

const body = (text: string) => Buffer.from(JSON.stringify({ schemaVersion: 2, text }));
const entry = (text: string): [Digest, Buffer] => {
  const b = body(text);
  return [sha256Digest(b), b];
};
const packOf = (...entries: [Digest, Buffer][]) =>
  Buffer.concat(entries.map(([d, b]) => packRecord(d, b).record));

describe("packs of bodies", () => {
  it("reads back every record it wrote", () => {
    const a = entry("a");
    const b = entry("b");
    expect(readPack(packOf(a, b))).toEqual(new Map([a, b]));
  });

  it("skips a torn record and still finds what later appends added", () => {
    const a = entry("a");
    const torn = packOf(entry("torn")).subarray(0, 90);
    const c = entry("c");
    expect(readPack(Buffer.concat([packOf(a), torn, packOf(c)]))).toEqual(new Map([a, c]));
  });

  it("drops a body that does not hash to its digest, and a record whose length runs past the end", () => {
    const [digest, good] = entry("good");
    const tampered = Buffer.from(good);
    tampered[5] = tampered[5] === 0x61 ? 0x62 : 0x61;
    const b = entry("b");
    expect(readPack(Buffer.concat([packOf([digest, tampered]), packOf(b)]))).toEqual(new Map([b]));
    const long = Buffer.from(`${b[0]} 999999\n${b[1].toString()}`);
    expect(readPack(long).size).toBe(0);
  });
});

describe("the content cache", () => {
  const newDir = () => mkdtemp(join(tmpdir(), "regsweep-cache-"));
  /** Puts the bodies into a repository's cache and appends them to its pack. */
  const store = (cache: ContentCache, repository: string, ...entries: [Digest, Buffer][]) => {
    const r = cache.bodies("reg", repository);
    for (const [d, b] of entries) r.put(d, b);
    r.flush();
    return r;
  };
  /** The one pack a test wrote. */
  const onlyPack = (dir: string) =>
    join(dir, "repositories", readdirSync(join(dir, "repositories"))[0] as string);

  it("keeps one pack per repository, not a file per body, and a later run reads bodies from it", async () => {
    const dir = await newDir();
    const bodies = Array.from({ length: 30 }, (_, i) => entry(`body ${i}`));
    store(new ContentCache(dir), "repo", ...bodies);
    expect(readdirSync(join(dir, "repositories"))).toHaveLength(1);
    const again = new ContentCache(dir).bodies("reg", "repo");
    for (const [d, b] of bodies) expect(again.get(d)).toEqual(b);
    expect(new ContentCache(dir).bodies("reg", "other").get(bodies[0]?.[0] as Digest)).toBeUndefined();
  });

  it("lends a body one repository stored to another repository of the same run", async () => {
    const dir = await newDir();
    const cache = new ContentCache(dir);
    const [d, b] = entry("shared config");
    store(cache, "a", [d, b]);
    expect(cache.bodies("reg", "b").get(d)).toEqual(b);
  });

  it("a body corrupted on disk is a miss, never wrong data", async () => {
    const dir = await newDir();
    const cache = new ContentCache(dir);
    const [d, b] = entry("to corrupt");
    store(cache, "a", [d, b]);
    const pack = onlyPack(dir);
    const bytes = readFileSync(pack);
    bytes.writeUInt8((bytes.at(-3) ?? 0) ^ 1, bytes.length - 3);
    writeFileSync(pack, bytes);
    expect(cache.bodies("reg", "b").get(d)).toBeUndefined();
    expect(new ContentCache(dir).bodies("reg", "a").get(d)).toBeUndefined();
  });

  it("appends only bodies the pack does not hold, and what follows a killed run's garbage is found", async () => {
    const dir = await newDir();
    const [d, b] = entry("once");
    for (let run = 0; run < 3; run++) {
      const r = new ContentCache(dir).bodies("reg", "a");
      if (!r.get(d)) r.put(d, b);
      r.put(d, b);
      r.flush();
    }
    const pack = onlyPack(dir);
    expect(readFileSync(pack).byteLength).toBe(packRecord(d, b).record.byteLength);
    appendFileSync(pack, "garbage after a killed run");
    const [d2, b2] = entry("after garbage");
    store(new ContentCache(dir), "a", [d2, b2]);
    const later = new ContentCache(dir).bodies("reg", "a");
    expect([later.get(d), later.get(d2)]).toEqual([b, b2]);
  });

  it("without a directory stores nothing", () => {
    const [d, b] = entry("x");
    expect(store(new ContentCache(undefined), "a", [d, b]).get(d)).toBeUndefined();
  });
});

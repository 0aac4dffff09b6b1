import { appendFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ContentCache, type RepositoryState } from "../../src/inventory/content-cache.js";
import { packChunk, readPack, stateRecord } from "../../src/inventory/pack.js";
import { type Digest, sha256Digest } from "../../src/oci/digest.js";

const body = (text: string) => Buffer.from(JSON.stringify({ schemaVersion: 2, text }));
const entry = (text: string): [Digest, Buffer] => {
  const b = body(text);
  return [sha256Digest(b), b];
};
const packOf = (...entries: [Digest, Buffer][]) => packChunk(entries, undefined).bytes;
const stateOf = (text: string) => stateRecord(Buffer.from(JSON.stringify({ text })));

describe("packs of bodies", () => {
  it("reads back every record it wrote", () => {
    const a = entry("a");
    const b = entry("b");
    expect(readPack(packOf(a, b)).bodies).toEqual(new Map([a, b]));
  });

  it("skips a torn record and still finds what later appends added", () => {
    const a = entry("a");
    const torn = packOf(entry("torn")).subarray(0, 90);
    const c = entry("c");
    expect(readPack(Buffer.concat([packOf(a), torn, packOf(c)])).bodies).toEqual(new Map([a, c]));
  });

  it("keeps bodies unchecked (the store hashes one when it is used), but drops a record whose length runs past the end", () => {
    const [digest, good] = entry("good");
    const tampered = Buffer.from(good);
    tampered[5] = tampered[5] === 0x61 ? 0x62 : 0x61;
    const b = entry("b");
    expect(readPack(Buffer.concat([packOf([digest, tampered]), packOf(b)])).bodies).toEqual(
      new Map([[digest, tampered], b]),
    );
    const long = Buffer.from(`${b[0]} 999999\n${b[1].toString()}`);
    expect(readPack(long).bodies.size).toBe(0);
    // Stored again after a bad copy: the later record wins, and the earlier one is dead.
    const twice = readPack(Buffer.concat([packOf([digest, tampered]), packOf([digest, good])]));
    expect(twice.bodies.get(digest)).toEqual(good);
    expect(twice.deadBytes).toBe(packOf([digest, tampered]).byteLength);
  });

  it("takes the last state that hashes, and counts the earlier ones and garbage as dead", () => {
    const a = entry("a");
    const first = stateOf("first");
    const second = stateOf("second");
    const third = stateOf("third");
    const tornThird = third.subarray(0, third.byteLength - 3);
    const pack = readPack(Buffer.concat([packOf(a), first, second, tornThird]));
    expect(pack.state?.toString()).toBe(JSON.stringify({ text: "second" }));
    expect(pack.bodies).toEqual(new Map([a]));
    expect(pack.stateRecordBytes).toBe(second.byteLength);
    expect(pack.deadBytes).toBe(first.byteLength + tornThird.byteLength);
    const tampered = Buffer.from(second);
    tampered.writeUInt8((tampered.at(-3) ?? 0) ^ 1, tampered.length - 3);
    expect(readPack(Buffer.concat([first, tampered])).state?.toString()).toBe(
      JSON.stringify({ text: "first" }),
    );
  });
});

const stateJsonOf = (tag: string, [digest]: [Digest, Buffer]) => ({ tags: { [tag]: digest }, nodes: {} });

describe("the content cache", () => {
  const newDir = () => mkdtemp(join(tmpdir(), "regsweep-cache-"));
  /** Puts the bodies into a repository's cache and appends them to its pack. */
  const store = async (cache: ContentCache, repository: string, ...entries: [Digest, Buffer][]) => {
    const r = await cache.repository("reg", repository);
    for (const [d, b] of entries) r.put(d, b);
    await r.close();
    return r;
  };
  const open = (dir: string | undefined, repository: string) =>
    new ContentCache(dir).repository("reg", repository);
  /** The one pack a test wrote. */
  const onlyPack = (dir: string) =>
    join(dir, "repositories", readdirSync(join(dir, "repositories"))[0] as string);

  it("keeps one pack per repository, not a file per body, and a later run reads bodies from it", async () => {
    const dir = await newDir();
    const bodies = Array.from({ length: 30 }, (_, i) => entry(`body ${i}`));
    await store(new ContentCache(dir), "repo", ...bodies);
    expect(readdirSync(join(dir, "repositories"))).toHaveLength(1);
    const again = await open(dir, "repo");
    for (const [d, b] of bodies) expect(again.get(d)).toEqual(b);
    expect((await open(dir, "other")).get(bodies[0]?.[0] as Digest)).toBeUndefined();
  });

  it("lends a body one repository stored to another repository of the same run", async () => {
    const dir = await newDir();
    const cache = new ContentCache(dir);
    const [d, b] = entry("shared config");
    await store(cache, "a", [d, b]);
    expect((await cache.repository("reg", "b")).get(d)).toEqual(b);
  });

  it("a body corrupted on disk is a miss, never wrong data", async () => {
    const dir = await newDir();
    const cache = new ContentCache(dir);
    const [d, b] = entry("to corrupt");
    await store(cache, "a", [d, b]);
    const pack = onlyPack(dir);
    const bytes = readFileSync(pack);
    bytes.writeUInt8((bytes.at(-3) ?? 0) ^ 1, bytes.length - 3);
    writeFileSync(pack, bytes);
    expect((await cache.repository("reg", "b")).get(d)).toBeUndefined();
    const again = await open(dir, "a");
    expect(again.get(d)).toBeUndefined();
    // The bad copy does not stand in the way of a good one: it is stored again, and found next time.
    again.put(d, b);
    await again.close();
    expect((await open(dir, "a")).get(d)).toEqual(b);
  });

  it("appends only bodies the pack does not hold, and what follows a killed run's garbage is found", async () => {
    const dir = await newDir();
    const [d, b] = entry("once");
    for (let run = 0; run < 3; run++) {
      const r = await open(dir, "a");
      if (!r.get(d)) r.put(d, b);
      r.put(d, b);
      await r.close();
    }
    const pack = onlyPack(dir);
    expect(readFileSync(pack).byteLength).toBe(packChunk([[d, b]], undefined).bytes.byteLength);
    appendFileSync(pack, "garbage after a killed run");
    const [d2, b2] = entry("after garbage");
    await store(new ContentCache(dir), "a", [d2, b2]);
    const later = await open(dir, "a");
    expect([later.get(d), later.get(d2)]).toEqual([b, b2]);
  });

  it("without a directory stores nothing", async () => {
    const [d, b] = entry("x");
    expect((await store(new ContentCache(undefined), "a", [d, b])).get(d)).toBeUndefined();
  });

  const stateWith = (tag: string, ...nodes: [Digest, Buffer][]): RepositoryState => ({
    tags: new Map([[tag, nodes[0]?.[0] as Digest]]),
    nodes: new Map(
      nodes.map(([digest, b]) => [
        digest,
        {
          node: {
            digest,
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            tags: [],
            manifestSize: b.byteLength,
            blobs: [],
            children: [],
            ageSource: "unknown" as const,
            sizeBytes: b.byteLength,
          },
        },
      ]),
    ),
  });

  it("keeps a repository's state in its pack, after the bodies it names, in the same file", async () => {
    const dir = await newDir();
    const a = entry("manifest a");
    const r = await open(dir, "repo");
    expect(r.state.nodes.size).toBe(0);
    r.put(...a);
    await r.close(stateWith("v1", a));
    expect(readdirSync(join(dir, "repositories"))).toHaveLength(1);
    const again = await open(dir, "repo");
    expect([...again.state.tags]).toEqual([["v1", a[0]]]);
    expect(again.state.nodes.get(a[0])?.node.manifestSize).toBe(a[1].byteLength);
    expect(again.get(a[0])).toEqual(a[1]);
    expect((await open(dir, "other")).state.nodes.size).toBe(0);
  });

  it("a later state wins; a torn one leaves the one before; a pack mostly dead is rewritten with what the state names", async () => {
    const dir = await newDir();
    const a = entry("manifest a");
    const b = entry("manifest b");
    const first = await open(dir, "repo");
    first.put(...a);
    first.put(...b);
    await first.close(stateWith("v1", a, b));
    const pack = onlyPack(dir);
    const second = await open(dir, "repo");
    await second.close(stateWith("v2", a));
    expect([...(await open(dir, "repo")).state.tags.keys()]).toEqual(["v2"]);
    appendFileSync(pack, stateRecord(Buffer.from(JSON.stringify(stateJsonOf("v3", a)))).subarray(0, 120));
    expect([...(await open(dir, "repo")).state.tags.keys()]).toEqual(["v2"]);
    // Each further state makes the earlier ones dead: the pack stays bounded, and only what the
    // state names survives a rewrite.
    for (let run = 0; run < 6; run++) await (await open(dir, "repo")).close(stateWith(`run${run}`, a));
    const last = await open(dir, "repo");
    expect([...last.state.tags.keys()]).toEqual(["run5"]);
    expect(last.get(a[0])).toEqual(a[1]);
    expect(last.get(b[0])).toBeUndefined();
    const read = readPack(readFileSync(pack));
    expect(read.deadBytes).toBeLessThanOrEqual(read.bytes / 2);
    expect(readdirSync(join(dir, "repositories"))).toHaveLength(1);
  });
});

/**
 * Plan, stdout and audit JSON are streamed (issue 13): the same bytes JSON.stringify(x, null, 2)
 * gives, written entry by entry; read back entry by entry with each entry checked; any valid JSON
 * layout reads, wherever the chunks are cut.
 */
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { BENCH_POLICY } from "../../bench/plan-scale.js";
import { SYNTHETIC_NOW, syntheticInventory } from "../../bench/synthetic-inventory.js";
import { writeAudit } from "../../src/apply/audit.js";
import { parseJsonObject } from "../../src/apply/json-reader.js";
import { jsonChunks } from "../../src/apply/json-writer.js";
import { planId } from "../../src/pipeline/apply.js";
import { plan } from "../../src/pipeline/plan.js";
import { printPlan, readPlan, writePlan } from "../../src/pipeline/plan-file.js";
import { type Plan, planSchema } from "../../src/plan/plan-schema.js";

function samplePlan(manifests = 600): Plan {
  const s = syntheticInventory({ manifests, repositories: 12 });
  const made = plan({ inventory: s.inventory, usages: s.usages, policy: BENCH_POLICY, now: SYNTHETIC_NOW });
  // Text a writer must escape, and a field that is absent rather than null.
  made.warnings.push('a "quoted" warning\nover two lines, ünïcode and \u2028');
  return made;
}

const dir = () => mkdtemp(join(tmpdir(), "regsweep-plan-file-"));

/** A stream that records the size of every write. */
function collector() {
  const writes: string[] = [];
  const out = new Writable({
    highWaterMark: 1024,
    write(chunk, _enc, done) {
      writes.push(String(chunk));
      setImmediate(done);
    },
  });
  return { out, writes };
}

describe("writing JSON piece by piece", () => {
  it("gives JSON.stringify(value, null, 2)'s bytes for any JSON object", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (value) => {
        expect([...jsonChunks(value)].join("")).toBe(JSON.stringify(value, null, 2));
      }),
      { numRuns: 300 },
    );
  });

  it("drops undefined fields and writes undefined array entries as null, as JSON.stringify does", () => {
    const value = { a: undefined, b: [undefined, 1, { c: undefined }], d: { e: [] }, f: {}, g: new Date(0) };
    expect([...jsonChunks(value)].join("")).toBe(JSON.stringify(value, null, 2));
  });

  it("writes a plan file byte for byte as JSON.stringify(plan, null, 2) and a newline", async () => {
    const p = samplePlan();
    const path = join(await dir(), "nested", "plan.json");
    await writePlan(p, path);
    expect(await readFile(path, "utf8")).toBe(`${JSON.stringify(p, null, 2)}\n`);
    expect(await readdir(join(path, ".."))).toEqual(["plan.json"]);
  });

  it("prints a plan to a stream in small writes, waiting for it to drain, never as one string", async () => {
    const p = samplePlan(3000);
    const { out, writes } = collector();
    await printPlan(p, out);
    const text = `${JSON.stringify(p, null, 2)}\n`;
    expect(writes.join("")).toBe(text);
    expect(writes.length).toBeGreaterThan(10);
    expect(Math.max(...writes.map((w) => w.length))).toBeLessThan(80 * 1024);
  });
});

describe("reading JSON piece by piece", () => {
  const layouts = [
    (v: unknown) => JSON.stringify(v),
    (v: unknown) => JSON.stringify(v, null, 2),
    (v: unknown) => ` \r\n${JSON.stringify(v, null, "\t")}\n\n`,
  ];

  it("reads any JSON object in any layout, cut into chunks anywhere, as JSON.parse does", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.string(), fc.jsonValue()),
        fc.integer({ min: 0, max: 2 }),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 5 }),
        async (value, layout, cuts) => {
          const bytes = Buffer.from((layouts[layout] as (v: unknown) => string)(value));
          const chunks: Buffer[] = [];
          for (let at = 0, k = 0; at < bytes.length; k++) {
            const size = cuts[k % cuts.length] as number;
            chunks.push(bytes.subarray(at, at + size));
            at += size;
          }
          expect(await parseJsonObject(chunks)).toEqual(JSON.parse(bytes.toString()));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("ends a string at a quote only after an even run of backslashes, however the chunks cut the run", async () => {
    const value = {
      a: ["\\", '\\"', '\\\\"\\', 'x\\\\\\"y', '"', '""\\'],
      'k\\"\\\\': { "\\": '\\\\"' },
      b: "\\".repeat(9),
    };
    const bytes = Buffer.from(JSON.stringify(value, null, 2));
    for (const size of [1, 2, 3, 5]) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
      expect(await parseJsonObject(chunks)).toEqual(value);
    }
  });

  /** The bytes cut into chunks of the sizes given, in turn. */
  const cut = (bytes: Buffer, sizes: number[]) => {
    const chunks: Buffer[] = [];
    for (let at = 0, k = 0; at < bytes.length; k++) {
      const size = sizes[k % sizes.length] as number;
      chunks.push(bytes.subarray(at, at + size));
      at += size;
    }
    return chunks;
  };

  it("reads arrays of indented objects in runs, as JSON.parse does, with each entry seen once in order", async () => {
    const entry = fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 }));
    await fc.assert(
      fc.asyncProperty(
        fc.array(entry, { maxLength: 40 }),
        fc.array(entry, { maxLength: 40 }),
        fc.constantFrom(2, "\t", 4),
        fc.array(fc.integer({ min: 1, max: 20_000 }), { minLength: 1, maxLength: 4 }),
        async (first, second, indent, sizes) => {
          const value = { a: first, n: 1, b: second };
          const bytes = Buffer.from(JSON.stringify(value, null, indent));
          const seen: string[] = [];
          const read = await parseJsonObject(cut(bytes, sizes), (field, e, index) => {
            seen.push(`${field}${index}`);
            return e;
          });
          expect(read).toEqual(JSON.parse(bytes.toString()));
          expect(seen).toEqual([...first.map((_, i) => `a${i}`), ...second.map((_, i) => `b${i}`)]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("reads a layout whose braces mislead the runs as JSON.parse does, and refuses one that is not JSON", async () => {
    const misleading = [
      // A deeper object closes at the entries' indent, last in the run.
      '{"a": [\n  {"x": 1},\n  {"x": {\n  }, "y": [2]}\n], "b": [\n  {"z": 3}\n  ]}',
      // ... and first.
      '{"a": [\n  {"x": {\n  }, "y": 1},\n  {"x": 2\n  }\n]}',
      // Compact entries, then one that closes at the indent: two values in one run.
      '{"a": [\n  {"x": 1},{"y": 2\n  },\n  {"z": "\\n  }"\n  }\n]}',
    ];
    for (const text of misleading) {
      for (const size of [3, 1 << 20]) {
        expect(await parseJsonObject(cut(Buffer.from(text), [size])), text).toEqual(JSON.parse(text));
      }
    }
    for (const bad of [
      // A raw newline inside a string, where a run would end.
      '{"a": [\n  {"x": "1\n  }"\n  }\n]}',
      '{"a": [\n  {"x": 1\n  }\n  {"y": 2\n  }\n]}',
      '{"a": [\n  {"x": 1\n  },\n]}',
    ]) {
      expect(() => JSON.parse(bad), bad).toThrow(SyntaxError);
      await expect(parseJsonObject([bad]), bad).rejects.toThrow(SyntaxError);
    }
  });

  it("parses a written plan's entries many at a time, not one JSON.parse each", async () => {
    const p = samplePlan(2000);
    const bytes = Buffer.from(JSON.stringify(p, null, 2));
    const parse = vi.spyOn(JSON, "parse");
    try {
      const read = await parseJsonObject(cut(bytes, [1 << 20]));
      expect((read.delete as unknown[]).length + (read.keep as unknown[]).length).toBe(2000);
      expect(parse.mock.calls.length).toBeLessThan(2000 / 10);
    } finally {
      parse.mockRestore();
    }
  });

  it("refuses what is not one JSON object, as JSON.parse would", async () => {
    for (const bad of [
      '{"a": [1, 2}',
      '{"a": 1',
      '{"a": 1} {}',
      "[1, 2]",
      '{"a": [1,]}',
      '{"a" 1}',
      '{"a": tru}',
      "",
    ]) {
      await expect(parseJsonObject([bad]), bad).rejects.toThrow(SyntaxError);
    }
  });

  it("reads back the plan it wrote as the whole-file reader did: same plan, same key order, same plan id", async () => {
    const p = samplePlan();
    const path = join(await dir(), "plan.json");
    await writePlan(p, path);
    const back = await readPlan(path);
    const before = planSchema.parse(JSON.parse(await readFile(path, "utf8")));
    expect(back).toEqual(p);
    expect(JSON.stringify(back)).toBe(JSON.stringify(before));
    expect(planId(back)).toBe(planId(before));
  });

  it("names the entry and field of a plan that is not valid", async () => {
    const p = samplePlan(100);
    const path = join(await dir(), "plan.json");
    const broken = { ...p, delete: p.delete.map((d, i) => (i === 2 ? { ...d, digest: "sha256:nope" } : d)) };
    await writeFile(path, JSON.stringify(broken));
    await expect(readPlan(path)).rejects.toThrow(
      /plan\.json is not a regsweep plan \(version 1\): delete\.2\.digest: not a sha256 digest/,
    );
    await writeFile(path, JSON.stringify({ ...p, version: 2 }));
    await expect(readPlan(path)).rejects.toThrow(/not a regsweep plan \(version 1\): version/);
    const { keep: _keep, ...noKeep } = p;
    await writeFile(path, JSON.stringify(noKeep));
    await expect(readPlan(path)).rejects.toThrow(/not a regsweep plan \(version 1\): keep:/);
    await writeFile(path, JSON.stringify(p).slice(0, 5000));
    await expect(readPlan(path)).rejects.toThrow(
      /not a regsweep plan \(version 1\): Unexpected end of JSON input/,
    );
    await expect(readPlan(join(path, "..", "missing.json"))).rejects.toThrow(
      /^cannot read plan .*missing\.json: ENOENT/,
    );
  });
});

describe("the audit record", () => {
  it("is written whole, one JSON document, never over another run's record", async () => {
    const p = samplePlan();
    const audits = await dir();
    const input = {
      mode: "dry-run" as const,
      command: "purge",
      plan: p,
      results: [],
      startedAt: SYNTHETIC_NOW,
      finishedAt: SYNTHETIC_NOW,
      configuration: { filter: [".*:.*"] },
    };
    const first = await writeAudit(audits, input);
    const second = await writeAudit(audits, input);
    expect(second).not.toBe(first);
    expect(second.endsWith("_1.json")).toBe(true);
    const text = await readFile(first, "utf8");
    const record = JSON.parse(text);
    expect(text).toBe(`${JSON.stringify(record, null, 2)}\n`);
    expect(record.manifests.map((m: { digest: string }) => m.digest)).toEqual(p.delete.map((d) => d.digest));
    expect(record.manifests[0].result).toEqual({ status: "dry-run" });
    expect(record.summary.selected).toBe(p.delete.length);
    expect((await readdir(audits)).sort()).toEqual(
      [first, second].map((f) => f.slice(audits.length + 1)).sort(),
    );
  });
});

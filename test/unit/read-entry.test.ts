/**
 * EntryReader: the plan reader's fast check of delete[] and keep[] entries. It must accept only what
 * the entry schema accepts and give exactly what the schema's parse gives (fields, values, key
 * order: the plan id hashes them), while keeping what entries repeat once.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BENCH_POLICY } from "../../bench/plan-scale.js";
import { SYNTHETIC_NOW, syntheticInventory } from "../../bench/synthetic-inventory.js";
import { plan } from "../../src/pipeline/plan.js";
import { deleteEntrySchema, keepEntrySchema } from "../../src/plan/plan-schema.js";
import { EntryReader } from "../../src/plan/read-entry.js";

const synthetic = syntheticInventory({ manifests: 400, repositories: 4 });
const made = plan({
  inventory: synthetic.inventory,
  usages: synthetic.usages,
  policy: BENCH_POLICY,
  now: SYNTHETIC_NOW,
});
const schemas = { delete: deleteEntrySchema, keep: keepEntrySchema } as const;
/** As readPlan sees an entry: what JSON.parse made of the written text, with an owner on some. */
const asRead = (field: "delete" | "keep") =>
  made[field].map((e, i) => JSON.parse(JSON.stringify(i % 7 === 0 ? { owner: "team-a", ...e } : e)));

describe("EntryReader", () => {
  it("gives what the entry schema gives for every entry of a plan, key order included", () => {
    for (const field of ["delete", "keep"] as const) {
      const reader = new EntryReader();
      const entries = asRead(field);
      expect(
        entries.some((e) => e.children || e.subject || e.reasons.some((r: { source?: string }) => r.source)),
      ).toBe(true);
      for (const raw of entries) {
        const fast = reader.read(field, raw);
        expect(fast).toBeDefined();
        expect(JSON.stringify(fast)).toBe(JSON.stringify(schemas[field].parse(raw)));
      }
    }
  });

  it("never accepts what the schema refuses, and never gives other than the schema", () => {
    const keys = [
      "repository",
      "digest",
      "tags",
      "mediaType",
      "created",
      "ageSource",
      "sizeBytes",
      "reasons",
      "blobs",
      "owner",
      "children",
      "subject",
      "extra",
    ];
    const odd = fc.oneof(
      fc.jsonValue(),
      fc.constantFrom(-1, 1.5, 2 ** 60, "sha256:nope", `sha256:${"A".repeat(64)}`, "", null, [], {}, [{}]),
      fc.constantFrom(
        [{ rule: "r" }],
        [{ rule: "r", detail: "d", source: 1 }],
        [],
        [{ digest: "x", size: 1 }],
      ),
    );
    const deleteEntries = asRead("delete");
    const keepEntries = asRead("keep");
    fc.assert(
      fc.property(
        fc.constantFrom("delete" as const, "keep" as const),
        fc.nat(),
        fc.constantFrom(...keys),
        fc.constantFrom("set", "remove", "set-in-first-reason", "set-in-first-blob"),
        odd,
        (field, at, key, how, value) => {
          const list = field === "delete" ? deleteEntries : keepEntries;
          const entry = structuredClone(list[at % list.length]);
          if (how === "set") entry[key] = value;
          else if (how === "remove") delete entry[key];
          else if (how === "set-in-first-reason")
            entry.reasons[0][key === "digest" ? "rule" : "detail"] = value;
          else if (entry.blobs?.[0]) entry.blobs[0][key === "digest" ? "digest" : "size"] = value;
          const fast = new EntryReader().read(field, entry);
          const slow = schemas[field].safeParse(entry);
          if (fast === undefined) return;
          expect(slow.success).toBe(true);
          expect(JSON.stringify(fast)).toBe(JSON.stringify(slow.data));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("keeps a shared layer, a repository name and a repeated reason once across entries", () => {
    const reader = new EntryReader();
    const read = asRead("delete").map((e) => reader.read("delete", e));
    const layer = (e: (typeof read)[number]) => e?.blobs?.[2];
    const sameLayer = read.filter((e) => layer(e)?.digest === layer(read[0])?.digest);
    expect(sameLayer.length).toBeGreaterThan(1);
    expect(new Set(sameLayer.map(layer)).size).toBe(1);
    const followers = read.flatMap(
      (e) => e?.reasons.filter((r) => r.rule === "child-of-deleted-index") ?? [],
    );
    expect(followers.length).toBeGreaterThan(1);
    expect(new Set(followers).size).toBe(1);
    // An entry's own body shares the entry's digest string rather than a second copy of it.
    expect(read.every((e) => e?.blobs?.[0]?.digest === e?.digest)).toBe(true);
  });

  it("keeps a layer used throughout one object however many blobs seen once come between", () => {
    const reader = new EntryReader();
    const hex = (n: number) => n.toString(16).padStart(64, "0");
    const template = asRead("delete").find((e) => !e.children && !e.subject);
    const base = { digest: `sha256:${"b".repeat(64)}`, size: 7 };
    const layers = new Set();
    // More one-off configs than the reader's two generations of recent blobs (2 × 2^16) hold.
    for (let i = 0; i < 140_000; i++) {
      const digest = `sha256:${hex(2 * i)}`;
      const config = { digest: `sha256:${hex(2 * i + 1)}`, size: 100 + i };
      const blobs = [{ digest, size: 1 }, config, ...(i % 50 === 0 ? [{ ...base }] : [])];
      const read = reader.read("delete", { ...template, digest, blobs });
      if (i % 1000 === 0) expect(read?.blobs?.[1]).toEqual(config);
      if (i % 50 === 0) layers.add(read?.blobs?.[2]);
    }
    expect(layers.size).toBe(1);
    expect([...layers][0]).toEqual(base);
  });
});

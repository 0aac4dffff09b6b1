import { describe, expect, it } from "vitest";
import { parseReference } from "../../src/oci/reference.js";
import { type DominoDatabase, type DominoOptions, dominoFindings } from "../../src/usage/domino-usage.js";
import { parseObjectIds } from "../../src/usage/object-ids.js";

const NOW = new Date("2026-12-01T00:00:00Z");
const daysAgo = (n: number) => new Date(NOW.getTime() - n * 86_400_000);
const hex = (n: number) => n.toString(16).padStart(24, "0");

// Environment 1: revisions 11 (old), 12 (active). Environment 2 (private, user 9): revision 21 (active).
// Environment 3 (archived): revision 31. Model 5: versions 51, 52. Model 6 (archived): version 61.
const E1 = hex(1);
const E2 = hex(2);
const E3 = hex(3);
const R11 = hex(11);
const R12 = hex(12);
const R21 = hex(21);
const R31 = hex(31);
const M5 = hex(5);
const M6 = hex(6);
const V51 = hex(51);
const V61 = hex(61);
const U9 = hex(9);

function database(over: Partial<DominoDatabase> = {}): DominoDatabase {
  return {
    environments: [
      { id: E1, activeRevisionId: R12, archived: false, private: false, ownerId: U9 },
      { id: E2, activeRevisionId: R21, archived: false, private: true, ownerId: U9 },
      { id: E3, activeRevisionId: R31, archived: true, private: false },
    ],
    revisions: [
      { id: R11, environmentId: E1, image: "env:e1-1" },
      { id: R12, environmentId: E1, image: "env:e1-2" },
      { id: R21, environmentId: E2, image: "env:e2-1" },
      { id: R31, environmentId: E3, image: "env:e3-1" },
    ],
    models: [
      { id: M5, archived: false, ownerId: U9 },
      { id: M6, archived: true },
    ],
    modelVersions: [
      { id: V51, modelId: M5, images: ["dominodatalab/model:m5-v1"] },
      { id: V61, modelId: M6, images: ["dominodatalab/model:m6-v1"] },
    ],
    runs: [],
    references: [],
    userNames: new Map([[U9, "ada"]]),
    projectOwners: new Map(),
    ...over,
  };
}

function kept(db: DominoDatabase, options: Partial<DominoOptions> = {}) {
  const found = dominoFindings(db, {
    source: "domino",
    database: "domino",
    now: NOW,
    toReference: (raw) => ({ reference: parseReference(`reg.example/${raw}`), raw }),
    ...options,
  });
  return { ...found, tags: [...new Set(found.usages.map((u) => u.raw))].sort() };
}

describe("the Domino preset's rules", () => {
  it("keeps active revisions and versions of models not archived; old revisions and archived objects go", () => {
    expect(kept(database()).tags).toEqual(["dominodatalab/model:m5-v1", "env:e1-2", "env:e2-1"]);
  });

  it("a run keeps its revision, unless --unused-since-days says it was last used too long ago", () => {
    const db = database({
      runs: [
        { id: "run-old", environmentIds: [E1], revisionIds: [R11], lastUsed: daysAgo(200) },
        { id: "run-new", environmentIds: [E3], revisionIds: [R31], lastUsed: daysAgo(10) },
      ],
    });
    expect(kept(db).tags).toContain("env:e1-1");
    const since = kept(db, { unusedSinceDays: 90 });
    expect(since.tags).not.toContain("env:e1-1");
    expect(since.tags).toContain("env:e3-1");
    expect(since.usages.find((u) => u.raw === "env:e3-1")?.source).toMatch(
      /domino\.runs run-new \(last used/,
    );
  });

  it("a revision many runs used keeps with a few reasons and a count, not one reason per run", () => {
    const runs = Array.from({ length: 1000 }, (_, i) => ({
      id: `run-${i}`,
      environmentIds: [],
      revisionIds: [R11],
      lastUsed: daysAgo(1),
    }));
    const reasons = kept(database({ runs })).usages.filter((u) => u.raw === "env:e1-1");
    expect(reasons).toHaveLength(3);
    expect(reasons[2]?.source).toMatch(/run-2 \(last used .*\) \(and 997 more runs records\)$/);
  });

  it("a run without any time keeps, whatever --unused-since-days says (it may be running)", () => {
    const db = database({ runs: [{ id: "r", environmentIds: [], revisionIds: [R11] }] });
    expect(kept(db, { unusedSinceDays: 1 }).tags).toContain("env:e1-1");
  });

  it("any other record naming an environment keeps its active revision; naming a revision keeps that one", () => {
    const db = database({
      references: [
        {
          collection: "scheduler_jobs",
          id: "j1",
          ids: [{ path: "jobDataPlain.overrideEnvironmentId", id: E3 }],
        },
        { collection: "workspace", id: "w1", ids: [{ path: "environmentRevisionId", id: R11 }] },
      ],
    });
    const found = kept(db);
    expect(found.tags).toContain("env:e3-1");
    expect(found.tags).toContain("env:e1-1");
    expect(found.usages.find((u) => u.raw === "env:e3-1")?.source).toBe(
      "domino domino.scheduler_jobs j1 jobDataPlain.overrideEnvironmentId",
    );
  });

  it("a model's own records name its versions without keeping an archived model's images", () => {
    const db = database({
      references: [
        { collection: "models", id: M6, ids: [{ path: "activeVersionId", id: V61 }] },
        { collection: "model_versions", id: V61, ids: [{ path: "modelId", id: M6 }] },
      ],
    });
    expect(kept(db).tags).not.toContain("dominodatalab/model:m6-v1");
  });

  it("a private environment of a deactivated user is not kept by its own record, but still by others", () => {
    expect(kept(database(), { deactivated: new Set(["ada"]) }).tags).not.toContain("env:e2-1");
    // The public environment of the same user stays.
    expect(kept(database(), { deactivated: new Set(["ada"]) }).tags).toContain("env:e1-2");
    const used = database({
      references: [{ collection: "projects", id: "p", ids: [{ path: "overrideV2EnvironmentId", id: E2 }] }],
    });
    expect(kept(used, { deactivated: new Set([U9]) }).tags).toContain("env:e2-1");
  });

  it("unsure keeps: an environment without a known active revision keeps every revision; a missing record keeps", () => {
    const db = database({
      environments: [{ id: E1, archived: false, private: false }],
      revisions: [...database().revisions, { id: hex(40), image: "env:no-environment" }],
      modelVersions: [{ id: V51, modelId: hex(99), images: ["dominodatalab/model:orphan"] }],
    });
    const found = kept(db);
    expect(found.tags).toEqual(
      expect.arrayContaining([
        "env:e1-1",
        "env:e1-2",
        "env:e2-1",
        "env:no-environment",
        "dominodatalab/model:orphan",
      ]),
    );
  });

  it("owners: an environment's owner by user name, on kept images and on records alike", () => {
    const found = kept(database());
    expect(found.usages.find((u) => u.raw === "env:e1-2")?.owner).toBe("ada");
    expect(found.records.find((r) => r.reference.tag === "e1-1")?.owner).toBe("ada");
    expect(found.records.find((r) => r.reference.tag === "m5-v1")?.owner).toBe("ada");
  });

  it("--object-ids: the targeted objects' own records keep nothing, others still do; unknown ids are warned of", () => {
    const db = database({
      references: [{ collection: "workspace", id: "w", ids: [{ path: "environmentId", id: E2 }] }],
    });
    const found = kept(db, {
      targets: [
        { kind: "environment", id: E1 },
        { kind: "environment", id: E2 },
        { kind: "modelVersion", id: V51 },
        { kind: "model", id: hex(77) },
      ],
    });
    expect(found.tags).not.toContain("env:e1-2");
    expect(found.tags).toContain("env:e2-1"); // the workspace still uses it
    expect(found.tags).not.toContain("dominodatalab/model:m5-v1");
    const targeted = found.records.filter((r) => r.targeted).map((r) => r.reference.tag);
    expect(targeted.sort()).toEqual(["e1-1", "e1-2", "e2-1", "m5-v1"]);
    expect(found.warnings).toEqual([expect.stringContaining(`model:${hex(77)}: no such record`)]);
  });

  it("archive: an environment's clean-up rides on its active revision's image only", () => {
    const found = kept(database(), { archive: true });
    const withCleanup = found.records.filter((r) => r.cleanup).map((r) => [r.reference.tag, r.cleanup?.id]);
    expect(withCleanup).toEqual([
      ["e1-2", E1],
      ["e2-1", E2],
    ]);
    expect(found.records.find((r) => r.cleanup)?.cleanup?.change).toEqual({ set: { isArchived: true } });
  });
});

describe("--object-ids files", () => {
  it("reads kind:ObjectId lines with comments and blank lines", () => {
    expect(
      parseObjectIds(`# targets\nenvironment:${E1}\n\nmodelVersion:${V51.toUpperCase()} # old\n`, "f"),
    ).toEqual([
      { kind: "environment", id: E1 },
      { kind: "modelVersion", id: V51 },
    ]);
  });

  it("a line without a known prefix or a 24-hex id is refused, naming the line", () => {
    expect(() => parseObjectIds(`environment:${E1}\n${E1}\n`, "ids.txt")).toThrow(/ids\.txt:2: /);
    expect(() => parseObjectIds("project:0123456789abcdef01234567", "ids.txt")).toThrow(
      /ids\.txt:1: .*kinds/,
    );
    expect(() => parseObjectIds("model:123", "ids.txt")).toThrow(/ids\.txt:1/);
  });
});

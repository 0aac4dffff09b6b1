import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import type { ManifestNode } from "../../src/inventory/graph.js";
import { plan, purgePolicy } from "../../src/pipeline/plan.js";
import { daysAgo, decide, image, index, inventory, NOW, policy, repo } from "./builders.js";

const APP = "team/app";

/** A manifest as ACR lists it: pushed `created` days ago, last updated `updated` days ago. */
function acrImage(name: string, created: number, updated: number, tags: string[] = []): ManifestNode {
  return { ...image(name, { age: created, tags }), ageSource: "registry", updated: daysAgo(updated) };
}

describe("--keep with --untagged, as acr purge", () => {
  // t1..t3 tagged, u1 and u2 untagged; all older than --ago.
  const t1 = image("t1", { age: 50, tags: ["v1"] });
  const t2 = image("t2", { age: 40, tags: ["v2"] });
  const t3 = image("t3", { age: 30, tags: ["v3"] });
  const u1 = image("u1", { age: 55 });
  const u2 = image("u2", { age: 45 });

  it("keeps the newest N of the untagged manifests it would delete, counting those whose tags it removes", () => {
    const d = decide(repo(APP, t1, t2, t3, u1, u2), policy({ keep: 2, untagged: true, ago: 10 }));
    // The tagged keep: t3 and t2 are the two newest tagged images.
    expect(d.rules(t3)).toContain("keep-newest");
    expect(d.rules(t2)).toContain("keep-newest");
    // Then of what --untagged would delete (t1 with its tag removed, u1, u2), the two newest stay.
    expect(d.rules(u2)).toContain("keep-newest-untagged");
    expect(d.action(u1)).toBe("delete");
    expect(d.action(t1)).toBe("keep");
    expect(d.rules(t1)).toContain("keep-newest-untagged");
    expect(d.deleted()).toEqual([u1.digest]);
  });

  it("without --untagged, --keep counts only tagged images (acr purge deletes no untagged manifest then)", () => {
    const d = decide(repo(APP, t1, t2, t3), policy({ keep: 1, ago: 10 }));
    expect(d.deleted().sort()).toEqual([t1.digest, t2.digest].sort());
  });

  it("never lets the untagged keep count an index's children or a referrer", () => {
    const c1 = image("c1", { age: 60 });
    const c2 = image("c2", { age: 60 });
    const idx = index("idx", [c1, c2], { age: 60 });
    const d = decide(repo(APP, idx, c1, c2, u1), policy({ keep: 1, untagged: true, ago: 10 }));
    // The pool is idx and u1 (children follow their index): u1 is newer.
    expect(d.rules(u1)).toContain("keep-newest-untagged");
    expect(d.deleted().sort()).toEqual([idx.digest, c1.digest, c2.digest].sort());
  });
});

describe("--untagged-only (acr-cli#486)", () => {
  const tagged = image("tagged", { age: 90, tags: ["v1"] });
  const old1 = image("old1", { age: 80 });
  const old2 = image("old2", { age: 70 });

  it("deletes only untagged manifests, without selecting tags, with no --filter and no --ago", () => {
    const p = purgePolicy({ filters: [], untaggedOnly: true });
    const d = decide(repo(APP, tagged, old1, old2), p);
    expect(d.rules(tagged)).toEqual(["tagged"]);
    expect(d.deleted().sort()).toEqual([old1.digest, old2.digest].sort());
  });

  it("ignores the tag part of a filter but keeps its repository part", () => {
    const p = purgePolicy({ filters: ["team/.*:^nomatch$"], untaggedOnly: true });
    expect(decide(repo(APP, old1), p).action(old1)).toBe("delete");
    expect(decide(repo("other/app", old1), p).action(old1)).toBe("keep");
  });

  it("applies --keep and --ago to the untagged manifests", () => {
    const young = image("young", { age: 1 });
    const p = purgePolicy({ filters: [], untaggedOnly: true, keep: 1, ago: "30d" });
    const d = decide(repo(APP, tagged, old1, old2, young), p);
    expect(d.rules(young)).toContain("too-recent");
    expect(d.rules(old2)).toContain("keep-newest-untagged");
    expect(d.deleted()).toEqual([old1.digest]);
  });

  it("contradicts --untagged, as in acr purge", () => {
    expect(() => purgePolicy({ filters: [".*:.*"], untagged: true, untaggedOnly: true })).toThrow(UsageError);
  });

  it("is recorded in the plan's options", () => {
    const made = plan({
      inventory: inventory(repo(APP, old1)),
      usages: [],
      policy: { filters: [], untaggedOnly: true },
      now: NOW,
    });
    expect(made.options).toMatchObject({ untaggedOnly: true, filters: [".*:.*"] });
    expect(made.delete.map((e) => e.digest)).toEqual([old1.digest]);
  });
});

describe("--ago as acr purge parses it", () => {
  it("accepts a negative duration: everything is old enough", () => {
    const fresh = image("fresh", { age: 0, tags: ["v1"] });
    const p = purgePolicy({ filters: [".*:.*"], ago: "-1d" });
    expect(decide(repo(APP, fresh), p).action(fresh)).toBe("delete");
  });

  it("caps a very large duration at 150 years and records it as written", () => {
    const ancient = image("ancient", { age: 151 * 365, tags: ["v1"] });
    const recent = image("recent", { age: 149 * 365, tags: ["v2"] });
    const made = plan({
      inventory: inventory(repo(APP, ancient, recent)),
      usages: [],
      policy: { filters: [".*:.*"], ago: "9999999d999999999h" },
      now: NOW,
    });
    expect(made.delete.map((e) => e.digest)).toEqual([ancient.digest]);
    expect(made.options.ago).toBe("9999999d999999999h");
  });
});

describe("--age-from created|updated", () => {
  // Pushed 90 days ago, updated (e.g. re-tagged) yesterday.
  const retagged = acrImage("retagged", 90, 1, ["v1"]);
  const stale = acrImage("stale", 90, 60, ["v0"]);

  it("reads the creation time by default", () => {
    const d = decide(repo(APP, retagged, stale), policy({ ago: 30 }));
    expect(d.deleted().sort()).toEqual([retagged.digest, stale.digest].sort());
  });

  it("reads the registry's last update time with updated, as acr purge --ago does", () => {
    const p = purgePolicy({ filters: [".*:.*"], ago: "30d", ageFrom: "updated" });
    const d = decide(repo(APP, retagged, stale), p);
    expect(d.rules(retagged)).toEqual(["too-recent"]);
    expect(d.decisions.get(retagged.digest)?.reasons[0]?.detail).toMatch(/^updated /);
    expect(d.deleted()).toEqual([stale.digest]);
  });

  it("orders --keep by the same time", () => {
    const a = acrImage("a", 90, 50, ["a"]);
    const b = acrImage("b", 80, 70, ["b"]);
    const byUpdate = decide(
      repo(APP, a, b),
      purgePolicy({ filters: [".*:.*"], keep: 1, ageFrom: "updated" }),
    );
    expect(byUpdate.rules(a)).toContain("keep-newest");
    const byCreation = decide(repo(APP, a, b), purgePolicy({ filters: [".*:.*"], keep: 1 }));
    expect(byCreation.rules(b)).toContain("keep-newest");
  });

  it("falls back to the creation time where the registry keeps no update time, and the plan says so", () => {
    const plain = image("plain", { age: 90, tags: ["v1"] });
    const made = plan({
      inventory: inventory(repo(APP, plain)),
      usages: [],
      policy: { filters: [".*:.*"], ago: "30d", ageFrom: "updated" },
      now: NOW,
    });
    expect(made.options.ageFrom).toBe("updated");
    expect(made.delete[0]?.reasons.find((r) => r.rule === "older-than")?.detail).toMatch(
      /no update time, so the creation time stands in/,
    );
    expect(made.warnings.join("\n")).toMatch(
      /keeps no update times.*--age-from updated read the creation times/,
    );
  });

  it("leaves options.ageFrom out of plans that did not ask, so older readers see the same plan", () => {
    const made = plan({
      inventory: inventory(repo(APP, stale)),
      usages: [],
      policy: { filters: [".*:.*"] },
      now: NOW,
    });
    expect("ageFrom" in made.options).toBe(false);
  });
});

describe("tag locks", () => {
  it("keeps a manifest one of whose tags is locked, reason locked", () => {
    const n: ManifestNode = { ...image("n", { age: 90, tags: ["v1", "v1.0"] }), lockedTags: ["v1.0"] };
    const d = decide(repo(APP, n), policy({ ago: 30 }));
    expect(d.rules(n)).toContain("locked");
    expect(d.decisions.get(n.digest)?.reasons.find((r) => r.rule === "locked")?.detail).toMatch(
      /tag v1\.0 is locked/,
    );
  });
});

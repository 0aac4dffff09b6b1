import { describe, expect, it } from "vitest";
import type { ManifestNode } from "../../src/inventory/graph.js";
import { sha256Digest } from "../../src/oci/digest.js";
import { resolveUsages } from "../../src/usage/resolve.js";
import {
  artifact,
  cosign,
  decide,
  fallbackIndex,
  image,
  index,
  inventory,
  NOW,
  policy,
  REGISTRY,
  repo,
  usage,
  usedByDigest,
} from "./builders.js";

const APP = "team/app";

/** Digests of `nodes` that the decisions delete, in the order given. */
function deletedOf(d: ReturnType<typeof decide>, ...nodes: ManifestNode[]): ManifestNode[] {
  return nodes.filter((n) => d.action(n) === "delete");
}

describe("decideRepository: selection by --filter", () => {
  it("keeps every manifest of a repository no filter matches", () => {
    const a = image("a", { tags: ["v1"], age: 100 });
    const u = image("u", { age: 100 });
    const d = decide(repo("other/app", a, u), policy({ filter: "team/.*:.*", untagged: true }));
    expect(d.action(a)).toBe("keep");
    expect(d.rules(a)).toEqual(["repository-not-selected"]);
    expect(d.action(u)).toBe("keep");
  });

  it("anchors the repository regex: team/app does not select team/app-old or myteam/app", () => {
    const a = image("a", { tags: ["v1"] });
    expect(decide(repo("team/app-old", a), policy({ filter: "team/app:.*" })).action(a)).toBe("keep");
    expect(decide(repo("myteam/app", a), policy({ filter: "team/app:.*" })).action(a)).toBe("keep");
    expect(decide(repo("team/app", a), policy({ filter: "team/app:.*" })).action(a)).toBe("delete");
  });

  it("deletes a manifest whose tag matches, with reason tags-matched", () => {
    const a = image("a", { tags: ["v1"], age: 5 });
    const d = decide(repo(APP, a), policy({ filter: "team/.*:v" }));
    expect(d.action(a)).toBe("delete");
    expect(d.rules(a)).toEqual(["tags-matched"]);
  });

  it("keeps a manifest whose tag does not match (tag-not-matched)", () => {
    const a = image("a", { tags: ["latest"] });
    const d = decide(repo(APP, a), policy({ filter: "team/.*:^v" }));
    expect(d.action(a)).toBe("keep");
    expect(d.rules(a)).toEqual(["tag-not-matched"]);
  });

  it("matches the tag regex unanchored", () => {
    const a = image("a", { tags: ["release-v1-final"] });
    expect(decide(repo(APP, a), policy({ filter: `${APP}:v1` })).action(a)).toBe("delete");
  });

  it("keeps a digest unless every one of its tags matches (deleting it removes all its tags)", () => {
    const both = image("both", { tags: ["v1", "latest"] });
    const d = decide(repo(APP, both), policy({ filter: `${APP}:^v` }));
    expect(d.action(both)).toBe("keep");
    expect(d.rules(both)).toEqual(["tag-not-matched"]);
    expect(d.decisions.get(both.digest)?.reasons[0]?.detail).toContain("latest");
  });

  it("lets different filters of the same repository cover different tags", () => {
    const both = image("both", { tags: ["v1", "dev"] });
    expect(decide(repo(APP, both), policy({ filter: [`${APP}:^v`, `team/.*:^dev$`] })).action(both)).toBe(
      "delete",
    );
  });

  it("does not use the tag regex of a filter whose repository does not match", () => {
    const both = image("both", { tags: ["v1", "dev"] });
    expect(decide(repo(APP, both), policy({ filter: [`${APP}:^v`, "other/.*:.*"] })).action(both)).toBe(
      "keep",
    );
  });
});

describe("decideRepository: --ago", () => {
  it("deletes only manifests strictly older than --ago", () => {
    const old = image("old", { tags: ["v1"], age: 31 });
    const exactly = image("exactly", { tags: ["v2"], age: 30 });
    const young = image("young", { tags: ["v3"], age: 29 });
    const d = decide(repo(APP, old, exactly, young), policy({ ago: 30 }));
    expect(d.action(old)).toBe("delete");
    expect(d.rules(old)).toEqual(["tags-matched", "older-than"]);
    expect(d.action(exactly)).toBe("keep");
    expect(d.rules(exactly)).toEqual(["too-recent"]);
    expect(d.action(young)).toBe("keep");
  });

  it("keeps a manifest of unknown age when --ago is set (age-unknown)", () => {
    const unknown = image("unknown", { tags: ["v1"] });
    const d = decide(repo(APP, unknown), policy({ ago: 1 }));
    expect(d.action(unknown)).toBe("keep");
    expect(d.rules(unknown)).toEqual(["age-unknown"]);
  });

  it("keeps a manifest created in the future (clock skew)", () => {
    const future = image("future", { tags: ["v1"], age: -2 });
    expect(decide(repo(APP, future), policy({ ago: 1 })).action(future)).toBe("keep");
  });

  it.each([
    ["absent", undefined],
    ["0", 0],
  ])("selects any age, known or not, when --ago is %s", (_label, ago) => {
    const unknown = image("unknown", { tags: ["v1"] });
    const fresh = image("fresh", { tags: ["v2"], age: 0 });
    const d = decide(repo(APP, unknown, fresh), policy(ago === undefined ? {} : { ago }));
    expect(d.action(unknown)).toBe("delete");
    expect(d.action(fresh)).toBe("delete");
  });
});

describe("decideRepository: --untagged", () => {
  it("keeps untagged top-level manifests without --untagged (untagged-not-selected)", () => {
    const u = image("u", { age: 100 });
    const d = decide(repo(APP, u), policy());
    expect(d.action(u)).toBe("keep");
    expect(d.rules(u)).toEqual(["untagged-not-selected"]);
  });

  it("deletes untagged top-level manifests with --untagged", () => {
    const u = image("u", { age: 100 });
    const d = decide(repo(APP, u), policy({ untagged: true }));
    expect(d.action(u)).toBe("delete");
    expect(d.rules(u)).toContain("untagged");
  });

  it("subjects untagged manifests to --ago", () => {
    const old = image("old", { age: 40 });
    const young = image("young", { age: 10 });
    const unknown = image("unknown");
    const d = decide(repo(APP, old, young, unknown), policy({ untagged: true, ago: 30 }));
    expect(d.action(old)).toBe("delete");
    expect(d.action(young)).toBe("keep");
    expect(d.action(unknown)).toBe("keep");
  });

  it("still needs a repository filter match", () => {
    const u = image("u", { age: 100 });
    expect(decide(repo("other/app", u), policy({ filter: "team/.*:.*", untagged: true })).action(u)).toBe(
      "keep",
    );
  });
});

describe("decideRepository: --keep N", () => {
  it("keeps the newest N of the manifests otherwise deleted (keep-newest)", () => {
    const a = image("a", { tags: ["v4"], age: 1 });
    const b = image("b", { tags: ["v3"], age: 2 });
    const c = image("c", { tags: ["v2"], age: 3 });
    const e = image("e", { tags: ["v1"], age: 4 });
    const d = decide(repo(APP, c, e, a, b), policy({ keep: 2 }));
    expect(d.rules(a)).toEqual(["keep-newest"]);
    expect(d.rules(b)).toEqual(["keep-newest"]);
    expect(deletedOf(d, a, b, c, e)).toEqual([c, e]);
  });

  it("says how many the slots were among, and never more slots than candidates", () => {
    const a = image("a", { tags: ["v3"], age: 1 });
    const b = image("b", { tags: ["v2"], age: 2 });
    const c = image("c", { tags: ["v1"], age: 3 });
    const detail = (d: ReturnType<typeof decide>, n: ManifestNode) =>
      d.decisions.get(n.digest)?.reasons.find((r) => r.rule === "keep-newest")?.detail;
    expect(detail(decide(repo(APP, a, b, c), policy({ keep: 2 })), a)).toBe(
      "one of the 2 newest of 3 tagged images otherwise deleted",
    );
    expect(detail(decide(repo(APP, a, b), policy({ keep: 3 })), a)).toBe(
      "all 2 tagged images otherwise deleted (--keep 3)",
    );
    expect(detail(decide(repo(APP, a), policy({ keep: 3 })), a)).toBe(
      "the only one of the tagged images otherwise deleted (--keep 3)",
    );
  });

  it("counts distinct digests: several tags on one digest take one slot", () => {
    const a = image("a", { tags: ["latest", "v3", "stable"], age: 1 });
    const b = image("b", { tags: ["v2"], age: 2 });
    const c = image("c", { tags: ["v1"], age: 3 });
    const d = decide(repo(APP, a, b, c), policy({ keep: 2 }));
    expect(deletedOf(d, a, b, c)).toEqual([c]);
  });

  it("counts only what would otherwise be deleted: --ago and tag filters come first", () => {
    const recent = image("recent", { tags: ["v4"], age: 1 });
    const unmatched = image("unmatched", { tags: ["latest"], age: 40 });
    const b = image("b", { tags: ["v2"], age: 50 });
    const c = image("c", { tags: ["v1"], age: 60 });
    const d = decide(repo(APP, recent, unmatched, b, c), policy({ filter: `${APP}:^v`, ago: 30, keep: 1 }));
    expect(d.rules(recent)).toEqual(["too-recent"]);
    expect(d.rules(unmatched)).toEqual(["tag-not-matched"]);
    expect(d.rules(b)).toEqual(["keep-newest"]);
    expect(d.action(c)).toBe("delete");
  });

  it("does not give an in-use manifest a slot", () => {
    const a = image("a", { tags: ["v3"], age: 1 });
    const b = image("b", { tags: ["v2"], age: 2 });
    const c = image("c", { tags: ["v1"], age: 3 });
    const d = decide(repo(APP, a, b, c), policy({ keep: 1 }), usedByDigest(APP, a));
    expect(d.rules(a)).toEqual(["in-use"]);
    expect(d.rules(b)).toEqual(["keep-newest"]);
    expect(d.action(c)).toBe("delete");
  });

  it("does not give a locked manifest a slot", () => {
    const a = image("a", { tags: ["v3"], age: 1, locked: true });
    const b = image("b", { tags: ["v2"], age: 2 });
    const c = image("c", { tags: ["v1"], age: 3 });
    const d = decide(repo(APP, a, b, c), policy({ keep: 1 }));
    expect(d.rules(a)).toEqual(["locked"]);
    expect(d.rules(b)).toEqual(["keep-newest"]);
    expect(d.action(c)).toBe("delete");
  });

  it("does not give a slot to a tagged child of an in-use index (it stays anyway)", () => {
    const child = image("app-v3-amd64", { tags: ["v3-amd64"], age: 1 });
    const multi = index("app-v3", [child], { tags: ["v3"], age: 1 });
    const b = image("b", { tags: ["v2"], age: 5 });
    const c = image("c", { tags: ["v1"], age: 10 });
    const d = decide(repo(APP, multi, child, b, c), policy({ keep: 1 }), usedByDigest(APP, multi));
    expect(d.action(multi)).toBe("keep");
    expect(d.action(child)).toBe("keep");
    expect(d.rules(child)).not.toContain("keep-newest");
    expect(d.rules(b)).toEqual(["keep-newest"]);
    expect(d.action(c)).toBe("delete");
  });

  it("does not give a slot to a tagged child of an index another rule keeps (it stays anyway)", () => {
    const child = image("app-v3-amd64", { tags: ["v3-amd64"], age: 1 });
    const release = index("app-release", [child], { tags: ["release"], age: 1 });
    const b = image("b", { tags: ["v2"], age: 5 });
    const c = image("c", { tags: ["v1"], age: 10 });
    const d = decide(repo(APP, release, child, b, c), policy({ filter: `${APP}:^v`, keep: 1 }));
    expect(d.rules(release)).toEqual(["tag-not-matched"]);
    expect(d.action(child)).toBe("keep");
    expect(d.rules(b)).toEqual(["keep-newest"]);
    expect(d.action(c)).toBe("delete");
  });

  it("never gives a slot to a referrer: a signature follows its subject", () => {
    const a = image("a", { tags: ["v3"], age: 1 });
    const b = image("b", { tags: ["v2"], age: 2 });
    const sigB = cosign(b, "sig", { age: 0 });
    const d = decide(repo(APP, a, b, sigB), policy({ keep: 1 }));
    expect(d.rules(a)).toEqual(["keep-newest"]);
    expect(deletedOf(d, a, b, sigB)).toEqual([b, sigB]);
  });

  it("never gives a slot to an orphan referrer", () => {
    const a = image("a", { tags: ["v3"], age: 2 });
    const b = image("b", { tags: ["v2"], age: 3 });
    const orphan = cosign(sha256Digest("gone"), "sig", { age: 0 });
    const d = decide(repo(APP, a, b, orphan), policy({ keep: 1 }));
    expect(d.rules(a)).toEqual(["keep-newest"]);
    expect(deletedOf(d, a, b, orphan)).toEqual([b, orphan]);
  });

  it("never gives a tagged slot to an untagged manifest; with --untagged the untagged get N slots of their own", () => {
    const u = image("u", { age: 0 });
    const a = image("a", { tags: ["v3"], age: 2 });
    const b = image("b", { tags: ["v2"], age: 3 });
    const d = decide(repo(APP, u, a, b), policy({ keep: 1, untagged: true }));
    expect(d.rules(a)).toEqual(["keep-newest"]);
    // As acr purge: of what --untagged would delete (u, and b once its tag is gone), the newest stays.
    expect(d.rules(u)).toEqual(["keep-newest-untagged"]);
    expect(deletedOf(d, u, a, b)).toEqual([b]);
  });

  it("keeps what a kept-newest index needs: its children and its signature", () => {
    const amd = image("amd");
    const arm = image("arm");
    const multi = index("multi", [amd, arm], { tags: ["v2"], age: 1 });
    const sig = cosign(multi, "sig", { age: 1 });
    const old = image("old", { tags: ["v1"], age: 9 });
    const d = decide(repo(APP, amd, arm, multi, sig, old), policy({ keep: 1 }));
    expect(d.rules(multi)).toEqual(["keep-newest"]);
    expect(d.rules(amd)).toEqual(["child-of-kept-index"]);
    expect(d.rules(arm)).toEqual(["child-of-kept-index"]);
    expect(d.rules(sig)).toEqual(["referrer-of-kept-subject"]);
    expect(d.action(old)).toBe("delete");
  });

  it("counts unknown ages as newest, so that doubt keeps", () => {
    const unknown = image("unknown", { tags: ["v9"] });
    const a = image("a", { tags: ["v2"], age: 1 });
    const d = decide(repo(APP, unknown, a), policy({ keep: 1 }));
    expect(d.rules(unknown)).toEqual(["keep-newest"]);
    expect(d.action(a)).toBe("delete");
  });

  it("keeps nothing extra with --keep 0", () => {
    const a = image("a", { tags: ["v1"], age: 1 });
    expect(decide(repo(APP, a), policy({ keep: 0 })).action(a)).toBe("delete");
  });

  it("keeps everything when N exceeds the candidates", () => {
    const a = image("a", { tags: ["v1"], age: 1 });
    const b = image("b", { tags: ["v2"], age: 2 });
    expect(decide(repo(APP, a, b), policy({ keep: 5 })).deleted()).toEqual([]);
  });
});

describe("decideRepository: in use (no rule overrides it)", () => {
  it("keeps a manifest in use by digest, naming the usage and its source", () => {
    const a = image("a", { tags: ["v1"], age: 400 });
    const d = decide(repo(APP, a), policy({ ago: 1 }), usedByDigest(APP, a));
    expect(d.action(a)).toBe("keep");
    expect(d.decisions.get(a.digest)?.reasons).toEqual([
      { rule: "in-use", detail: expect.stringContaining(a.digest), source: "test" },
    ]);
  });

  it("keeps a manifest in use by tag, resolved at plan time", () => {
    const a = image("a", { tags: ["v1", "prod"], age: 400 });
    const b = image("b", { tags: ["v2"], age: 400 });
    const r = repo(APP, a, b);
    const res = resolveUsages(inventory(r), [usage(`${REGISTRY}/${APP}:prod`, "k8s prod/app")]);
    const d = decide(r, policy(), res.inUse.get(APP));
    expect(d.rules(a)).toEqual(["in-use"]);
    expect(d.action(b)).toBe("delete");
  });

  it("keeps an untagged manifest in use by digest even with --untagged", () => {
    const u = image("u", { age: 400 });
    expect(decide(repo(APP, u), policy({ untagged: true }), usedByDigest(APP, u)).action(u)).toBe("keep");
  });

  it("keeps every index that lists an in-use child, and then all its siblings", () => {
    const amd = image("amd");
    const arm = image("arm");
    const multi = index("multi", [amd, arm], { tags: ["v1"], age: 400 });
    const d = decide(repo(APP, multi, amd, arm), policy(), usedByDigest(APP, arm));
    expect(d.rules(arm)).toContain("in-use");
    expect(d.rules(multi)).toEqual(["index-of-in-use-child"]);
    expect(d.rules(amd)).toEqual(["child-of-kept-index"]);
  });

  it("keeps nested indexes above an in-use child, up to the top", () => {
    const amd = image("amd");
    const arm = image("arm");
    const inner = index("inner", [amd, arm]);
    const other = image("other-platform");
    const outer = index("outer", [inner, other], { tags: ["v1"], age: 400 });
    const d = decide(
      repo(APP, outer, inner, amd, arm, other),
      policy({ untagged: true }),
      usedByDigest(APP, amd),
    );
    expect(d.deleted()).toEqual([]);
    expect(d.rules(inner)).toContain("index-of-in-use-child");
    expect(d.rules(outer)).toContain("index-of-in-use-child");
  });

  it("keeps every index that lists a shared in-use child", () => {
    const shared = image("shared");
    const i1 = index("i1", [shared], { tags: ["v1"], age: 400 });
    const i2 = index("i2", [shared], { tags: ["v2"], age: 400 });
    const d = decide(repo(APP, i1, i2, shared), policy(), usedByDigest(APP, shared));
    expect(d.action(i1)).toBe("keep");
    expect(d.action(i2)).toBe("keep");
  });

  it("keeps an in-use index's children and their referrers", () => {
    const amd = image("amd");
    const sigAmd = cosign(amd);
    const multi = index("multi", [amd], { tags: ["v1"], age: 400 });
    const d = decide(repo(APP, multi, amd, sigAmd), policy(), usedByDigest(APP, multi));
    expect(d.deleted()).toEqual([]);
    expect(d.rules(sigAmd)).toEqual(["referrer-of-kept-subject"]);
  });

  it("ignores an in-use digest the repository does not hold", () => {
    const a = image("a", { tags: ["v1"] });
    const ghost = image("ghost");
    expect(decide(repo(APP, a), policy(), usedByDigest(APP, ghost)).action(a)).toBe("delete");
  });
});

describe("decideRepository: index children", () => {
  it("deletes an untagged child with its deleted index, even without --untagged and --ago", () => {
    const amd = image("amd", { age: 0 });
    const multi = index("multi", [amd], { tags: ["v1"], age: 40 });
    const d = decide(repo(APP, multi, amd), policy({ ago: 30 }));
    expect(d.action(multi)).toBe("delete");
    expect(d.action(amd)).toBe("delete");
    expect(d.rules(amd)).toEqual(["child-of-deleted-index"]);
  });

  it("keeps a child that another kept index lists", () => {
    const shared = image("shared");
    const only = image("only-old");
    const oldIndex = index("old", [shared, only], { tags: ["v1"], age: 40 });
    const newIndex = index("new", [shared], { tags: ["v2"], age: 1 });
    const d = decide(repo(APP, oldIndex, newIndex, shared, only), policy({ ago: 30 }));
    expect(d.action(oldIndex)).toBe("delete");
    expect(d.action(newIndex)).toBe("keep");
    expect(d.rules(shared)).toEqual(["child-of-kept-index"]);
    expect(d.action(only)).toBe("delete");
  });

  it("keeps every child of a kept index, whatever their own age or tags", () => {
    const oldChild = image("old-child", { tags: ["v0-amd64"], age: 400 });
    const multi = index("multi", [oldChild], { tags: ["latest"], age: 1 });
    const d = decide(repo(APP, multi, oldChild), policy({ ago: 30 }));
    expect(d.rules(multi)).toEqual(["too-recent"]);
    expect(d.action(oldChild)).toBe("keep");
    expect(d.rules(oldChild)).toContain("child-of-kept-index");
  });

  it("keeps grandchildren of a kept index through nested indexes", () => {
    const leaf = image("leaf");
    const inner = index("inner", [leaf]);
    const outer = index("outer", [inner], { tags: ["latest"] });
    const d = decide(repo(APP, outer, inner, leaf), policy({ filter: `${APP}:^v`, untagged: true }));
    expect(d.deleted()).toEqual([]);
  });

  it("deletes the nested chain under a deleted index", () => {
    const leaf = image("leaf");
    const inner = index("inner", [leaf]);
    const outer = index("outer", [inner], { tags: ["v1"] });
    const d = decide(repo(APP, outer, inner, leaf), policy());
    expect(d.deleted().sort()).toEqual([outer.digest, inner.digest, leaf.digest].sort());
  });

  it("lets a tagged child of a deleted index decide for itself", () => {
    const tagged = image("tagged", { tags: ["keepme"] });
    const multi = index("multi", [tagged], { tags: ["v1"] });
    const d = decide(repo(APP, multi, tagged), policy({ filter: `${APP}:^v` }));
    expect(d.action(multi)).toBe("delete");
    expect(d.rules(tagged)).toEqual(["tag-not-matched"]);
  });

  it("keeps the children of an untagged index when --untagged is not given", () => {
    const amd = image("amd");
    const multi = index("multi", [amd], { age: 400 });
    const d = decide(repo(APP, multi, amd), policy());
    expect(d.rules(multi)).toEqual(["untagged-not-selected"]);
    expect(d.rules(amd)).toEqual(["child-of-kept-index"]);
  });

  it("deletes an untagged index and its children with --untagged", () => {
    const amd = image("amd");
    const multi = index("multi", [amd], { age: 400 });
    expect(decide(repo(APP, multi, amd), policy({ untagged: true })).deleted().length).toBe(2);
  });
});

describe("decideRepository: referrers follow their subject", () => {
  const subjectCases = [
    ["an artifact with a subject field", (s: ManifestNode) => [artifact(`sbom-of-${s.digest}`, s)]],
    ["a cosign .sig tag", (s: ManifestNode) => [cosign(s, "sig")]],
    ["a cosign .att tag", (s: ManifestNode) => [cosign(s, "att")]],
    ["a cosign .sbom tag", (s: ManifestNode) => [cosign(s, "sbom")]],
    [
      "the bare sha256-<hex> fallback index and the referrers it lists",
      (s: ManifestNode) => {
        const r1 = artifact(`r1-of-${s.digest}`, s);
        const r2 = artifact(`r2-of-${s.digest}`, s);
        return [fallbackIndex(s, [r1, r2]), r1, r2];
      },
    ],
  ] as const;

  describe.each(subjectCases)("%s", (_label, make) => {
    it("is kept with a kept subject, however old and whatever its tags", () => {
      const subject = image("s", { tags: ["latest"], age: 1 });
      const refs = make(subject).map((r) => ({
        ...r,
        created: "2000-01-01T00:00:00.000Z",
        ageSource: "config" as const,
      }));
      const d = decide(repo(APP, subject, ...refs), policy({ filter: `${APP}:.*`, ago: 30, untagged: true }));
      expect(d.action(subject)).toBe("keep");
      for (const r of refs) {
        expect(d.action(r)).toBe("keep");
        expect(d.rules(r)).toContain("referrer-of-kept-subject");
      }
    });

    it("is deleted with a deleted subject, however recent", () => {
      const subject = image("s", { tags: ["v1"], age: 100 });
      const refs = make(subject).map((r) => ({
        ...r,
        created: NOW.toISOString(),
        ageSource: "config" as const,
      }));
      const d = decide(repo(APP, subject, ...refs), policy({ filter: `${APP}:^v1$`, ago: 30 }));
      expect(d.action(subject)).toBe("delete");
      for (const r of refs) {
        expect(d.action(r)).toBe("delete");
        expect(
          d.rules(r).some((x) => x === "referrer-of-deleted-subject" || x === "child-of-deleted-index"),
        ).toBe(true);
      }
    });

    it("is kept with an in-use subject", () => {
      const subject = image("s", { tags: ["v1"], age: 100 });
      const refs = make(subject);
      const d = decide(repo(APP, subject, ...refs), policy({ untagged: true }), usedByDigest(APP, subject));
      expect(d.deleted()).toEqual([]);
    });
  });

  it("keeps a kept subject's whole referrer chain (signature of an SBOM)", () => {
    const s = image("s", { tags: ["prod"] });
    const sbom = artifact("sbom", s);
    const sigOfSbom = cosign(sbom, "sig");
    const d = decide(repo(APP, s, sbom, sigOfSbom), policy({ filter: `${APP}:^v` }));
    expect(d.action(sbom)).toBe("keep");
    expect(d.action(sigOfSbom)).toBe("keep");
  });

  it("deletes a deleted subject's whole referrer chain", () => {
    const s = image("s", { tags: ["v1"] });
    const sbom = artifact("sbom", s);
    const sigOfSbom = cosign(sbom, "sig");
    const d = decide(repo(APP, s, sbom, sigOfSbom), policy());
    expect(d.deleted().length).toBe(3);
  });

  it("makes a referrer of a platform child follow that child", () => {
    const amd = image("amd");
    const sigAmd = cosign(amd);
    const multi = index("multi", [amd], { tags: ["v1"] });
    const kept = decide(repo(APP, multi, amd, sigAmd), policy({ filter: `${APP}:^x` }));
    expect(kept.action(sigAmd)).toBe("keep");
    const gone = decide(repo(APP, multi, amd, sigAmd), policy());
    expect(gone.action(sigAmd)).toBe("delete");
  });

  it("does not select a referrer on its own even when its own tag matches and the subject is kept", () => {
    const s = image("s", { tags: ["latest"] });
    const sig = cosign(s, "sig");
    const d = decide(repo(APP, s, sig), policy({ filter: `${APP}:^sha256-` }));
    expect(d.action(s)).toBe("keep");
    expect(d.action(sig)).toBe("keep");
  });

  describe("an orphan referrer (subject gone) is garbage", () => {
    const gone = sha256Digest("gone");

    it("is deleted when it matches the filter and --ago, with reason orphan-referrer", () => {
      const orphan = cosign(gone, "sig", { age: 40 });
      const d = decide(repo(APP, orphan), policy({ ago: 30 }));
      expect(d.action(orphan)).toBe("delete");
      expect(d.rules(orphan)).toContain("orphan-referrer");
    });

    it("is kept while younger than --ago", () => {
      const orphan = cosign(gone, "sig", { age: 10 });
      expect(decide(repo(APP, orphan), policy({ ago: 30 })).action(orphan)).toBe("keep");
    });

    it("is kept when its tag does not match the filter", () => {
      const orphan = cosign(gone, "sig", { age: 40 });
      expect(decide(repo(APP, orphan), policy({ filter: `${APP}:^v` })).action(orphan)).toBe("keep");
    });

    it("is kept when its repository is not selected", () => {
      const orphan = cosign(gone, "sig", { age: 40 });
      expect(decide(repo(APP, orphan), policy({ filter: "other:.*" })).action(orphan)).toBe("keep");
    });

    it("untagged (subject field only) is deleted with --untagged", () => {
      const orphan = artifact("orphan-sbom", gone, { age: 40 });
      const d = decide(repo(APP, orphan), policy({ untagged: true, ago: 30 }));
      expect(d.action(orphan)).toBe("delete");
      expect(d.rules(orphan)).toContain("orphan-referrer");
    });
  });
});

describe("decideRepository: locked manifests are never deleted", () => {
  it("keeps a locked manifest that every rule selects", () => {
    const a = image("a", { tags: ["v1"], age: 400, locked: true });
    const d = decide(repo(APP, a), policy({ ago: 1 }));
    expect(d.rules(a)).toEqual(["locked"]);
  });

  it("keeps a locked index's children and a locked subject's referrers", () => {
    const amd = image("amd");
    const multi = index("multi", [amd], { tags: ["v1"], locked: true });
    const sig = cosign(multi);
    const d = decide(repo(APP, multi, amd, sig), policy());
    expect(d.deleted()).toEqual([]);
  });

  it("keeps a locked child of a deleted index", () => {
    const amd = image("amd", { locked: true });
    const multi = index("multi", [amd], { tags: ["v1"] });
    const d = decide(repo(APP, multi, amd), policy());
    expect(d.action(multi)).toBe("delete");
    expect(d.rules(amd)).toEqual(["locked"]);
  });

  it("keeps a locked referrer of a deleted subject", () => {
    const s = image("s", { tags: ["v1"] });
    const sig = cosign(s, "sig", { locked: true });
    const d = decide(repo(APP, s, sig), policy());
    expect(d.action(sig)).toBe("keep");
  });
});

describe("decideRepository: every manifest gets a decision with reasons", () => {
  it("decides each manifest exactly once, each with at least one reason", () => {
    const amd = image("amd");
    const multi = index("multi", [amd], { tags: ["v1"], age: 40 });
    const sig = cosign(multi);
    const u = image("u", { age: 1 });
    const t = image("t", { tags: ["latest"] });
    const orphan = cosign(sha256Digest("gone"));
    const r = repo(APP, multi, amd, sig, u, t, orphan);
    for (const p of [policy(), policy({ ago: 30, keep: 1, untagged: true }), policy({ filter: "x:.*" })]) {
      const d = decide(r, p);
      expect(d.decisions.size).toBe(r.manifests.length);
      for (const [, decision] of d.decisions) expect(decision.reasons.length).toBeGreaterThan(0);
    }
  });

  it("is deterministic: the same input gives the same decisions", () => {
    const amd = image("amd");
    const multi = index("multi", [amd], { tags: ["v1"], age: 40 });
    const r = repo(
      APP,
      multi,
      amd,
      image("b", { tags: ["v2"], age: 40 }),
      image("c", { tags: ["v3"], age: 40 }),
    );
    const p = policy({ keep: 1 });
    expect(decide(r, p).decisions).toEqual(decide(r, p).decisions);
  });
});

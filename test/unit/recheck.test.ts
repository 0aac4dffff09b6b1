import { describe, expect, it } from "vitest";
import { newlyProtected } from "../../src/apply/recheck.js";
import { type Digest, sha256Digest } from "../../src/oci/digest.js";
import { parseReference } from "../../src/oci/reference.js";
import type { InUseIndex } from "../../src/usage/resolve.js";
import { deleteEntry as entry } from "./builders.js";

const d = (name: string) => sha256Digest(name);

function used(...names: string[]): InUseIndex {
  const usage = {
    reference: parseReference("r.example.com/app:x"),
    raw: "r.example.com/app:x",
    source: "kubernetes prod/ns/pod/p",
  };
  return new Map([["app", new Map(names.map((n) => [d(n) as Digest, [usage]]))]]);
}

describe("apply-time re-check (newlyProtected)", () => {
  // index -> [amd, arm]; sig refers to index; unrelated stands alone.
  const plan = [
    entry("sig", { subject: d("index") }),
    entry("index", { children: [d("amd"), d("arm")] }),
    entry("amd"),
    entry("arm"),
    entry("unrelated"),
  ];
  const held = (inUse: InUseIndex) =>
    [...newlyProtected(plan, inUse).keys()].map((k) => k.split("@")[1]).sort();

  it("holds nothing when nothing became used", () => {
    expect(held(used())).toEqual([]);
    expect(held(new Map([["other-repo", new Map([[d("index"), []]])]]))).toEqual([]);
  });

  it("a child now in use holds every planned index listing it, hence its siblings and the index's referrers", () => {
    expect(held(used("arm"))).toEqual([d("sig"), d("index"), d("amd"), d("arm")].sort());
  });

  it("an index now in use holds its children and its referrers, not unrelated images", () => {
    expect(held(used("index"))).toEqual([d("sig"), d("index"), d("amd"), d("arm")].sort());
    expect(newlyProtected(plan, used("index")).get(`app@${d("index")}`)).toMatch(
      /now in use: kubernetes prod/,
    );
  });

  it("a referrer now in use is held alone: its subject may still go", () => {
    expect(held(used("sig"))).toEqual([d("sig")]);
  });
});

import { describe, expect, it } from "vitest";
import { sha256Digest } from "../../src/oci/digest.js";
import { deletionGroups } from "../../src/plan/deletion-groups.js";
import type { DeleteEntry } from "../../src/plan/plan-schema.js";
import { deleteEntry as entry } from "./builders.js";

const d = (name: string) => sha256Digest(name);
const names = (groups: DeleteEntry[][]) => groups.map((g) => g.map((e) => e.digest));

describe("deletionGroups", () => {
  it("keeps a subject with its referrers and an index with its children, in plan order", () => {
    const plan = [
      entry("index", { children: [d("amd"), d("arm")] }),
      entry("lone"),
      entry("subject"),
      entry("amd"),
      entry("sig", { subject: d("subject") }),
      entry("arm"),
      entry("sig-of-sig", { subject: d("sig") }),
    ];
    expect(names(deletionGroups(plan))).toEqual([
      [d("index"), d("amd"), d("arm")],
      [d("lone")],
      [d("subject"), d("sig"), d("sig-of-sig")],
    ]);
  });

  it("joins groups that share a member and ignores links to manifests outside the plan", () => {
    const plan = [
      entry("a", { children: [d("shared"), d("kept-child")] }),
      entry("b", { children: [d("shared")] }),
      entry("shared"),
      entry("orphan-sig", { subject: d("gone") }),
    ];
    expect(names(deletionGroups(plan))).toEqual([[d("a"), d("b"), d("shared")], [d("orphan-sig")]]);
  });
});

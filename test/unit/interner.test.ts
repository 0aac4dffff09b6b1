import { describe, expect, it } from "vitest";
import { Interner } from "../../src/inventory/graph.js";
import { blobOf, image, index } from "./builders.js";

describe("Interner", () => {
  it("keeps the first copy of a string and hands it back for every equal one", () => {
    const interner = new Interner();
    const first = ["sha256:", "ab".repeat(32)].join("");
    const again = ["sha256:ab", "ab".repeat(31), "ab".slice(2)].join("");
    expect(interner.of(first)).toBe(first);
    expect(interner.of(again)).toBe(first);
  });

  it("changes nothing a node says: digests, media type, blobs, children, subject, the rest", () => {
    const interner = new Interner();
    const child = image("child", { blobs: [blobOf("layer", 10)], age: 3, tags: ["v1"] });
    const idx = index("idx", [child], { tags: ["latest"] });
    const sig = image("sig", { subject: child, owner: "team" });
    for (const n of [child, idx, sig]) expect(interner.node(JSON.parse(JSON.stringify(n)))).toEqual(n);
  });
});

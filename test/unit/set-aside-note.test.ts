import { describe, expect, it } from "vitest";
import { setAsideNote } from "../../src/usage/set-aside-note.js";
import { usage } from "./builders.js";

describe("the note on references that name other registries", () => {
  it("says nothing when every reference names this registry", () => {
    expect(setAsideNote([])).toBeUndefined();
  });

  it("lists each reference with where it came from and suggests --registry-alias with a host", () => {
    const note = setAsideNote([
      usage("mirror.example.com/team/api:v2", "in-use-file in-use.txt:2"),
      usage("mirror.example.com/team/web:v1", "kubernetes prod/web/deployment/front (container web)"),
      usage("docker.io/library/nginx:1.27", "in-use-file in-use.txt:5"),
    ]);
    expect(note?.split("\n")).toEqual([
      "note: 3 in-use references name other registries and were set aside (if one of these hosts is this registry, pass --registry-alias HOST, e.g. --registry-alias mirror.example.com):",
      "  mirror.example.com/team/api:v2 (in-use-file in-use.txt:2)",
      "  mirror.example.com/team/web:v1 (kubernetes prod/web/deployment/front (container web))",
      "  docker.io/library/nginx:1.27 (in-use-file in-use.txt:5)",
    ]);
  });

  it("caps a long list and says how many more there are", () => {
    const many = Array.from({ length: 25 }, (_, i) =>
      usage(`other.example.com/app:${i}`, `in-use-file f:${i + 1}`),
    );
    const lines = setAsideNote(many)?.split("\n") ?? [];
    expect(lines).toHaveLength(1 + 20 + 1);
    expect(lines.at(-2)).toBe("  other.example.com/app:19 (in-use-file f:20)");
    expect(lines.at(-1)).toBe("  ... and 5 more");
  });
});

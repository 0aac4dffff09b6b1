import { describe, expect, it } from "vitest";
import { FilterError, parseFilter, repositorySelected } from "../../src/policy/filter.js";

describe("parseFilter reads --filter REPO_REGEX:TAG_REGEX as acr purge does", () => {
  it("splits at the first ':' into repository and tag parts", () => {
    const f = parseFilter("team/.*:v.*");
    expect(f.text).toBe("team/.*:v.*");
    expect(f.repository.test("team/api")).toBe(true);
    expect(f.tag.test("v1")).toBe(true);
    expect(f.tag.test("latest")).toBe(false);
  });

  describe("the repository regex is anchored at both ends", () => {
    it.each([
      ["team", "team", true],
      ["team", "team/api", false],
      ["team", "myteam", false],
      ["eam", "team", false],
      ["team/.*", "team/api", true],
      ["team/.*", "team/a/b", true],
      ["team/.*", "other/team/api", false],
      ["a|b", "a", true],
      ["a|b", "b", true],
      ["a|b", "ab", false],
      ["a|b", "xb", false],
    ])("%j against %j: %s", (repo, name, expected) => {
      expect(parseFilter(`${repo}:.*`).repository.test(name)).toBe(expected);
      expect(repositorySelected([parseFilter(`${repo}:.*`)], name)).toBe(expected);
    });
  });

  describe("the tag regex is unanchored", () => {
    it.each([
      ["v1", "v1", true],
      ["v1", "v10", true],
      ["v1", "xv1", true],
      ["v1", "v2", false],
      ["^v1$", "v10", false],
      ["^v1$", "v1", true],
      ["dev|pr-", "pr-42", true],
    ])("%j against %j: %s", (tag, name, expected) => {
      expect(parseFilter(`app:${tag}`).tag.test(name)).toBe(expected);
    });
  });

  it("does not split at a ':' inside a group or a character class", () => {
    const g = parseFilter("(?:team|ops)/.*:^v\\d");
    expect(g.repository.test("ops/api")).toBe(true);
    expect(g.repository.test("dev/api")).toBe(false);
    expect(g.tag.test("v2")).toBe(true);
    expect(g.tag.test("dev")).toBe(false);
    const c = parseFilter("app[:]x:latest");
    expect(c.repository.source).toContain("app[:]x");
    expect(c.tag.test("latest")).toBe(true);
  });

  it("keeps everything after the first top-level ':' in the tag regex", () => {
    expect(parseFilter("app:a:b").tag.test("a:b")).toBe(true);
  });

  it("matches every tag when the tag part is missing or empty", () => {
    for (const text of ["team/.*", "team/.*:"]) {
      const f = parseFilter(text);
      expect(f.repository.test("team/api")).toBe(true);
      for (const tag of ["latest", "v1", "sha256-abc.sig", "x"]) expect(f.tag.test(tag)).toBe(true);
    }
  });

  it.each([
    ["empty repository part", ":v1"],
    ["empty filter", ""],
    ["unterminated group in the repository", "team/(:.*"],
    ["unterminated class in the repository", "team/[:v1"],
    ["invalid tag regex", "app:("],
    ["invalid quantifier", "app:*"],
  ])("rejects an invalid filter with FilterError (%s)", (_why, text) => {
    expect(() => parseFilter(text)).toThrow(FilterError);
  });
});

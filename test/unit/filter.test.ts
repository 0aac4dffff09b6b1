import { describe, expect, it } from "vitest";
import {
  FilterError,
  parseFilter,
  parseRepositoryFilter,
  repositorySelected,
} from "../../src/policy/filter.js";

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
    expect(c.repository.source).toBe("app[:]x");
    expect(c.tag.test("latest")).toBe(true);
  });

  describe("accepts acr purge's RE2 dialect (regexp2 in RE2 mode)", () => {
    it.each([
      ["POSIX class in the tag", "app:^v[[:digit:]]+$", "app", "v12", true],
      ["POSIX class in the tag, no match", "app:^v[[:digit:]]+$", "app", "vx", false],
      ["POSIX class in the repository", "[[:alpha:]]+/api:.*", "team/api", "x", true],
      ["POSIX class in the repository, no match", "[[:alpha:]]+/api:.*", "t3am/api", "x", false],
      ["negated POSIX class", "app:^[[:^digit:]]+$", "app", "latest", true],
      ["Python-style named group", "app:^(?P<pr>pr-[0-9]+)$", "app", "pr-42", true],
      ["inline flags", "(?i)TEAM/api:(?i:LATEST)", "team/api", "latest", true],
      ["quoted literal", "app:^\\Q1.2\\E$", "app", "1.2", true],
      ["quoted literal is literal", "app:^\\Q1.2\\E$", "app", "1x2", false],
      // acr-cli's own tests: negative lookahead and lookbehind select v1-b and v1-c, not v1-a.
      ["negative lookahead", "app:v1(?!-a)", "app", "v1-b", true],
      ["negative lookahead, no match", "app:v1(?!-a)", "app", "v1-a", false],
      ["negative lookbehind", "app:v1-*[abc]+(?<!-[a])", "app", "v1-c", true],
      ["negative lookbehind, no match", "app:v1-*[abc]+(?<!-[a])", "app", "v1-a", false],
      ["lookahead with a POSIX class", "app:^(?![[:digit:]])", "app", "v1", true],
      ["lookahead with a POSIX class, no match", "app:^(?![[:digit:]])", "app", "1v", false],
    ])("%s: %j on %s:%s is %s", (_why, text, repo, tag, expected) => {
      const f = parseFilter(text);
      expect(f.repository.test(repo) && f.tag.test(tag)).toBe(expected);
    });
  });

  it("splits as acr-cli's tests pin it: colons inside groups, classes and POSIX classes stay", () => {
    const cases: [string, string, string][] = [
      ["foo:bar", "foo", "bar"],
      ["hello-(?:abc):zzz", "hello-(?:abc)", "zzz"],
      ["hello-:z-(?:abc)zz", "hello-", "z-(?:abc)zz"],
      ["hello-(?:abc)?:z-(?:[:])zz", "hello-(?:abc)?", "z-(?:[:])zz"],
      [
        "[[:alpha:]](?:abc)(?:.*)?:test123[[:digit:]](?:.*)",
        "[[:alpha:]](?:abc)(?:.*)?",
        "test123[[:digit:]](?:.*)",
      ],
      ["(?imsU:test):[[:digit:]][tes:]", "(?imsU:test)", "[[:digit:]][tes:]"],
      ["[[:digit:]:]x:y", "[[:digit:]:]x", "y"],
      ["[]:]x:y", "[]:]x", "y"],
    ];
    for (const [text, repo, tag] of cases) {
      const f = parseFilter(text);
      expect([f.repository.source, f.tag.source]).toEqual([repo, tag]);
    }
  });

  it.each([
    ["two colons", "foo:bar:zzz", /more than one ':'/],
    [
      "a trailing colon after a tag regex",
      "[^[:alpha:]](?ims-U:abc)(?:.*)?:test123(?-imUs:.*):",
      /more than one ':'/,
    ],
    ["no colon", "foo", /no ':'/],
    ["no colon, repository only", "team/.*", /no ':'/],
    ["empty tag regex", "team/.*:", /tag regex is empty/],
    ["empty repository regex", ":.*", /repository regex is empty/],
    ["a POSIX class neither engine knows", "app:[[:foo:]]", /does not parse/],
  ])("refuses %s like acr purge (%j)", (_why, text, message) => {
    expect(() => parseFilter(text)).toThrow(FilterError);
    expect(() => parseFilter(text)).toThrow(message);
  });

  it("names the filter in its one-line error", () => {
    expect(() => parseFilter("app:(")).toThrow(/^--filter "app:\(": the tag regex "\(" does not parse/);
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

describe("parseRepositoryFilter (scan --filter) selects repositories", () => {
  it("accepts a bare repository regex, anchored, as well as REPO_REGEX:TAG_REGEX", () => {
    expect(parseRepositoryFilter("team/.*").repository.test("team/api")).toBe(true);
    expect(parseRepositoryFilter("team").repository.test("team/api")).toBe(false);
    expect(parseRepositoryFilter("team/.*:v1").tag.test("v1")).toBe(true);
    expect(() => parseRepositoryFilter("a:b:c")).toThrow(FilterError);
  });
});

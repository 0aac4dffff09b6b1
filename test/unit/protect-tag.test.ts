import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { plan, purgePolicy } from "../../src/pipeline/plan.js";
import { buildPlan } from "../../src/plan/build-plan.js";
import { FilterError, parseProtectTag } from "../../src/policy/filter.js";
import { compilePullRequestPattern, type PullRequestLookup } from "../../src/policy/pull-request-rule.js";
import type { PullRequestStatus } from "../../src/pullrequest/provider.js";
import { resolveUsages } from "../../src/usage/resolve.js";
import { cosign, decide, image, index, inventory, NOW, policy, repo } from "./builders.js";

const APP = "team/app";
const SEMVER = "v?[0-9]+\\.[0-9]+\\.[0-9]+";

/** Every tag selected, old enough, with these protect patterns. */
const protecting = (patterns: string[], extra: Parameters<typeof policy>[0] = {}) => ({
  ...policy({ ago: 30, untagged: true, ...extra }),
  protectTags: patterns.map(parseProtectTag),
});

describe("--protect-tag: a manifest carrying a matching tag is kept", () => {
  it("keeps latest with reason protected-tag naming the tag and the pattern", () => {
    const latest = image("latest", { tags: ["latest"], age: 400 });
    const old = image("old", { tags: ["build-7"], age: 400 });
    const d = decide(repo(APP, latest, old), protecting(["latest"]));
    expect(d.action(latest)).toBe("keep");
    expect(d.rules(latest)).toEqual(["protected-tag"]);
    const reason = d.decisions.get(latest.digest)?.reasons[0];
    expect(reason?.detail).toBe("tag latest matches --protect-tag latest");
    expect(d.action(old)).toBe("delete");
  });

  it("matches the whole tag: latest protects neither mylatest nor latest-rc", () => {
    const a = image("a", { tags: ["mylatest"], age: 400 });
    const b = image("b", { tags: ["latest-rc"], age: 400 });
    const d = decide(repo(APP, a, b), protecting(["latest"]));
    expect(d.action(a)).toBe("delete");
    expect(d.action(b)).toBe("delete");
  });

  it("the semver example keeps releases, not pre-releases or builds", () => {
    const rel = image("rel", { tags: ["1.2.3"], age: 400 });
    const vrel = image("vrel", { tags: ["v10.0.1"], age: 400 });
    const rc = image("rc", { tags: ["v1.2.3-rc1"], age: 400 });
    const sha = image("sha", { tags: ["abc1234"], age: 400 });
    const d = decide(repo(APP, rel, vrel, rc, sha), protecting([SEMVER]));
    expect([d.action(rel), d.action(vrel), d.action(rc), d.action(sha)]).toEqual([
      "keep",
      "keep",
      "delete",
      "delete",
    ]);
  });

  it("one matching tag among several protects the manifest (deleting it would remove that tag)", () => {
    const a = image("a", { tags: ["build-9", "v2.0.0"], age: 400 });
    const d = decide(repo(APP, a), protecting([SEMVER]));
    expect(d.action(a)).toBe("keep");
    expect(d.decisions.get(a.digest)?.reasons[0]?.detail).toContain("tag v2.0.0");
  });

  it("reads the filters' RE2 dialect: POSIX classes work", () => {
    const a = image("a", { tags: ["release-42"], age: 400 });
    const b = image("b", { tags: ["release-x"], age: 400 });
    const d = decide(repo(APP, a, b), protecting(["release-[[:digit:]]+"]));
    expect(d.action(a)).toBe("keep");
    expect(d.action(b)).toBe("delete");
  });

  it("its index's children and its referrers stay with it", () => {
    const amd = image("amd", { age: 400 });
    const arm = image("arm", { age: 400 });
    const multi = index("multi", [amd, arm], { tags: ["latest"], age: 400 });
    const sig = cosign(multi, "sig", { age: 400 });
    const d = decide(repo(APP, multi, amd, arm, sig), protecting(["latest"]));
    expect(d.deleted()).toEqual([]);
    expect(d.rules(amd)).toContain("child-of-kept-index");
    expect(d.rules(sig)).toContain("referrer-of-kept-subject");
  });

  it("a protected image takes no --keep slot: keep counts only what would otherwise go", () => {
    const latest = image("latest", { tags: ["latest"], age: 10 + 30 });
    const v3 = image("v3", { tags: ["b3"], age: 50 });
    const v2 = image("v2", { tags: ["b2"], age: 60 });
    const v1 = image("v1", { tags: ["b1"], age: 70 });
    const d = decide(repo(APP, latest, v3, v2, v1), protecting(["latest"], { keep: 1, untagged: false }));
    expect(d.rules(latest)).toEqual(["protected-tag"]);
    expect(d.rules(v3)).toEqual(["keep-newest"]);
    expect(d.action(v2)).toBe("delete");
    expect(d.action(v1)).toBe("delete");
  });
});

describe("--protect-tag patterns are parsed as filters are", () => {
  it("a pattern that does not parse is bad usage (exit 2) naming it", () => {
    expect(() => parseProtectTag("v(1")).toThrow(FilterError);
    expect(() => parseProtectTag("v(1")).toThrow(/--protect-tag "v\(1"/);
    expect(() => purgePolicy({ filters: [".*:.*"], protectTags: ["[[:nope:]]"] })).toThrow(UsageError);
    expect(() => parseProtectTag("")).toThrow(/empty/);
  });

  it("the plan records the patterns as written in options.protectTags, and only when there are some", () => {
    const latest = image("latest", { tags: ["latest"], age: 400 });
    const inv = inventory(repo(APP, latest));
    const withTags = plan({
      inventory: inv,
      usages: [],
      policy: { filters: [".*:.*"], protectTags: ["latest", SEMVER] },
      now: NOW,
    });
    expect(withTags.options.protectTags).toEqual(["latest", SEMVER]);
    expect(withTags.delete).toEqual([]);
    expect(withTags.keep[0]?.reasons.map((r) => r.rule)).toEqual(["protected-tag"]);
    const without = plan({ inventory: inv, usages: [], policy: { filters: [".*:.*"] }, now: NOW });
    expect(without.options).not.toHaveProperty("protectTags");
    expect(without.delete.map((e) => e.digest)).toEqual([latest.digest]);
  });
});

describe("--protect-tag with a pull-request rule", () => {
  const closedPr = image("closed", { tags: ["PR12-release", "PR12-test"], age: 5 });
  const inv = inventory(repo(APP, closedPr));
  const withRule = (action: "delete" | "untag", protect: string[]) =>
    buildPlan({
      inventory: inv,
      policy: {
        ...policy(),
        protectTags: protect.map(parseProtectTag),
        pullRequests: {
          provider: "azure-devops https://dev.azure.com/contoso/shop",
          pattern: compilePullRequestPattern("^PR(\\d+)"),
          deleteWhen: new Set<PullRequestStatus>(["completed"]),
          statuses: new Map<number, PullRequestLookup>([[12, { status: "completed" }]]),
          action,
        },
      },
      resolution: resolveUsages(inv, []),
      now: NOW,
      options: { filters: [".*:.*"], ago: null, keep: null, untagged: false },
    });

  it("a closed PR's manifest carrying a protected tag stays", () => {
    expect(withRule("delete", []).delete.map((d) => d.digest)).toEqual([closedPr.digest]);
    const p = withRule("delete", ["PR[0-9]+-release"]);
    expect(p.delete).toEqual([]);
    expect(p.keep[0]?.reasons.map((r) => r.rule)).toContain("protected-tag");
  });

  it("untag never removes a protected tag, only the others", () => {
    expect(withRule("untag", []).untag?.map((u) => u.tag)).toEqual(["PR12-release", "PR12-test"]);
    expect(withRule("untag", ["PR[0-9]+-release"]).untag?.map((u) => u.tag)).toEqual(["PR12-test"]);
  });
});

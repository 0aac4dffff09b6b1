import { describe, expect, it } from "vitest";
import { buildPlan } from "../../src/plan/build-plan.js";
import {
  compilePullRequestPattern,
  type PullRequestLookup,
  type PullRequestRule,
  pullRequestOf,
} from "../../src/policy/pull-request-rule.js";
import type { PullRequestStatus } from "../../src/pullrequest/provider.js";
import { resolveUsages } from "../../src/usage/resolve.js";
import { cosign, image, inventory, NOW, policy, REGISTRY, repo, usage } from "./builders.js";

const rule = (statuses: Record<number, PullRequestStatus | { error: string }>): PullRequestRule => ({
  provider: "azure-devops https://dev.azure.com/contoso/shop",
  pattern: compilePullRequestPattern("^PR(\\d+)"),
  deleteWhen: new Set<PullRequestStatus>(["abandoned", "completed"]),
  statuses: new Map<number, PullRequestLookup>(
    Object.entries(statuses).map(([n, s]) => [Number(n), typeof s === "string" ? { status: s } : s]),
  ),
});

describe("pull-request tags", () => {
  it("reads the PR number from the first capture, case-insensitively, start-anchored as the script's -match", () => {
    const p = compilePullRequestPattern("^PR(\\d+)");
    expect(pullRequestOf("PR3571-test-arm", p)).toBe(3571);
    expect(pullRequestOf("pr12", p)).toBe(12);
    expect(pullRequestOf("hotfix-PR12", p)).toBeUndefined();
    expect(pullRequestOf("latest", p)).toBeUndefined();
  });

  const closed = image("closed", { tags: ["PR12-test", "PR12-test-arm"], age: 5 });
  const open = image("open", { tags: ["PR13-test"], age: 5 });
  const unknown = image("unknown", { tags: ["PR14-test"], age: 5 });
  const mixed = image("mixed", { tags: ["PR12-other", "stable"], age: 5 });
  const plain = image("plain", { tags: ["1.0"], age: 90 });
  const inUse = image("in-use", { tags: ["PR12-live"], age: 5 });
  const sig = cosign(closed, "sig");
  const inv = inventory(repo("app", closed, open, unknown, mixed, plain, inUse, sig));
  const usages = [usage(`${REGISTRY}/app:PR12-live`)];
  const make = (statuses: Parameters<typeof rule>[0]) =>
    buildPlan({
      inventory: inv,
      policy: { ...policy(), pullRequests: rule(statuses) },
      resolution: resolveUsages(inv, usages),
      now: NOW,
      options: { filters: [".*:.*"], ago: null, keep: null, untagged: false },
    });

  it("deletes only the images of closed PRs (with their signatures); open, unreadable, other tags and in-use images stay", () => {
    const p = make({ 12: "completed", 13: "active", 14: { error: "404 not found" } });
    expect(p.delete.map((e) => e.digest).sort()).toEqual([closed.digest, sig.digest].sort());
    const rules = (d: string) => p.keep.find((k) => k.digest === d)?.reasons.map((r) => r.rule);
    expect(rules(open.digest)).toContain("pull-request-open");
    expect(rules(unknown.digest)).toContain("pull-request-status-unknown");
    expect(rules(mixed.digest)).toContain("not-a-pull-request-tag");
    expect(rules(plain.digest)).toContain("not-a-pull-request-tag");
    expect(rules(inUse.digest)).toContain("in-use");
    expect(p.delete.find((e) => e.digest === closed.digest)?.reasons.map((r) => r.detail)).toContainEqual(
      "PR 12 is completed (azure-devops https://dev.azure.com/contoso/shop)",
    );
  });

  it("lists Deleted and Preserved tags with PR number, status and why, as the script printed them", () => {
    const p = make({ 12: "abandoned", 13: "active", 14: { error: "401 unauthorized" } });
    expect(p.pullRequests?.deleted.map((d) => `${d.tag} ${d.pr} ${d.status}`)).toEqual([
      "PR12-test 12 abandoned",
      "PR12-test-arm 12 abandoned",
    ]);
    const preserved = Object.fromEntries(p.pullRequests?.preserved.map((d) => [d.tag, d]) ?? []);
    expect(preserved["PR13-test"]).toMatchObject({
      pr: 13,
      status: "active",
      reason: "PR 13 (tag PR13-test) is active",
    });
    expect(preserved["PR14-test"]).toMatchObject({ pr: 14, status: null });
    expect(preserved["PR14-test"]?.reason).toMatch(/could not be read.*401 unauthorized/);
    expect(preserved["PR12-live"]?.reason).toMatch(/^in use: /);
    expect(preserved["PR12-other"]?.reason).toMatch(/tag stable names no pull request/);
  });

  it("a closed PR's status never overrides in-use protection, whatever the statuses", () => {
    for (const status of ["completed", "abandoned"] as const) {
      const p = make({ 12: status, 13: status, 14: status });
      expect(p.delete.map((e) => e.digest)).not.toContain(inUse.digest);
    }
  });

  it("untag plans only the closed PRs' tags, never a tag in use, and keeps the manifests; untaggedAfterUntag deletes what is left untagged", () => {
    const untagPlan = (deleteLeftUntagged: boolean) =>
      buildPlan({
        inventory: inv,
        policy: {
          ...policy(),
          pullRequests: {
            ...rule({ 12: "completed", 13: "active", 14: { error: "x" } }),
            action: "untag",
            deleteLeftUntagged,
          },
        },
        resolution: resolveUsages(inv, usages),
        now: NOW,
        options: { filters: [".*:.*"], ago: null, keep: null, untagged: false },
      });
    const only = untagPlan(false);
    expect(only.delete).toEqual([]);
    expect(only.untag?.map((u) => u.tag).sort()).toEqual(["PR12-other", "PR12-test", "PR12-test-arm"]);
    expect(only.pullRequests?.deleted.map((d) => d.tag).sort()).toEqual([
      "PR12-other",
      "PR12-test",
      "PR12-test-arm",
    ]);
    expect(only.pullRequests?.preserved.map((d) => d.tag)).not.toContain("PR12-test");
    expect(only.keep.find((k) => k.digest === closed.digest)?.reasons.map((r) => r.rule)).toContain(
      "pull-request-untagged",
    );
    const after = untagPlan(true);
    expect(after.delete.map((e) => e.digest).sort()).toEqual([closed.digest, sig.digest].sort());
    expect(after.untag?.map((u) => u.tag)).toEqual(["PR12-other"]);
  });
});

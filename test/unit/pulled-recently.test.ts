import { describe, expect, it } from "vitest";
import { buildPlan } from "../../src/plan/build-plan.js";
import { resolveUsages } from "../../src/usage/resolve.js";
import { DAY, daysAgo, image, index, inventory, NOW, policy, repo } from "./builders.js";

describe("--protect-pulled-within", () => {
  const pulled = { ...image("pulled", { tags: ["1.0"], age: 90 }), lastPulled: daysAgo(2) };
  const stale = { ...image("stale", { tags: ["0.9"], age: 90 }), lastPulled: daysAgo(20) };
  const never = image("never", { tags: ["0.8"], age: 90 });
  const child = { ...image("child", { age: 90 }), lastPulled: daysAgo(1) };
  const multi = index("multi", [child], { tags: ["m"], age: 90 });
  const plan = (p: ReturnType<typeof policy>) => {
    const inv = inventory(repo("app", pulled, stale, never, child, multi));
    return buildPlan({
      inventory: inv,
      policy: p,
      resolution: resolveUsages(inv, []),
      now: NOW,
      options: { filters: [".*:.*"], ago: "30d", keep: null, untagged: false },
    });
  };

  it("keeps what the registry saw pulled within the window, and every index above a pulled platform image", () => {
    const p = plan({ ...policy({ ago: 30 }), protectPulledWithinMs: 7 * DAY });
    expect(p.delete.map((e) => e.digest).sort()).toEqual([stale.digest, never.digest].sort());
    const rules = (d: string) => p.keep.find((k) => k.digest === d)?.reasons.map((r) => r.rule) ?? [];
    expect(rules(pulled.digest)).toContain("pulled-recently");
    expect(rules(multi.digest)).toContain("pulled-recently");
    expect(rules(child.digest)).toContain("pulled-recently");
  });

  it("protects nothing without the flag, and warns when the registry records no pulls at all", () => {
    expect(plan(policy({ ago: 30 })).delete).toHaveLength(5);
    const inv = inventory(repo("app", never));
    const p = buildPlan({
      inventory: inv,
      policy: { ...policy({ ago: 30 }), protectPulledWithinMs: DAY },
      resolution: resolveUsages(inv, []),
      now: NOW,
      options: { filters: [".*:.*"], ago: "30d", keep: null, untagged: false },
    });
    expect(p.warnings.join(" ")).toMatch(/recorded no pull times.*--protect-pulled-within protected nothing/);
  });
});

import { describe, expect, it } from "vitest";
import type { Inventory } from "../../src/inventory/graph.js";
import { buildPlan } from "../../src/plan/build-plan.js";
import type { PurgePolicy } from "../../src/policy/purge-policy.js";
import { sizeReport } from "../../src/report/size-report.js";
import { resolveUsages } from "../../src/usage/resolve.js";
import type { Usage } from "../../src/usage/usage.js";
import { image, index, inventory, NOW, policy, REGISTRY, repo, usage } from "./builders.js";

const OPTIONS = { filters: [".*:.*"], ago: null, keep: null, untagged: false };

function plan(inv: Inventory, p: PurgePolicy = policy(), usages: Usage[] = []) {
  return buildPlan({
    inventory: inv,
    policy: p,
    resolution: resolveUsages(inv, usages),
    now: NOW,
    options: OPTIONS,
  });
}

function ownerOf(p: ReturnType<typeof plan>, digest: string): string | undefined {
  return [...p.delete, ...p.keep].find((e) => e.digest === digest)?.owner;
}

describe("plan entries' owner", () => {
  it("is the manifest's own (annotation or label) when no usage names one", () => {
    const a = image("a", { tags: ["1"], age: 90, owner: "team-a" });
    const b = image("b", { tags: ["2"], age: 90 });
    const p = plan(inventory(repo("app", a, b)), policy({ ago: 30 }));
    expect(ownerOf(p, a.digest)).toBe("team-a");
    expect(ownerOf(p, b.digest)).toBeUndefined();
    expect(
      sizeReport(p, "owner")
        .rows.map((r) => r.group)
        .sort(),
    ).toEqual(["(unknown owner)", "team-a"]);
  });

  it("is a usage's owner first, the manifest's own only where no usage names one", () => {
    const a = image("a", { tags: ["1"], owner: "from-annotation" });
    const used = { ...usage(`${REGISTRY}/app@${a.digest}`), owner: "from-mongodb" };
    const p = plan(inventory(repo("app", a)), policy(), [used]);
    expect(ownerOf(p, a.digest)).toBe("from-mongodb");
  });

  it("of an index passes to its children (nested ones too) that name none, never over their own", () => {
    const plain = image("plain", { age: 90 });
    const own = image("own", { age: 90, owner: "child-team" });
    const deep = image("deep", { age: 90 });
    const nested = index("nested", [deep], { age: 90 });
    const top = index("top", [plain, own, nested], { tags: ["v1"], age: 90, owner: "index-team" });
    const p = plan(inventory(repo("app", top, plain, own, nested, deep)), policy({ ago: 30 }));
    expect(ownerOf(p, top.digest)).toBe("index-team");
    expect(ownerOf(p, plain.digest)).toBe("index-team");
    expect(ownerOf(p, nested.digest)).toBe("index-team");
    expect(ownerOf(p, deep.digest)).toBe("index-team");
    expect(ownerOf(p, own.digest)).toBe("child-team");
  });

  it("of an index that a usage gives an owner passes to its children too", () => {
    const child = image("child", {});
    const top = index("top", [child], { tags: ["v1"] });
    const used = { ...usage(`${REGISTRY}/app:v1`), owner: "ops" };
    const p = plan(inventory(repo("app", top, child)), policy(), [used]);
    expect(ownerOf(p, child.digest)).toBe("ops");
  });
});

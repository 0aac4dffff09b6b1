/** ReasonPool: what a plan says of many manifests is one object; what names a time or digest is not remembered. */
import { describe, expect, it } from "vitest";
import { BENCH_POLICY } from "../../bench/plan-scale.js";
import { SYNTHETIC_NOW, syntheticInventory } from "../../bench/synthetic-inventory.js";
import { plan } from "../../src/pipeline/plan.js";
import { ReasonPool } from "../../src/plan/reason-pool.js";

describe("ReasonPool", () => {
  it("gives one object per rule and detail, and a new one for a detail naming a time or a digest", () => {
    const pool = new ReasonPool();
    const a = pool.of("tags-matched", "tag v3 matches .*:.*");
    expect(pool.of("tags-matched", "tag v3 matches .*:.*")).toBe(a);
    expect(pool.of("tag-not-matched", "tag v3 matches .*:.*")).not.toBe(a);
    expect(a).toEqual({ rule: "tags-matched", detail: "tag v3 matches .*:.*" });
    const timed = "created 2025-01-02T03:04:05.000Z (config), 150 days ago";
    expect(pool.of("older-than", timed)).not.toBe(pool.of("older-than", timed));
    expect(pool.of("older-than", timed)).toEqual({ rule: "older-than", detail: timed });
  });

  it("leaves a reason with a source as it is", () => {
    const pool = new ReasonPool();
    const used = { rule: "in-use", detail: "used as x", source: "k8s" } as const;
    const list = [used, { rule: "untagged", detail: "untagged manifest (--untagged)" } as const];
    pool.shareAll(list);
    expect(list[0]).toBe(used);
  });

  it("makes a plan's entries in different repositories share the reason they both give", () => {
    const s = syntheticInventory({ manifests: 2000, repositories: 20 });
    const made = plan({ inventory: s.inventory, usages: s.usages, policy: BENCH_POLICY, now: SYNTHETIC_NOW });
    const matched = made.delete.flatMap((d) =>
      d.reasons.filter((r) => r.rule === "tags-matched" && r.detail === "tag v1 matches .*:.*"),
    );
    expect(
      new Set(made.delete.filter((d) => d.tags[0] === "v1").map((d) => d.repository)).size,
    ).toBeGreaterThan(1);
    expect(matched.length).toBeGreaterThan(1);
    expect(new Set(matched).size).toBe(1);
  });
});

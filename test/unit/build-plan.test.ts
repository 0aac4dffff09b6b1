import { describe, expect, it } from "vitest";
import type { Inventory, ManifestNode } from "../../src/inventory/graph.js";
import type { Digest } from "../../src/oci/digest.js";
import { buildPlan } from "../../src/plan/build-plan.js";
import { deletionOrder } from "../../src/plan/deletion-order.js";
import { planSchema } from "../../src/plan/plan-schema.js";
import { reclaimableBytes } from "../../src/plan/reclaimable.js";
import type { PurgePolicy } from "../../src/policy/purge-policy.js";
import { resolveUsages } from "../../src/usage/resolve.js";
import type { Usage } from "../../src/usage/usage.js";
import {
  artifact,
  blobOf,
  cosign,
  fallbackIndex,
  image,
  index,
  inventory,
  NOW,
  policy,
  REGISTRY,
  repo,
  usage,
} from "./builders.js";

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

function position(order: readonly Digest[], n: ManifestNode): number {
  const i = order.indexOf(n.digest);
  if (i < 0) throw new Error(`${n.digest} is not in the order`);
  return i;
}

describe("deletionOrder", () => {
  it("is a permutation of its input", () => {
    const a = image("a", { age: 3 });
    const b = image("b", { age: 1 });
    const multi = index("multi", [a]);
    const order = deletionOrder([a, b, multi]);
    expect([...order].sort()).toEqual([a.digest, b.digest, multi.digest].sort());
  });

  it("puts a subject before its referrers, so a stop leaves orphan signatures, never a kept image without one", () => {
    const s = image("s", { age: 10 });
    const sig = cosign(s, "sig", { age: 20 });
    const sbom = artifact("sbom", s, { age: 20 });
    const order = deletionOrder([s, sig, sbom]);
    expect(position(order, s)).toBeLessThan(position(order, sig));
    expect(position(order, s)).toBeLessThan(position(order, sbom));
  });

  it("puts an index before its children, nested indexes too", () => {
    const leaf = image("leaf", { age: 30 });
    const inner = index("inner", [leaf], { age: 1 });
    const outer = index("outer", [inner], { age: 1 });
    const order = deletionOrder([leaf, inner, outer]);
    expect(order).toEqual([outer.digest, inner.digest, leaf.digest]);
  });

  it("orders a referrer chain, the fallback index and the subject's index", () => {
    const s = image("s");
    const multi = index("multi", [s]);
    const sbom = artifact("sbom", s);
    const sigOfSbom = cosign(sbom, "sig");
    const fallback = fallbackIndex(s, [sbom]);
    const order = deletionOrder([s, sbom, multi, fallback, sigOfSbom]);
    expect(position(order, sbom)).toBeLessThan(position(order, sigOfSbom));
    expect(position(order, s)).toBeLessThan(position(order, sbom));
    expect(position(order, fallback)).toBeLessThan(position(order, sbom));
    expect(position(order, s)).toBeLessThan(position(order, fallback));
    expect(position(order, multi)).toBeLessThan(position(order, s));
  });

  it("deletes unrelated manifests oldest first", () => {
    const a = image("a", { age: 1 });
    const b = image("b", { age: 3 });
    const c = image("c", { age: 2 });
    expect(deletionOrder([a, b, c])).toEqual([b.digest, c.digest, a.digest]);
  });

  it("ignores subjects and children outside the set", () => {
    const kept = image("kept");
    const sig = cosign(kept);
    const multi = index("multi", [kept]);
    expect([...deletionOrder([sig, multi])].sort()).toEqual([sig.digest, multi.digest].sort());
  });

  it("does not hang on a malformed cyclic graph and still lists everything", () => {
    const a0 = image("a");
    const b0 = image("b");
    const a: ManifestNode = { ...a0, children: [b0.digest] };
    const b: ManifestNode = { ...b0, children: [a0.digest] };
    expect([...deletionOrder([a, b])].sort()).toEqual([a.digest, b.digest].sort());
  });
});

describe("reclaimableBytes", () => {
  const layer = blobOf("layer", 1000);
  const shared = blobOf("shared-base", 5000);
  const config = (n: string) => blobOf(`config-${n}`, 10);

  it("adds the manifest body and every blob of a deleted image", () => {
    const a = image("a", { blobs: [config("a"), layer], manifestSize: 300 });
    expect(reclaimableBytes([a], [])).toBe(300 + 10 + 1000);
  });

  it("counts a blob shared by deleted images once", () => {
    const a = image("a", { blobs: [config("a"), shared], manifestSize: 300 });
    const b = image("b", { blobs: [config("b"), shared], manifestSize: 400 });
    expect(reclaimableBytes([a, b], [])).toBe(300 + 400 + 10 + 10 + 5000);
  });

  it("does not count a blob that any kept manifest holds", () => {
    const a = image("a", { blobs: [config("a"), shared], manifestSize: 300 });
    const keep = image("keep", { blobs: [config("keep"), shared] });
    expect(reclaimableBytes([a], [keep])).toBe(300 + 10);
  });

  it("does not count a manifest body that is also kept (same digest elsewhere)", () => {
    const a = image("a", { blobs: [layer], manifestSize: 300 });
    expect(reclaimableBytes([a], [a])).toBe(0);
  });

  it("counts only an index's own body (its children are manifests of their own)", () => {
    const amd = image("amd", { blobs: [layer], manifestSize: 200 });
    const multi = index("multi", [amd], { manifestSize: 700 });
    expect(reclaimableBytes([multi], [amd])).toBe(700);
    expect(reclaimableBytes([multi, amd], [])).toBe(700 + 200 + 1000);
  });

  it("is 0 when nothing is deleted", () => {
    expect(reclaimableBytes([], [image("a", { blobs: [layer] })])).toBe(0);
  });
});

describe("buildPlan", () => {
  const base = blobOf("base", 10_000);
  const oldA = image("old-a", {
    tags: ["v1"],
    age: 90,
    blobs: [blobOf("cfg-a", 10), base],
    manifestSize: 100,
  });
  const newA = image("new-a", {
    tags: ["v2"],
    age: 1,
    blobs: [blobOf("cfg-b", 10), base],
    manifestSize: 100,
  });
  const amd = image("amd", { blobs: [blobOf("cfg-amd", 10), blobOf("amd-layer", 2000)], manifestSize: 100 });
  const multi = index("multi", [amd], { tags: ["v1"], age: 90, manifestSize: 50 });
  const sig = cosign(multi, "sig", { blobs: [blobOf("sig-layer", 300)], manifestSize: 60 });
  const inv = inventory(repo("team/api", oldA, newA), repo("team/web", amd, multi, sig));

  it("produces a plan that matches the versioned schema, with every entry explained", () => {
    const p = plan(inv, policy({ ago: 30 }));
    expect(() => planSchema.parse(p)).not.toThrow();
    expect(p.version).toBe(1);
    expect(p.registry).toBe(REGISTRY);
    expect(p.createdAt).toBe(NOW.toISOString());
    expect(p.options).toEqual(OPTIONS);
    for (const e of [...p.delete, ...p.keep]) expect(e.reasons.length).toBeGreaterThan(0);
  });

  it("lists every manifest once, in delete[] or keep[], and summarises the counts", () => {
    const p = plan(inv, policy({ ago: 30 }), [usage(`${REGISTRY}/team/api:v2`)]);
    const all = [...p.delete, ...p.keep].map((e) => `${e.repository}@${e.digest}`);
    expect(new Set(all).size).toBe(5);
    expect(all).toHaveLength(5);
    expect(p.summary).toMatchObject({
      repositories: 2,
      manifests: 5,
      delete: p.delete.length,
      keep: p.keep.length,
      inUse: 1,
    });
    expect(p.delete.map((e) => e.digest).sort()).toEqual(
      [oldA.digest, multi.digest, amd.digest, sig.digest].sort(),
    );
  });

  it("writes delete[] in deletion order per repository, with children and subject", () => {
    const p = plan(inv, policy({ ago: 30 }));
    const web = p.delete.filter((e) => e.repository === "team/web").map((e) => e.digest);
    expect(web[0]).toBe(multi.digest); // before its child and before its signature
    expect([...web].sort()).toEqual([multi.digest, sig.digest, amd.digest].sort());
    const multiEntry = p.delete.find((e) => e.digest === multi.digest);
    expect(multiEntry?.children).toEqual([amd.digest]);
    const sigEntry = p.delete.find((e) => e.digest === sig.digest);
    expect(sigEntry?.subject).toBe(multi.digest);
    expect(sigEntry?.tags).toEqual([`sha256-${multi.digest.slice(7)}.sig`]);
  });

  it("copies each manifest's metadata into its entry", () => {
    const p = plan(inv, policy({ ago: 30 }));
    const e = p.delete.find((x) => x.digest === oldA.digest);
    expect(e).toMatchObject({
      repository: "team/api",
      tags: ["v1"],
      mediaType: oldA.mediaType,
      created: oldA.created,
      ageSource: "config",
      sizeBytes: oldA.sizeBytes,
    });
    const unknownAge = p.delete.find((x) => x.digest === amd.digest);
    expect(unknownAge?.created).toBeNull();
  });

  it("counts reclaimable bytes once per shared blob and not at all while a kept manifest holds it", () => {
    const p = plan(inv, policy({ ago: 30 }));
    // old-a: body 100 + config 10 (base is still held by new-a); web: 50 + (100 + 10 + 2000) + (60 + 300)
    expect(p.summary.reclaimableBytes).toBe(110 + 50 + 2110 + 360);
    const everything = plan(inv, policy());
    expect(everything.summary.reclaimableBytes).toBe(100 + 10 + 100 + 10 + 10_000 + 50 + 2110 + 360);
  });

  it("does not count a blob that a kept manifest in another repository holds", () => {
    const onlyBase = image("other-repo-image", { tags: ["keep"], blobs: [base] });
    const two = inventory(repo("team/api", oldA), repo("team/other", onlyBase));
    const p = plan(two, policy({ filter: "team/api:.*" }));
    expect(p.summary.reclaimableBytes).toBe(100 + 10);
  });

  it("never deletes what a usage names, by tag or by digest", () => {
    const p = plan(inv, policy(), [
      usage(`${REGISTRY}/team/api:v1`),
      usage(`${REGISTRY}/team/web@${amd.digest}`),
    ]);
    const deleted = p.delete.map((e) => e.digest);
    expect(deleted).not.toContain(oldA.digest);
    expect(deleted).not.toContain(amd.digest);
    expect(deleted).not.toContain(multi.digest);
    expect(deleted).not.toContain(sig.digest);
    const inUse = p.keep.find((e) => e.digest === oldA.digest);
    expect(inUse?.reasons[0]).toMatchObject({ rule: "in-use", source: "test" });
  });

  it("passes resolution warnings through", () => {
    const p = plan(inv, policy(), [usage(`${REGISTRY}/team/api:missing`)]);
    expect(p.warnings.some((w) => w.includes("team/api:missing"))).toBe(true);
  });

  it("warns that --untagged reaches only index children and referrers where the registry cannot list untagged manifests", () => {
    const blind: Inventory = { ...inv, listsUntagged: false };
    expect(plan(blind, policy({ untagged: true })).warnings.some((w) => w.includes("untagged"))).toBe(true);
    expect(plan(blind, policy({ untagged: false })).warnings).toEqual([]);
    expect(plan(inv, policy({ untagged: true })).warnings).toEqual([]);
  });

  it("is deterministic", () => {
    const p = policy({ ago: 30, keep: 1, untagged: true });
    expect(plan(inv, p)).toEqual(plan(inv, p));
  });
});

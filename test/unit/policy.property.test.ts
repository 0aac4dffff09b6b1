/**
 * Property-based tests of DESIGN.md safety invariant 1 (and the policy rules around it) on
 * generated repositories: images, indexes over random earlier manifests (nested too), referrers
 * (subject field, cosign .sig/.att/.sbom tags, the bare sha256-<hex> fallback index), orphans,
 * tags from a small pool, random or unknown ages, random locks; random policies and usages.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ManifestNode, RepositoryInventory } from "../../src/inventory/graph.js";
import { type Digest, sha256Digest } from "../../src/oci/digest.js";
import { buildPlan } from "../../src/plan/build-plan.js";
import { planSchema } from "../../src/plan/plan-schema.js";
import type { PurgePolicy } from "../../src/policy/purge-policy.js";
import { decideRepository } from "../../src/policy/purge-policy.js";
import type { Decision } from "../../src/policy/reasons.js";
import { resolveUsages } from "../../src/usage/resolve.js";
import type { Usage } from "../../src/usage/usage.js";
import {
  artifact,
  blobOf,
  cosign,
  DAY,
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

const RUNS = { numRuns: 200 };
const REPO = "team/app";
const TAG_POOL = ["latest", "v1", "v2", "v3", "dev", "release"] as const;
const FILTER_POOL = [
  ".*:.*",
  "team/.*:.*",
  "team/app:^v",
  "team/app:v1|dev",
  "team/app:latest",
  "other/.*:.*",
  "team:.*",
] as const;
/** Keep reasons that are protections (no selection rule): the only ones a follower may have. */
const PROTECTIONS = new Set([
  "in-use",
  "index-of-in-use-child",
  "locked",
  "child-of-kept-index",
  "referrer-of-kept-subject",
]);

type Kind = "image" | "index" | "artifact" | "sig" | "att" | "sbom" | "fallback";

interface NodeSpec {
  readonly kind: Kind;
  readonly picks: readonly number[];
  readonly orphan: boolean;
  readonly age: number | undefined;
  readonly locked: boolean;
  readonly blobs: readonly number[];
}

interface Scenario {
  readonly nodes: readonly NodeSpec[];
  /** For each pool tag: the node (modulo) holding it, or none. */
  readonly tags: readonly (number | undefined)[];
  readonly filters: readonly string[];
  readonly ago: number | undefined;
  readonly keep: number | undefined;
  readonly untagged: boolean;
  readonly usedDigests: readonly number[];
  readonly usedTags: readonly string[];
}

const nodeSpec: fc.Arbitrary<NodeSpec> = fc.record({
  kind: fc.constantFrom<Kind>(
    "image",
    "image",
    "image",
    "index",
    "index",
    "index",
    "artifact",
    "artifact",
    "sig",
    "att",
    "sbom",
    "fallback",
  ),
  picks: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
  orphan: fc.nat({ max: 5 }).map((x) => x === 0),
  age: fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined }),
  locked: fc.nat({ max: 9 }).map((x) => x === 0),
  blobs: fc.array(fc.nat({ max: 4 }), { maxLength: 2 }),
});

const scenario: fc.Arbitrary<Scenario> = fc.record({
  nodes: fc.array(nodeSpec, { minLength: 1, maxLength: 10 }),
  tags: fc.array(fc.option(fc.nat(), { nil: undefined }), {
    minLength: TAG_POOL.length,
    maxLength: TAG_POOL.length,
  }),
  // Mostly filters that select something, sometimes a second one that may not.
  filters: fc
    .tuple(
      fc.constantFrom(...FILTER_POOL.slice(0, 4)),
      fc.option(fc.constantFrom(...FILTER_POOL), { nil: undefined }),
    )
    .map(([a, b]) => (b === undefined || b === a ? [a] : [a, b])),
  ago: fc.option(fc.constantFrom(0, 10, 30), { nil: undefined }),
  keep: fc.option(fc.constantFrom(0, 1, 2, 3), { nil: undefined }),
  untagged: fc.boolean(),
  usedDigests: fc.array(fc.nat(), { maxLength: 2 }),
  usedTags: fc.subarray([...TAG_POOL, "missing"], { maxLength: 2 }),
});

/** Builds one repository from a scenario: every edge points at an earlier node, so the graph is a DAG. */
function buildRepository(s: Scenario): RepositoryInventory {
  const nodes: ManifestNode[] = [];
  const pick = (p: number) => nodes[p % nodes.length] as ManifestNode;
  s.nodes.forEach((spec, i) => {
    const common = {
      ...(spec.age !== undefined ? { age: spec.age } : {}),
      locked: spec.locked,
      blobs: spec.blobs.map((b) => blobOf(`b${b}`, 100 * (b + 1))),
    };
    const kind: Kind = nodes.length === 0 ? "image" : spec.kind;
    const subjectOf = (): Digest =>
      spec.orphan ? sha256Digest(`gone-${i}`) : pick(spec.picks[0] ?? 0).digest;
    let node: ManifestNode;
    switch (kind) {
      case "image":
        node = image(`n${i}`, common);
        break;
      case "index":
        node = index(`n${i}`, [...new Set(spec.picks.map(pick))], { ...common, blobs: [] });
        break;
      case "artifact":
        node = artifact(`n${i}`, subjectOf(), common);
        break;
      case "sig":
      case "att":
      case "sbom":
        node = cosign(subjectOf(), kind, common);
        break;
      case "fallback": {
        // Prefer a subject that already has referrers, so the fallback index lists something.
        const subjects = [...new Set(nodes.flatMap((n) => (n.subject ? [n.subject] : [])))];
        const subject =
          subjects.length > 0 ? (subjects[(spec.picks[0] ?? 0) % subjects.length] as Digest) : subjectOf();
        const referrers = nodes.filter((n) => n.subject === subject);
        node = fallbackIndex(subject, referrers, { ...common, blobs: [] });
        break;
      }
    }
    if (!nodes.some((n) => n.digest === node.digest || n.tags.some((t) => node.tags.includes(t))))
      nodes.push(node);
  });
  // Pool tags: each on at most one manifest, as in a registry.
  const extra = new Map<Digest, string[]>();
  s.tags.forEach((at, t) => {
    if (at === undefined) return;
    const d = pick(at).digest;
    extra.set(d, [...(extra.get(d) ?? []), TAG_POOL[t] as string]);
  });
  return repo(
    REPO,
    ...nodes.map((n) =>
      extra.has(n.digest) ? { ...n, tags: [...n.tags, ...(extra.get(n.digest) ?? [])].sort() } : n,
    ),
  );
}

function policyOf(s: Scenario): PurgePolicy {
  return policy({
    filter: s.filters,
    ...(s.ago !== undefined ? { ago: s.ago } : {}),
    ...(s.keep !== undefined ? { keep: s.keep } : {}),
    untagged: s.untagged,
  });
}

function usagesOf(s: Scenario, r: RepositoryInventory): Usage[] {
  const byDigest = s.usedDigests.map((p) => {
    const n = r.manifests[p % r.manifests.length] as ManifestNode;
    return usage(`${REGISTRY}/${REPO}@${n.digest}`, `digest-${p}`);
  });
  const byTag = s.usedTags.map((t) => usage(`${REGISTRY}/${REPO}:${t}`, `tag-${t}`));
  const elsewhere = usage(`not${REGISTRY}/${REPO}:v1`, "other-registry");
  return [...byDigest, ...byTag, elsewhere];
}

/** What the scenario's usages name, worked out independently of resolveUsages. */
function expectedInUse(s: Scenario, r: RepositoryInventory): Set<Digest> {
  const used = new Set<Digest>();
  for (const p of s.usedDigests) used.add((r.manifests[p % r.manifests.length] as ManifestNode).digest);
  for (const t of s.usedTags) for (const n of r.manifests) if (n.tags.includes(t)) used.add(n.digest);
  return used;
}

interface Run {
  readonly repository: RepositoryInventory;
  readonly nodes: Map<Digest, ManifestNode>;
  readonly parents: Map<Digest, Digest[]>;
  readonly inUse: ReadonlyMap<Digest, readonly Usage[]>;
  readonly used: Set<Digest>;
  readonly policy: PurgePolicy;
  readonly decisions: Map<Digest, Decision>;
}

function run(s: Scenario, override: Partial<PurgePolicy> = {}): Run {
  const repository = buildRepository(s);
  const nodes = new Map(repository.manifests.map((n) => [n.digest, n]));
  const parents = new Map<Digest, Digest[]>();
  for (const n of repository.manifests) {
    for (const c of n.children) if (nodes.has(c)) parents.set(c, [...(parents.get(c) ?? []), n.digest]);
  }
  const resolution = resolveUsages(inventory(repository), usagesOf(s, repository));
  const inUse = resolution.inUse.get(REPO) ?? new Map<Digest, readonly Usage[]>();
  const p = { ...policyOf(s), ...override };
  return {
    repository,
    nodes,
    parents,
    inUse,
    used: expectedInUse(s, repository),
    policy: p,
    decisions: decideRepository(repository, p, inUse, NOW),
  };
}

function ancestorsOf(d: Digest, parents: Map<Digest, Digest[]>): Set<Digest> {
  const found = new Set<Digest>();
  const stack = [...(parents.get(d) ?? [])];
  for (let x = stack.pop(); x !== undefined; x = stack.pop()) {
    if (found.has(x)) continue;
    found.add(x);
    stack.push(...(parents.get(x) ?? []));
  }
  return found;
}

const deleted = (r: Run, d: Digest) => r.decisions.get(d)?.action === "delete";
const kept = (r: Run, d: Digest) => r.decisions.get(d)?.action === "keep";
const rulesOf = (r: Run, d: Digest) => (r.decisions.get(d)?.reasons ?? []).map((x) => x.rule as string);
const hasPresentSubject = (r: Run, n: ManifestNode) => n.subject !== undefined && r.nodes.has(n.subject);
const isFollower = (r: Run, n: ManifestNode) =>
  hasPresentSubject(r, n) || (n.tags.length === 0 && (r.parents.get(n.digest) ?? []).length > 0);
const time = (n: ManifestNode) => (n.created ? Date.parse(n.created) : Number.POSITIVE_INFINITY);

describe("policy properties on generated repositories (DESIGN invariant 1)", () => {
  it("resolves usages to exactly the digests they name (by digest, or by tag at plan time)", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const r = run(s);
        expect(new Set(r.inUse.keys())).toEqual(r.used);
      }),
      RUNS,
    );
  });

  it("decides every manifest, each with at least one reason", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const r = run(s);
        expect(r.decisions.size).toBe(r.repository.manifests.length);
        for (const n of r.repository.manifests) {
          expect(r.decisions.get(n.digest)?.reasons.length ?? 0).toBeGreaterThan(0);
        }
      }),
      RUNS,
    );
  });

  it("never deletes an in-use digest", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const r = run(s);
        for (const d of r.used) if (r.nodes.has(d)) expect(deleted(r, d)).toBe(false);
      }),
      RUNS,
    );
  });

  it("never deletes an index that lists an in-use manifest, however deeply", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const r = run(s);
        for (const d of r.used) for (const a of ancestorsOf(d, r.parents)) expect(deleted(r, a)).toBe(false);
      }),
      RUNS,
    );
  });

  it("never deletes a child of a kept index", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const r = run(s);
        for (const n of r.repository.manifests) {
          if (!kept(r, n.digest)) continue;
          for (const c of n.children) if (r.nodes.has(c)) expect(deleted(r, c)).toBe(false);
        }
      }),
      RUNS,
    );
  });

  it("never deletes a referrer of a kept subject", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const r = run(s);
        for (const n of r.repository.manifests) {
          if (hasPresentSubject(r, n) && kept(r, n.subject as Digest))
            expect(deleted(r, n.digest)).toBe(false);
        }
      }),
      RUNS,
    );
  });

  it("never deletes a locked manifest", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const r = run(s);
        for (const n of r.repository.manifests) if (n.locked) expect(deleted(r, n.digest)).toBe(false);
      }),
      RUNS,
    );
  });

  it("never selects a follower on its own: referrers and untagged children are kept only by protections", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const r = run(s);
        for (const n of r.repository.manifests) {
          if (!isFollower(r, n) || !kept(r, n.digest)) continue;
          for (const rule of rulesOf(r, n.digest))
            expect(PROTECTIONS.has(rule), `${rule} on a follower`).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it("deletes only what the policy selects or what follows a deleted index or subject", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const r = run(s);
        const ago = r.policy.agoMs ?? 0;
        for (const n of r.repository.manifests) {
          if (!deleted(r, n.digest)) continue;
          if (hasPresentSubject(r, n)) {
            expect(deleted(r, n.subject as Digest), "a referrer is deleted only with its subject").toBe(true);
            continue;
          }
          const parents = r.parents.get(n.digest) ?? [];
          if (n.tags.length === 0 && parents.length > 0) {
            for (const p of parents)
              expect(deleted(r, p), "an untagged child goes only with all its indexes").toBe(true);
            continue;
          }
          const filters = r.policy.filters.filter((f) => f.repository.test(REPO));
          expect(filters.length).toBeGreaterThan(0);
          if (n.tags.length > 0) {
            for (const t of n.tags)
              expect(
                filters.some((f) => f.tag.test(t)),
                `tag ${t} selected`,
              ).toBe(true);
          } else {
            expect(r.policy.untagged).toBe(true);
          }
          if (ago > 0) {
            expect(n.created).toBeDefined();
            expect(NOW.getTime() - time(n)).toBeGreaterThan(ago);
          }
        }
      }),
      RUNS,
    );
  });

  it("is deterministic, and does not depend on the order the registry listed manifests in", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const r = run(s);
        expect(run(s).decisions).toEqual(r.decisions);
        const reversed = { ...r.repository, manifests: [...r.repository.manifests].reverse() };
        const again = decideRepository(reversed, r.policy, r.inUse, NOW);
        for (const n of r.repository.manifests)
          expect(again.get(n.digest)?.action).toBe(r.decisions.get(n.digest)?.action);
      }),
      RUNS,
    );
  });

  it("--keep only ever turns deletions into keeps", () => {
    fc.assert(
      fc.property(scenario, fc.integer({ min: 1, max: 4 }), (s, keep) => {
        const without = run(s, { keep: undefined });
        const withKeep = run(s, { keep });
        for (const n of withKeep.repository.manifests) {
          if (deleted(withKeep, n.digest)) expect(deleted(without, n.digest)).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it("--keep N keeps the newest N distinct tagged, non-referrer digests of those that would otherwise be deleted", () => {
    fc.assert(
      fc.property(scenario, fc.integer({ min: 1, max: 4 }), (s, keep) => {
        const without = run(s, { keep: undefined });
        const withKeep = run(s, { keep });
        const countable = withKeep.repository.manifests.filter(
          (n) => deleted(without, n.digest) && n.tags.length > 0 && n.subject === undefined,
        );
        const slots = withKeep.repository.manifests.filter((n) =>
          rulesOf(withKeep, n.digest).includes("keep-newest"),
        );
        for (const n of slots) {
          expect(
            countable.includes(n),
            `${n.digest} (${n.tags.join(",")}) holds a slot but would not be deleted`,
          ).toBe(true);
        }
        expect(slots.length).toBeLessThanOrEqual(keep);
        const stillDeleted = countable.filter((n) => deleted(withKeep, n.digest));
        if (slots.length < keep) expect(stillDeleted).toEqual([]);
        for (const k of slots) for (const c of stillDeleted) expect(time(k)).toBeGreaterThanOrEqual(time(c));
      }),
      RUNS,
    );
  });

  it("plans deletions so that a subject goes before its referrers and an index before its children", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const repository = buildRepository(s);
        const inv = inventory(repository);
        const plan = buildPlan({
          inventory: inv,
          policy: policyOf(s),
          resolution: resolveUsages(inv, usagesOf(s, repository)),
          now: NOW,
          options: {
            filters: [...s.filters],
            ago: s.ago === undefined ? null : `${s.ago}d`,
            keep: s.keep ?? null,
            untagged: s.untagged,
          },
        });
        expect(() => planSchema.parse(plan)).not.toThrow();
        const at = new Map(plan.delete.map((e, i) => [e.digest as Digest, i]));
        expect(at.size).toBe(plan.delete.length);
        for (const e of plan.delete) {
          const i = at.get(e.digest as Digest) as number;
          if (e.subject && at.has(e.subject as Digest))
            expect(at.get(e.subject as Digest) as number).toBeLessThan(i);
          for (const c of e.children ?? [])
            if (at.has(c as Digest)) expect(i).toBeLessThan(at.get(c as Digest) as number);
        }
        const used = expectedInUse(s, repository);
        for (const e of plan.delete) expect(used.has(e.digest as Digest)).toBe(false);
        expect(plan.summary.manifests).toBe(repository.manifests.length);
        expect(plan.summary.reclaimableBytes).toBeLessThanOrEqual(
          plan.delete.reduce((sum, e) => sum + e.sizeBytes, 0),
        );
      }),
      RUNS,
    );
  });

  it("deletes more, never less, as --ago shrinks (no --keep)", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const strict = run(s, { agoMs: 30 * DAY, keep: undefined });
        const loose = run(s, { agoMs: 10 * DAY, keep: undefined });
        for (const n of strict.repository.manifests) {
          if (deleted(strict, n.digest)) expect(deleted(loose, n.digest)).toBe(true);
        }
      }),
      RUNS,
    );
  });
});

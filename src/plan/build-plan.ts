import type { BlobRef, Inventory, ManifestNode } from "../inventory/graph.js";
import type { Digest } from "../oci/digest.js";
import type { FilterPattern } from "../policy/filter.js";
import { judgeTag, type PullRequestRule } from "../policy/pull-request-rule.js";
import type { PurgePolicy } from "../policy/purge-policy.js";
import { decideRepository, type ShareReason } from "../policy/purge-policy.js";
import type { Decision, Reason } from "../policy/reasons.js";
import type { RecordIndex, Resolution } from "../usage/resolve.js";
import { deletionOrder } from "./deletion-order.js";
import type { DeleteEntry, KeepEntry, Plan, UntagEntry } from "./plan-schema.js";
import { ReasonPool } from "./reason-pool.js";
import { reclaimableBytes } from "./reclaimable.js";

export interface PlanInput {
  readonly inventory: Inventory;
  readonly policy: PurgePolicy;
  readonly resolution: Resolution;
  /** Database records of the images: an owner where no usage names one. */
  readonly records?: RecordIndex;
  readonly now: Date;
  readonly options: Plan["options"];
  readonly registryUrl?: string;
  readonly registryType?: Plan["registryType"];
  readonly usage?: Plan["usage"];
  /** A usage source read pull records (ACR's logs), so the registry's own pull times are not all there is. */
  readonly pullRecords?: boolean;
}

/** Turns an inventory, the in-use references and a policy into a plan. Pure. */
export function buildPlan(input: PlanInput): Plan {
  const { inventory, policy, resolution, now } = input;
  // Only a pull-request rule needs every decision afterwards; without one, none is held.
  const decided = policy.pullRequests ? { deleted: [] as Decided[], kept: [] as Decided[] } : undefined;
  const deletedNodes: ManifestNode[] = [];
  const keptNodes: ManifestNode[] = [];
  const deleteEntries: DeleteEntry[] = [];
  const keepEntries: KeepEntry[] = [];
  let inUse = 0;
  const reasons = new ReasonPool();
  const share: ShareReason = (rule, detail) => reasons.of(rule, detail) as Reason<typeof rule>;
  for (const repo of inventory.repositories) {
    const decisions = decideRepository(
      repo,
      policy,
      resolution.inUse.get(repo.name) ?? new Map(),
      now,
      resolution.usedRepositories.has(repo.name),
      share,
    );
    const nodes = new Map(repo.manifests.map((n) => [n.digest, n]));
    const owners = ownersOf(repo.name, nodes, resolution, input.records);
    const toDelete: ManifestNode[] = [];
    for (const node of repo.manifests) {
      const decision = decisions.get(node.digest) as Decision;
      if (decided)
        (decision.action === "delete" ? decided.deleted : decided.kept).push({
          repository: repo.name,
          node,
          decision,
        });
      if (decision.action === "delete") {
        toDelete.push(node);
        deletedNodes.push(node);
        continue;
      }
      keptNodes.push(node);
      if (decision.reasons.some((r) => r.rule === "in-use")) inUse++;
      keepEntries.push(
        entry(repo.name, node, owners.get(node.digest), reasons.shareAll(decision.reasons as Reason[])),
      );
    }
    for (const digest of deletionOrder(toDelete)) {
      const node = nodes.get(digest) as ManifestNode;
      const planned: DeleteEntry = entry(
        repo.name,
        node,
        owners.get(digest),
        reasons.shareAll((decisions.get(digest) as Decision).reasons as Reason[]),
      );
      if (node.children.length > 0) planned.children = node.children as Digest[];
      if (node.subject) planned.subject = node.subject;
      deleteEntries.push(planned);
    }
  }
  const warnings = [...inventory.repositories.flatMap((r) => r.warnings ?? []), ...resolution.warnings];
  if (
    policy.protectPulledWithinMs &&
    !input.pullRecords &&
    inventory.repositories.every((r) => r.manifests.every((m) => m.lastPulled === undefined))
  ) {
    warnings.push(
      `registry ${inventory.registry} recorded no pull times (ECR does; plain distribution and OCI layouts do not): --protect-pulled-within protected nothing`,
    );
  }
  if ((policy.untagged || policy.untaggedOnly) && !inventory.listsUntagged) {
    warnings.push(
      `registry ${inventory.registry} cannot list untagged manifests (the distribution API has no such call): ${policy.untaggedOnly ? "--untagged-only" : "--untagged"} reached only index children and referrers`,
    );
  }
  if (
    policy.ageFrom === "updated" &&
    !inventory.repositories.some((r) => r.manifests.some((m) => m.updated !== undefined))
  ) {
    warnings.push(
      `registry ${inventory.registry} keeps no update times (ACR does; plain distribution and OCI layouts do not): --age-from updated read the creation times`,
    );
  }
  const oldInUse =
    policy.agoMs && policy.agoMs > 0
      ? keepEntries.flatMap((k) => {
          const age = k.created ? now.getTime() - Date.parse(k.created) : 0;
          const usedBy = k.reasons.filter((r) => r.rule === "in-use").map((r) => r.source ?? r.detail);
          if (usedBy.length === 0 || !k.created || age <= (policy.agoMs ?? 0)) return [];
          const daysOverThreshold = Math.floor((age - (policy.agoMs ?? 0)) / 86_400_000);
          return [
            {
              repository: k.repository,
              digest: k.digest,
              tags: k.tags,
              created: k.created,
              daysOverThreshold,
              usedBy,
            },
          ];
        })
      : [];
  const untag =
    policy.pullRequests?.action === "untag" && decided
      ? untagEntries(policy.pullRequests, decided.kept, resolution, policy.protectTags ?? [])
      : undefined;
  const pullRequests =
    policy.pullRequests && decided
      ? pullRequestTags(
          policy.pullRequests,
          decided.deleted,
          decided.kept,
          new Set(untag?.map((u) => `${u.repository}:${u.tag}`)),
        )
      : undefined;
  return {
    version: 1,
    registry: inventory.registry,
    ...(input.registryUrl ? { registryUrl: input.registryUrl } : {}),
    ...(input.registryType ? { registryType: input.registryType } : {}),
    ...(input.usage ? { usage: input.usage } : {}),
    createdAt: now.toISOString(),
    options: input.options,
    summary: {
      repositories: inventory.repositories.length,
      manifests: deletedNodes.length + keptNodes.length,
      delete: deletedNodes.length,
      keep: keptNodes.length,
      inUse,
      reclaimableBytes: reclaimableBytes(deletedNodes, keptNodes),
    },
    delete: deleteEntries,
    keep: keepEntries,
    warnings,
    oldInUse: oldInUse.sort((a, b) => a.created.localeCompare(b.created)),
    ...(untag ? { untag } : {}),
    ...(pullRequests ? { pullRequests } : {}),
  };
}

type Decided = { repository: string; node: ManifestNode; decision: Decision };

/** Every pull-request tag, deleted or preserved, with its PR, status and (when preserved) why. */
function pullRequestTags(
  rule: PullRequestRule,
  deleted: readonly Decided[],
  kept: readonly Decided[],
  /** `repo:tag` removed by untag: deleted tags, although their manifests stay. */
  untagged: ReadonlySet<string>,
): NonNullable<Plan["pullRequests"]> {
  const rows = (list: readonly Decided[]) =>
    list.flatMap(({ repository, node, decision }) =>
      node.tags.flatMap((tag) => {
        const verdict = judgeTag(tag, rule);
        return verdict.kind === "not-a-pull-request-tag"
          ? []
          : [{ repository, tag, node, decision, verdict }];
      }),
    );
  const order = (a: { repository: string; tag: string }, b: { repository: string; tag: string }) =>
    a.repository.localeCompare(b.repository) || a.tag.localeCompare(b.tag);
  return {
    provider: rule.provider,
    deleted: [...rows(deleted), ...rows(kept).filter((r) => untagged.has(`${r.repository}:${r.tag}`))]
      .map(({ repository, tag, node, verdict }) => ({
        repository,
        tag,
        pr: "pr" in verdict ? verdict.pr : 0,
        status: "status" in verdict ? verdict.status : "unknown",
        digest: node.digest,
      }))
      .sort(order),
    preserved: rows(kept)
      .filter((r) => !untagged.has(`${r.repository}:${r.tag}`))
      .map(({ repository, tag, node, decision, verdict }) => {
        // The strongest reason first: in use beats an open PR, which beats any other rule.
        const inUse = decision.reasons.find((r) => r.rule === "in-use");
        const pr = decision.reasons.find(
          (r) => r.rule.startsWith("pull-request") || r.rule === "not-a-pull-request-tag",
        );
        const why = inUse
          ? `in use: ${inUse.source ?? inUse.detail}`
          : ((pr ?? decision.reasons[0])?.detail ?? "kept");
        return {
          repository,
          tag,
          pr: "pr" in verdict ? verdict.pr : 0,
          status: "status" in verdict ? verdict.status : null,
          reason: why,
          digest: node.digest,
        };
      })
      .sort(order),
  };
}

/**
 * With `action: untag`: the closed PRs' tags on manifests that stay. A tag an in-use reference
 * names is never removed: a workload pulling by it would fail; nor is a protected one.
 */
function untagEntries(
  rule: PullRequestRule,
  kept: readonly Decided[],
  resolution: Resolution,
  /** --protect-tag: a protected tag is never removed either. */
  protectTags: readonly FilterPattern[],
): UntagEntry[] {
  return kept.flatMap(({ repository, node }) => {
    const usedTags = new Set(
      [...(resolution.inUse.get(repository)?.values() ?? [])].flat().map((u) => u.reference.tag),
    );
    return node.tags.flatMap((tag) => {
      const v = judgeTag(tag, rule);
      if (v.kind !== "closed" || usedTags.has(tag) || protectTags.some((p) => p.test(tag))) return [];
      const detail = `PR ${v.pr} is ${v.status} (${rule.provider})`;
      return [{ repository, tag, digest: node.digest, reasons: [{ rule: "pull-request-closed", detail }] }];
    });
  });
}

/**
 * Each manifest's owner, for size reports by owner: the first a usage of it names, else a database
 * record of it, else the one the manifest itself names (an annotation or label, see OwnerSource); a manifest with neither
 * takes the owner of an index that lists it (the first such index by digest, nested ones too).
 */
function ownersOf(
  repository: string,
  nodes: ReadonlyMap<Digest, ManifestNode>,
  resolution: Resolution,
  records: RecordIndex | undefined,
): Map<Digest, string> {
  const owners = new Map<Digest, string>();
  for (const node of nodes.values()) {
    const owner = ownerOf(resolution, records, repository, node.digest) ?? node.owner;
    if (owner) owners.set(node.digest, owner);
  }
  const inherit = (digest: Digest, owner: string, seen: Set<Digest>) => {
    for (const child of nodes.get(digest)?.children ?? []) {
      if (owners.has(child) || seen.has(child)) continue;
      seen.add(child);
      owners.set(child, owner);
      inherit(child, owner, seen);
    }
  };
  // Sorted after filtering: most repositories have no owned index, and a sort of every node is not free.
  const ownIndexes = [...nodes.values()]
    .filter((n) => n.children.length > 0 && owners.has(n.digest))
    .sort((a, b) => a.digest.localeCompare(b.digest));
  for (const index of ownIndexes) inherit(index.digest, owners.get(index.digest) as string, new Set());
  return owners;
}

/** The first owner a usage of this digest names, else a record of it, for size reports by owner. */
function ownerOf(
  resolution: Resolution,
  records: RecordIndex | undefined,
  repository: string,
  digest: Digest,
): string | undefined {
  return (
    resolution.inUse
      .get(repository)
      ?.get(digest)
      ?.find((u) => u.owner)?.owner ??
    records
      ?.get(repository)
      ?.get(digest)
      ?.find((r) => r.owner)?.owner
  );
}

/**
 * The fields every entry has. A plan of a million manifests must fit beside its inventory, so an
 * entry shares what it can with the node (its tags, its blob references) instead of copying it:
 * plans are read, not edited.
 */
function entry(
  repository: string,
  node: ManifestNode,
  owner: string | undefined,
  reasons: Reason[],
): KeepEntry {
  const self = { digest: node.digest, size: node.manifestSize };
  // concat allocates what it holds; a spread or push grows the array with room for a dozen more.
  const blobs: BlobRef[] = [self].concat(
    node.blobs.every(isPlainBlobRef)
      ? node.blobs
      : node.blobs.map((b) => ({ digest: b.digest, size: b.size })),
  );
  // One literal in the plan's field order; an owner (rare) goes second, so it takes a copy.
  const made: KeepEntry = {
    repository,
    digest: node.digest as Digest,
    tags: node.tags as string[],
    mediaType: node.mediaType,
    created: node.created ?? null,
    ageSource: node.ageSource,
    sizeBytes: node.sizeBytes,
    blobs,
    reasons,
  };
  if (!owner) return made;
  const { repository: _first, ...rest } = made;
  return { repository, owner, ...rest };
}

/**
 * A blob reference with no other field than digest and size (JSON.stringify writes own
 * enumerable fields only, so that is what counts), which the plan can list as it is.
 */
function isPlainBlobRef(b: BlobRef): boolean {
  // for-in reads the shape's cached keys; Object.keys would allocate an array per blob. It also
  // counts inherited enumerable keys, which JSON.stringify skips: such a blob is copied, harmlessly.
  let keys = 0;
  for (const _ in b) keys++;
  return keys === 2;
}

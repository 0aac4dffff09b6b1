import type { ManifestNode, RepositoryInventory } from "../inventory/graph.js";
import type { Digest } from "../oci/digest.js";
import type { Usage } from "../usage/usage.js";
import type { Filter, FilterPattern } from "./filter.js";
import { judgeTag, type PullRequestRule } from "./pull-request-rule.js";
import { type Decision, type DeleteRule, flatText, type KeepRule, type Reason } from "./reasons.js";

export interface PurgePolicy {
  readonly filters: readonly Filter[];
  /** Only manifests older than this are deleted; absent or 0: any age. */
  readonly agoMs?: number;
  /** Of the manifests that would otherwise be deleted, keep the newest N distinct digests. */
  readonly keep?: number;
  /** Untagged top-level manifests are candidates too. */
  readonly untagged: boolean;
  /**
   * acr purge --untagged-only: only untagged manifests are candidates; no tagged manifest is
   * selected, and only the repository part of a filter counts. Implies untagged.
   */
  readonly untaggedOnly?: boolean;
  /**
   * Which time --ago and --keep read: created (the registry's push time, else the config's; the
   * default) or updated (ACR's lastUpdateTime, as acr purge; where the registry keeps none, the
   * creation time stands in).
   */
  readonly ageFrom?: "created" | "updated";
  /** used-repositories: delete only in repositories some usage source references (the AKS script's rule). */
  readonly scope?: "all" | "used-repositories";
  /**
   * Tags of closed pull requests: with it, a tagged manifest goes only when every tag on it names a
   * pull request whose status is in deleteWhen; an open PR, an unreadable status or any other tag keeps it.
   */
  readonly pullRequests?: PullRequestRule;
  /**
   * `--protect-tag`: a manifest carrying a tag one of these matches whole is kept, like an in-use
   * one (its children and referrers with it), and takes no `--keep` slot: keep counts only what
   * would otherwise go.
   */
  readonly protectTags?: readonly FilterPattern[];
  /** Keep what the registry says was pulled within this long (ECR's lastRecordedPullTime). */
  readonly protectPulledWithinMs?: number;
  /**
   * Only these digests may go (`--object-ids`: the images of the objects named), each still subject
   * to every other rule and protection. Empty means nothing may go, never everything.
   */
  readonly targets?: { readonly label: string; readonly digests: ReadonlyMap<string, ReadonlySet<Digest>> };
}

/** The reason for this rule and detail: a shared one, or a new one. */
export type ShareReason = <R extends KeepRule | DeleteRule>(rule: R, detail: string) => Reason<R>;

const unshared: ShareReason = (rule, detail) => ({ rule, detail });

type Selection =
  | { readonly selected: true; readonly reasons: Reason<DeleteRule>[] }
  | { readonly selected: false; readonly reason: Reason<KeepRule> };

/**
 * Decides keep or delete for every manifest of one repository. Pure: the same inputs give the
 * same decisions. Protections (in use, locked, and everything they reach through indexes and
 * referrers) are applied last and no rule overrides them.
 */
export function decideRepository(
  repo: RepositoryInventory,
  policy: PurgePolicy,
  inUse: ReadonlyMap<Digest, readonly Usage[]>,
  now: Date,
  repositoryUsed = true,
  /**
   * One object per distinct reason across the repositories of a plan (ReasonPool.of): a reason made
   * here and dropped for the shared one at the end of the repository would outlive a young
   * collection or two, and a million of them is old-space garbage.
   */
  share: ShareReason = unshared,
): Map<Digest, Decision> {
  const nodes = new Map(repo.manifests.map((n) => [n.digest, n]));
  const parents = new Map<Digest, Digest[]>();
  const referrers = new Map<Digest, Digest[]>();
  const append = (map: Map<Digest, Digest[]>, key: Digest, value: Digest) => {
    const list = map.get(key);
    if (list) list.push(value);
    else map.set(key, [value]);
  };
  for (const n of repo.manifests) {
    for (const c of n.children) if (nodes.has(c)) append(parents, c, n.digest);
    if (n.subject && nodes.has(n.subject) && n.subject !== n.digest) append(referrers, n.subject, n.digest);
  }
  const keep = new Map<Digest, Reason<KeepRule>[]>();
  const addKeep = (digest: Digest, reason: Reason<KeepRule>) => {
    const list = keep.get(digest);
    if (list) list.push(reason);
    else keep.set(digest, [reason]);
  };

  // Protections first, so that --keep counts only what would really go.
  for (const [digest, usages] of inUse) {
    if (!nodes.has(digest)) continue;
    for (const u of usages) addKeep(digest, { rule: "in-use", detail: `used as ${u.raw}`, source: u.source });
    // Runtimes report the platform child as often as the index: every index above it stays.
    for (const index of ancestors(digest, parents)) {
      addKeep(index, { rule: "index-of-in-use-child", detail: `lists ${short(digest)}, which is in use` });
    }
  }
  for (const n of repo.manifests) {
    if (n.locked)
      addKeep(n.digest, { rule: "locked", detail: "the registry marks it locked (delete disabled)" });
    if (n.lockedTags?.length) {
      addKeep(n.digest, {
        rule: "locked",
        detail: `tag ${n.lockedTags.join(", ")} is locked (delete or write disabled), so its manifest stays`,
      });
    }
    const protectedBy = protectingPattern(n.tags, policy.protectTags);
    if (protectedBy) {
      addKeep(n.digest, {
        rule: "protected-tag",
        detail: `tag ${protectedBy.tag} matches --protect-tag ${protectedBy.pattern}`,
      });
    }
    const window = policy.protectPulledWithinMs;
    if (window && n.lastPulled && now.getTime() - Date.parse(n.lastPulled) <= window) {
      addKeep(n.digest, {
        rule: "pulled-recently",
        detail: `the registry recorded a pull on ${n.lastPulled}, within --protect-pulled-within`,
      });
      // Pulled through an index or as a platform: the indexes listing it stay too, as for in-use.
      for (const index of ancestors(n.digest, parents)) {
        addKeep(index, { rule: "pulled-recently", detail: `lists ${short(n.digest)}, pulled recently` });
      }
    }
  }

  const selected = new Map<Digest, Reason<DeleteRule>[]>();
  const filters = repositoryFilters(repo.name, policy);
  for (const n of repo.manifests) {
    if (isFollower(n, nodes, parents)) continue;
    const s: Selection =
      policy.scope === "used-repositories" && !repositoryUsed
        ? {
            selected: false,
            reason: {
              rule: "repository-not-used",
              detail: "no usage source references this repository (--scope used-repositories)",
            },
          }
        : policy.targets && !policy.targets.digests.get(repo.name)?.has(n.digest)
          ? {
              selected: false,
              reason: {
                rule: "not-targeted",
                detail: `not an image of the objects ${policy.targets.label} names`,
              },
            }
          : select(n, filters, nodes, policy, now, share);
    if (s.selected) selected.set(n.digest, s.reasons);
    else addKeep(n.digest, s.reason);
  }

  // What is kept keeps what it needs: an index its children, a subject its referrers.
  const keepWhatKeptNeeds = (seeds: Iterable<Digest>) => {
    const queue = [...seeds];
    for (let digest = queue.pop(); digest !== undefined; digest = queue.pop()) {
      const n = nodes.get(digest);
      if (!n) continue;
      for (const child of n.children) {
        if (!nodes.has(child)) continue;
        const fresh = !keep.has(child);
        addKeep(child, {
          rule: "child-of-kept-index",
          detail: flatText("listed by kept index ", short(digest)),
        });
        if (fresh) queue.push(child);
      }
      for (const r of referrers.get(digest) ?? []) {
        const fresh = !keep.has(r);
        addKeep(r, { rule: "referrer-of-kept-subject", detail: flatText("refers to kept ", short(digest)) });
        if (fresh) queue.push(r);
      }
    }
  };
  keepWhatKeptNeeds(keep.keys());

  if (policy.keep && policy.keep > 0) {
    // Counted only after the closure above, so that a slot never goes to something that stays anyway.
    // As in acr purge, --keep counts tagged images; referrers never take a slot (they follow their subject).
    const newest = newestFirst(policy, repo.manifests);
    const countable = [...selected.keys()]
      .map((d) => nodes.get(d) as ManifestNode)
      .filter((n) => !keep.has(n.digest) && !n.subject && n.tags.length > 0)
      .sort(newest);
    const chosen = countable.slice(0, policy.keep);
    for (const n of chosen) {
      addKeep(n.digest, {
        rule: "keep-newest",
        detail: keepNewestDetail(policy.keep, countable.length, "tagged images otherwise deleted"),
      });
    }
    keepWhatKeptNeeds(chosen.map((n) => n.digest));
    if (policy.untagged || policy.untaggedOnly) {
      // acr purge applies --keep to the untagged manifests it deletes too, among them those whose
      // tags it has just removed: of those, the newest N stay as well (here with their tags).
      const untaggedPool = [...selected.keys()]
        .map((d) => nodes.get(d) as ManifestNode)
        .filter((n) => !keep.has(n.digest) && !n.subject)
        .sort(newest);
      const alsoKept = untaggedPool.slice(0, policy.keep);
      for (const n of alsoKept) {
        addKeep(n.digest, {
          rule: "keep-newest-untagged",
          detail: `${keepNewestDetail(policy.keep, untaggedPool.length, "manifests --untagged would otherwise delete")} (acr purge keeps them too)`,
        });
      }
      keepWhatKeptNeeds(alsoKept.map((n) => n.digest));
    }
  }

  const decisions = new Map<Digest, Decision>();
  for (const n of repo.manifests) {
    const kept = keep.get(n.digest);
    if (kept) {
      // A list that grew by push has room for a dozen more: the plan keeps a copy to size.
      decisions.set(n.digest, { action: "keep", reasons: kept.length > 1 ? kept.slice() : kept });
      continue;
    }
    const own = selected.get(n.digest);
    const referrer = n.subject !== undefined && nodes.has(n.subject);
    const child = (parents.get(n.digest) ?? []).length > 0;
    // Lists built to size: they are the plan's, for as long as it lives.
    let reasons = own ?? [];
    if (referrer || child) {
      const subject: Reason<DeleteRule> | undefined = referrer
        ? {
            rule: "referrer-of-deleted-subject",
            detail: `its subject ${short(n.subject as Digest)} is deleted`,
          }
        : undefined;
      const follows = subject
        ? child
          ? [subject, CHILD_OF_DELETED_INDEX]
          : [subject]
        : [CHILD_OF_DELETED_INDEX];
      reasons = own ? own.concat(follows) : follows;
    }
    decisions.set(n.digest, { action: "delete", reasons });
  }
  return decisions;
}

/** The first tag (in tag order) a protect pattern matches, and that pattern as written. */
function protectingPattern(
  tags: readonly string[],
  patterns: readonly FilterPattern[] | undefined,
): { tag: string; pattern: string } | undefined {
  if (!patterns?.length) return undefined;
  for (const tag of tags) {
    const p = patterns.find((x) => x.test(tag));
    if (p) return { tag, pattern: p.source };
  }
  return undefined;
}

/** Children without tags and referrers of a present subject have no decision of their own. */
function isFollower(
  n: ManifestNode,
  nodes: ReadonlyMap<Digest, ManifestNode>,
  parents: ReadonlyMap<Digest, Digest[]>,
) {
  if (n.subject && nodes.has(n.subject)) return true;
  return n.tags.length === 0 && (parents.get(n.digest) ?? []).length > 0;
}

/**
 * Reasons that say the same of every manifest they apply to: one object each, shared by every
 * decision (a plan of a million manifests would otherwise hold a million copies). Frozen, since
 * they are shared.
 */
const CHILD_OF_DELETED_INDEX: Reason<DeleteRule> = Object.freeze({
  rule: "child-of-deleted-index",
  detail: "every index listing it is deleted",
});
const REPOSITORY_NOT_SELECTED: Selection = Object.freeze({
  selected: false,
  reason: Object.freeze({ rule: "repository-not-selected", detail: "no --filter matches this repository" }),
});
const UNTAGGED_NOT_SELECTED: Selection = Object.freeze({
  selected: false,
  reason: Object.freeze({
    rule: "untagged-not-selected",
    detail: "untagged; pass --untagged to purge untagged manifests",
  }),
});
const UNTAGGED: Record<"untagged" | "untaggedOnly", Reason<DeleteRule>> = {
  untagged: Object.freeze({ rule: "untagged", detail: "untagged manifest (--untagged)" }),
  untaggedOnly: Object.freeze({ rule: "untagged", detail: "untagged manifest (--untagged-only)" }),
};

/** The filters whose repository part matches this repository, and how a reason names them: once per repository. */
interface RepositoryFilters {
  readonly filters: readonly Filter[];
  readonly text: string;
}

function repositoryFilters(repository: string, policy: PurgePolicy): RepositoryFilters {
  const filters = policy.filters.filter((f) => f.repository.test(repository));
  return { filters, text: filters.map((f) => f.text).join(" or ") };
}

function select(
  n: ManifestNode,
  { filters, text: filterText }: RepositoryFilters,
  nodes: ReadonlyMap<Digest, ManifestNode>,
  policy: PurgePolicy,
  now: Date,
  share: ShareReason,
): Selection {
  if (filters.length === 0) return REPOSITORY_NOT_SELECTED;
  const reasons: Reason<DeleteRule>[] = [];
  if (n.tags.length > 0 && policy.untaggedOnly) {
    return {
      selected: false,
      reason: {
        rule: "tagged",
        detail: `tagged ${n.tags.join(", ")}; --untagged-only deletes only untagged manifests`,
      },
    };
  }
  if (n.tags.length > 0) {
    // Deleting a manifest removes every tag on it, so every tag must be selected.
    const unmatched = n.tags.filter((t) => !filters.some((f) => f.tag.test(t)));
    if (unmatched.length > 0) {
      return {
        selected: false,
        reason: { rule: "tag-not-matched", detail: `tag ${unmatched.join(", ")} does not match the filter` },
      };
    }
    reasons.push(share("tags-matched", flatText("tag ", n.tags.join(", "), " matches ", filterText)));
    if (policy.pullRequests) {
      const pr = judgePullRequestTags(n.tags, policy.pullRequests);
      if (!pr.selected) return pr;
      reasons.push(...pr.reasons);
    }
  } else {
    if (!policy.untagged && !policy.untaggedOnly) return UNTAGGED_NOT_SELECTED;
    reasons.push(UNTAGGED[policy.untaggedOnly ? "untaggedOnly" : "untagged"]);
  }
  if (policy.agoMs && policy.agoMs > 0) {
    const age = ageOf(n, policy);
    if (!age.time) {
      return {
        selected: false,
        reason: { rule: "age-unknown", detail: `no ${age.word} time known, so never older than --ago` },
      };
    }
    const ms = now.getTime() - Date.parse(age.time);
    if (ms <= policy.agoMs) {
      return {
        selected: false,
        reason: {
          rule: "too-recent",
          detail: flatText(age.word, " ", age.time, age.note, ", not older than --ago"),
        },
      };
    }
    reasons.push({
      rule: "older-than",
      detail: flatText(age.word, " ", age.time, " (", age.source, ")", age.note, ", ", days(ms), " days ago"),
    });
  }
  if (n.subject && !nodes.has(n.subject)) {
    reasons.push({ rule: "orphan-referrer", detail: `its subject ${short(n.subject)} no longer exists` });
  }
  return { selected: true, reasons: reasons.slice() };
}

/** Every tag must name a closed pull request; the first one that does not keeps the manifest, saying why. */
function judgePullRequestTags(tags: readonly string[], rule: PullRequestRule): Selection {
  const closed: string[] = [];
  for (const tag of [...tags].sort()) {
    const v = judgeTag(tag, rule);
    if (v.kind === "not-a-pull-request-tag") {
      return {
        selected: false,
        reason: {
          rule: "not-a-pull-request-tag",
          detail: `tag ${tag} names no pull request (${rule.pattern.source})`,
        },
      };
    }
    if (v.kind === "unknown") {
      return {
        selected: false,
        reason: {
          rule: "pull-request-status-unknown",
          detail: `PR ${v.pr} (tag ${tag}): status could not be read, so it stays: ${v.error}`,
        },
      };
    }
    if (v.kind === "open") {
      return {
        selected: false,
        reason: { rule: "pull-request-open", detail: `PR ${v.pr} (tag ${tag}) is ${v.status}` },
      };
    }
    closed.push(`PR ${v.pr} is ${v.status}`);
  }
  const detail = `${[...new Set(closed)].join(", ")} (${rule.provider})`;
  if (rule.action === "untag" && !rule.deleteLeftUntagged) {
    return {
      selected: false,
      reason: {
        rule: "pull-request-untagged",
        detail: `${detail}: its tags are removed, the manifest stays (untaggedAfterUntag or --untagged deletes it)`,
      },
    };
  }
  return { selected: true, reasons: [{ rule: "pull-request-closed", detail }] };
}

function ancestors(digest: Digest, parents: ReadonlyMap<Digest, Digest[]>): Set<Digest> {
  const found = new Set<Digest>();
  const stack = [...(parents.get(digest) ?? [])];
  for (let d = stack.pop(); d !== undefined; d = stack.pop()) {
    if (found.has(d)) continue;
    found.add(d);
    stack.push(...(parents.get(d) ?? []));
  }
  return found;
}

/**
 * The time --ago and --keep read for a manifest: its creation time, or with ageFrom "updated" the
 * registry's last update time (the creation time where the registry keeps none, and the reason says so).
 */
export function ageOf(
  n: ManifestNode,
  policy: Pick<PurgePolicy, "ageFrom">,
): { time?: string; word: "created" | "updated"; source: string; note: string } {
  if (policy.ageFrom === "updated") {
    if (n.updated) return { time: n.updated, word: "updated", source: "registry", note: "" };
    return {
      ...(n.created ? { time: n.created } : {}),
      word: "created",
      source: n.ageSource,
      note: n.created ? "; the registry keeps no update time, so the creation time stands in" : "",
    };
  }
  return n.created
    ? { time: n.created, word: "created", source: n.ageSource, note: "" }
    : { word: "created", source: n.ageSource, note: "" };
}

/**
 * Unknown ages count as newest, so that doubt keeps an image rather than deleting it. Each time is
 * parsed once, not once per comparison.
 */
function newestFirst(
  policy: Pick<PurgePolicy, "ageFrom">,
  manifests: readonly ManifestNode[],
): (a: ManifestNode, b: ManifestNode) => number {
  const times = new Map<ManifestNode, number>();
  for (const n of manifests) {
    const s = ageOf(n, policy).time;
    times.set(n, s ? Date.parse(s) : Number.POSITIVE_INFINITY);
  }
  return (a, b) => (times.get(b) as number) - (times.get(a) as number) || a.digest.localeCompare(b.digest);
}

function days(ms: number): number {
  return Math.floor(ms / 86_400_000);
}

export function short(digest: string): string {
  return digest.slice(0, 19);
}

/** "one of the 3 newest of 5 …", or, when --keep covers them all, "all 2 … (--keep 3)": never "3 newest of 2". */
function keepNewestDetail(keep: number, pool: number, what: string): string {
  if (pool > keep) return `one of the ${keep} newest of ${pool} ${what}`;
  return pool === 1 ? `the only one of the ${what} (--keep ${keep})` : `all ${pool} ${what} (--keep ${keep})`;
}

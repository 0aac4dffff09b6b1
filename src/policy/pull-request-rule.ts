import type { PullRequestStatus } from "../pullrequest/provider.js";

/** What a pull-request rule needs, all of it data: the statuses were looked up before planning. */
export interface PullRequestRule {
  /** Names the provider in reasons, e.g. `azure-devops https://dev.azure.com/contoso/shop`. */
  readonly provider: string;
  /** A tag is a pull-request tag when this matches it; its first capture group is the PR number. */
  readonly pattern: RegExp;
  /** Statuses that mean "closed": the PR's tags may go (azure-devops: abandoned, completed; github: closed, merged). */
  readonly deleteWhen: ReadonlySet<PullRequestStatus>;
  /** Every PR number the tags name, with its status, or why it could not be read. */
  readonly statuses: ReadonlyMap<number, PullRequestLookup>;
  /**
   * `delete` (default): the manifests whose every tag names a closed PR. `untag`: remove only the
   * closed PRs' tags (as the script's `az acr repository untag`), the manifests stay...
   */
  readonly action?: "delete" | "untag";
  /** ...unless this is set: then a manifest left with no tag is deleted in the same run (the script's flaw fixed). */
  readonly deleteLeftUntagged?: boolean;
}

export type PullRequestLookup = { readonly status: PullRequestStatus } | { readonly error: string };

/** The PR number a tag names under the rule's pattern, if any. */
export function pullRequestOf(tag: string, pattern: RegExp): number | undefined {
  const m = pattern.exec(tag);
  const n = m?.[1] === undefined ? Number.NaN : Number(m[1]);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** How the rule judges one tag. */
export type TagVerdict =
  | { readonly kind: "closed"; readonly pr: number; readonly status: PullRequestStatus }
  | { readonly kind: "open"; readonly pr: number; readonly status: PullRequestStatus }
  | { readonly kind: "unknown"; readonly pr: number; readonly error: string }
  | { readonly kind: "not-a-pull-request-tag" };

export function judgeTag(tag: string, rule: PullRequestRule): TagVerdict {
  const pr = pullRequestOf(tag, rule.pattern);
  if (pr === undefined) return { kind: "not-a-pull-request-tag" };
  const found = rule.statuses.get(pr);
  if (!found) return { kind: "unknown", pr, error: "not looked up" };
  if ("error" in found) return { kind: "unknown", pr, error: found.error };
  return rule.deleteWhen.has(found.status)
    ? { kind: "closed", pr, status: found.status }
    : { kind: "open", pr, status: found.status };
}

/**
 * The script's pattern `^PR(\d+)` matched case-insensitively (PowerShell's -match): a written
 * pattern is compiled the same way.
 */
export function compilePullRequestPattern(text: string): RegExp {
  return new RegExp(text, "i");
}

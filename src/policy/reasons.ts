/** Why a manifest is kept. */
export type KeepRule =
  | "in-use"
  | "index-of-in-use-child"
  | "child-of-kept-index"
  | "referrer-of-kept-subject"
  | "locked"
  | "repository-not-selected"
  | "repository-not-used"
  | "tag-not-matched"
  | "untagged-not-selected"
  | "too-recent"
  | "age-unknown"
  | "keep-newest"
  | "keep-newest-untagged"
  | "tagged"
  | "pulled-recently"
  | "protected-tag"
  | "not-a-pull-request-tag"
  | "pull-request-open"
  | "pull-request-status-unknown"
  | "pull-request-untagged"
  | "not-targeted";

/** Why a manifest is deleted; every deleted manifest has at least one. */
export type DeleteRule =
  | "tags-matched"
  | "pull-request-closed"
  | "untagged"
  | "older-than"
  | "orphan-referrer"
  | "child-of-deleted-index"
  | "referrer-of-deleted-subject";

export interface Reason<R extends string = KeepRule | DeleteRule> {
  readonly rule: R;
  readonly detail: string;
  /** The usage source, for in-use reasons. */
  readonly source?: string;
}

export type Decision =
  | { readonly action: "keep"; readonly reasons: readonly Reason<KeepRule>[] }
  | { readonly action: "delete"; readonly reasons: readonly Reason<DeleteRule>[] };

/**
 * One flat string from its pieces. A template literal of n pieces is a rope of about n strings;
 * a reason's detail lives as long as its plan, and at a million manifests those ropes cost
 * about 100 MB more than the text they hold.
 */
export function flatText(...pieces: readonly (string | number)[]): string {
  return pieces.join("");
}

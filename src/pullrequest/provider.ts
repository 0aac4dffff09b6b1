/**
 * Where pull-request status comes from (Azure DevOps, GitHub). One adapter per provider; the
 * policy only ever sees the statuses they return, so it stays pure.
 */

/**
 * A pull request's status as its provider names it:
 * - Azure DevOps: `active`, `abandoned`, `completed`, `notSet`;
 * - GitHub: `open`, `closed` (closed without merging), `merged`.
 */
export type PullRequestStatus =
  | "active"
  | "abandoned"
  | "completed"
  | "notSet"
  | "open"
  | "closed"
  | "merged";

export interface PullRequestProvider {
  /** Names the provider in reasons and errors, e.g. `azure-devops https://dev.azure.com/contoso/shop`. */
  readonly name: string;
  /**
   * The status of pull request `number`. Throws (PullRequestLookupError) when it cannot be read —
   * not found, unauthorized, network, rate limit — and the caller then keeps the images.
   */
  status(number: number, signal?: AbortSignal): Promise<PullRequestStatus>;
  /** Proves the provider answers and the credentials are accepted (for `doctor`); throws otherwise. */
  check(signal?: AbortSignal): Promise<string>;
}

/** A pull request whose status could not be read: its images are kept, and the reason is shown. */
export class PullRequestLookupError extends Error {
  override name = "PullRequestLookupError";
  constructor(
    message: string,
    /** HTTP status where there was one (404, 401, 403, 429). */
    readonly status?: number,
  ) {
    super(message);
  }
}

import pMap from "p-map";
import type { Inventory } from "../inventory/graph.js";
import {
  compilePullRequestPattern,
  type PullRequestLookup,
  type PullRequestRule,
  pullRequestOf,
} from "../policy/pull-request-rule.js";
import type { PullRequestProvider, PullRequestStatus } from "../pullrequest/provider.js";
import type { RunOptions } from "./events.js";

export interface PullRequestSpec {
  readonly provider: PullRequestProvider;
  /** First capture group = PR number; matched case-insensitively. Default `^PR(\d+)`. */
  readonly tagPattern?: string;
  /** Statuses that let a PR's tags go. */
  readonly deleteWhen: readonly PullRequestStatus[];
  /** Lookups at once (default 8). */
  readonly concurrency?: number;
  /** `untag`: remove only the closed PRs' tags; `delete` (default): the manifests. */
  readonly action?: "delete" | "untag";
  /** With untag: a manifest left with no tag is deleted in the same run. */
  readonly deleteLeftUntagged?: boolean;
}

export const DEFAULT_PR_TAG_PATTERN = "^PR(\\d+)";

/**
 * Looks up, once each, every pull request the inventory's tags name (`PR12-test` and
 * `PR12-test-arm` share one lookup), so that the policy can judge them without I/O. A status that
 * cannot be read is recorded as such: the policy keeps those images and says why.
 */
export async function lookUpPullRequests(
  inventory: Inventory,
  spec: PullRequestSpec,
  options: RunOptions = {},
): Promise<PullRequestRule> {
  const pattern = compilePullRequestPattern(spec.tagPattern ?? DEFAULT_PR_TAG_PATTERN);
  const numbers = new Set<number>();
  for (const repo of inventory.repositories) {
    for (const m of repo.manifests) {
      for (const tag of m.tags) {
        const pr = pullRequestOf(tag, pattern);
        if (pr !== undefined) numbers.add(pr);
      }
    }
  }
  const statuses = new Map<number, PullRequestLookup>();
  await pMap(
    [...numbers].sort((a, b) => a - b),
    async (pr) => {
      try {
        statuses.set(pr, { status: await spec.provider.status(pr, options.signal) });
      } catch (error) {
        if (options.signal?.aborted) throw error;
        const message = (error as Error).message;
        statuses.set(pr, { error: message });
        options.onEvent?.({
          type: "warning",
          message: `PR ${pr}: status unknown, its images are kept: ${message}`,
        });
      }
    },
    { concurrency: spec.concurrency ?? 8, ...(options.signal ? { signal: options.signal } : {}) },
  );
  return {
    provider: spec.provider.name,
    pattern,
    deleteWhen: new Set(spec.deleteWhen),
    statuses,
    ...(spec.action ? { action: spec.action } : {}),
    ...(spec.deleteLeftUntagged ? { deleteLeftUntagged: true } : {}),
  };
}

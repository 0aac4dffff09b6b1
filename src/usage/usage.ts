import type { ImageReference } from "../oci/reference.js";

/** One place an image is used, as a source found it. */
export interface Usage {
  readonly reference: ImageReference;
  /** The reference as written where it was found. */
  readonly raw: string;
  /** Who uses it, e.g. `in-use-file in-use.txt:3` or `kubernetes prod/payments/deploy/api`. */
  readonly source: string;
  /** Who owns the thing using it (a user, a team), where the source knows: size reports group by it. */
  readonly owner?: string;
}

/** A configured source of in-use references (a file, a cluster, a cloud API). */
export interface UsageSource {
  readonly name: string;
  /** Optional sources may fail without stopping the run; required ones fail it closed. */
  readonly optional: boolean;
  /** It reads standard input (`--in-use-file -`), which nothing else may read in the same run. */
  readonly readsStdin?: boolean;
  /**
   * Reads the source. Aborting `signal` (the source's timeout, or the run being cancelled) must
   * cancel every request in flight, so that nothing is left keeping the process alive.
   */
  load(signal?: AbortSignal): Promise<readonly Usage[]>;
}

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
  /** A pull the registry's logs recorded (acrPullLogs), not a workload: when (ISO 8601, or `unknown`). */
  readonly pulledAt?: string;
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
  /**
   * Sources that know more than references (a database's records) say it here; regsweep prefers
   * this to load() when it is there.
   */
  find?(signal?: AbortSignal): Promise<Findings>;
}

/**
 * A database record naming an image without keeping it in use (an environment's old revision, an
 * archived model's version): who owns the image, whether `--object-ids` targets it, and what to
 * change in the database once it is deleted.
 */
export interface ImageRecord {
  readonly reference: ImageReference;
  /** The record as reasons name it, e.g. `mongodb (domino preset) domino.environment_revisions 65ab…`. */
  readonly record: string;
  readonly owner?: string;
  /** Named by `--object-ids`: with targets, only targeted images may be deleted. */
  readonly targeted?: boolean;
  /** Done once every image carrying the same clean-up is deleted (an environment once its active revision goes). */
  readonly cleanup?: RecordCleanup;
}

/** One change to one database record, done only after the registry deletion of its images succeeded. */
export interface RecordCleanup {
  /** The usage source whose connection carries it out (its name), so apply finds it in the configuration. */
  readonly source: string;
  readonly database: string;
  readonly collection: string;
  /** The record's `_id`: 24 hex digits are an ObjectId, anything else a string. */
  readonly id: string;
  readonly change: { readonly set: Readonly<Record<string, unknown>> } | { readonly delete: true };
}

/** What one source found: the references that keep images, and records that only describe them. */
export interface Findings {
  readonly usages: readonly Usage[];
  readonly records: readonly ImageRecord[];
  /** Told to target objects (`--object-ids`): only targeted records' images may go, even if none matched. */
  readonly targeting?: boolean;
  readonly warnings?: readonly string[];
}

import type { ItemResult } from "../apply/execute-plan.js";
import type { GarbageCollection } from "../apply/in-cluster-registry.js";
import type { ApplyResult } from "./apply.js";

/**
 * What a pipeline function tells its caller while it runs; the CLI prints these, a library caller
 * logs or shows them. Pipeline functions never write to stdout or stderr themselves.
 */
export type PipelineEvent =
  /** Something the caller should see: a source that failed but was optional, a plan without sources. */
  | { readonly type: "warning"; readonly message: string }
  /** A manifest read during a scan. */
  | { readonly type: "scanned"; readonly manifests: number }
  /** One planned deletion finished (deleted, already gone, skipped or failed). */
  | { readonly type: "item"; readonly result: ItemResult }
  /** A database record changed after its images were deleted (a query's afterDelete, the Domino archive). */
  | {
      readonly type: "record";
      readonly record: string;
      readonly change: { readonly set: Readonly<Record<string, unknown>> } | { readonly delete: true };
      /** What the database said: `set isArchived`, `deleted`, `already gone`. */
      readonly outcome: string;
    }
  /** A step of apply on an in-cluster registry's workload (deletes enabled, restored). */
  | { readonly type: "in-cluster-registry"; readonly message: string }
  /** `registry garbage-collect` ran in a registry pod. */
  | {
      readonly type: "garbage-collected";
      readonly workload: string;
      readonly result: GarbageCollection & { readonly ok: boolean };
    }
  /** An apply ended (also when it failed or was cancelled): what it did, where its journal and audit are. */
  | { readonly type: "applied"; readonly result: ApplyResult; readonly interrupted: boolean };

export type OnEvent = (event: PipelineEvent) => void;

/** What every pipeline function takes besides its own options. */
export interface RunOptions {
  /** Cancels the call: it rejects with AbortedError, leaving no request behind. */
  readonly signal?: AbortSignal;
  readonly onEvent?: OnEvent;
}

export const ignoreEvents: OnEvent = () => {};

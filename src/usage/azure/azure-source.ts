import { UsageSourceError } from "../../errors.js";
import { type FoundImage, usagesOf } from "../found-image.js";
import type { UsageSource } from "../usage.js";
import type { AzureContext } from "./azure-context.js";
import { subscriptionsFor } from "./azure-context.js";

export interface AzureScope {
  readonly subscriptions?: readonly string[];
  readonly resourceGroups?: readonly string[];
  readonly optional?: boolean;
}

/**
 * The shape every Azure usage source shares: read each subscription, prefix what was found with
 * the source kind and subscription, and turn any failure into a source failure that names the
 * subscription and what to check.
 */
export function azureSource(
  kind: string,
  context: AzureContext,
  scope: AzureScope,
  /** `abortSignal` goes into every SDK call's options, so a timed-out source stops its requests. */
  readSubscription: (subscriptionId: string, abortSignal: AbortSignal | undefined) => Promise<FoundImage[]>,
): UsageSource {
  return {
    name: kind,
    optional: scope.optional ?? false,
    async load(signal) {
      let subscriptions: readonly string[];
      try {
        subscriptions = subscriptionsFor(scope.subscriptions, context, kind);
      } catch (error) {
        throw new UsageSourceError(kind, (error as Error).message);
      }
      const perSubscription = await Promise.all(
        subscriptions.map(async (sub) => {
          try {
            return usagesOf(await readSubscription(sub, signal), `${kind} ${sub}`);
          } catch (error) {
            if (error instanceof UsageSourceError) throw error;
            throw new UsageSourceError(`${kind} ${sub}`, describeAzureError(error), { cause: error });
          }
        }),
      );
      return perSubscription.flat();
    },
  };
}

function describeAzureError(error: unknown): string {
  const e = error as { statusCode?: number; code?: string; message?: string };
  const hint =
    e.statusCode === 401
      ? " — sign in (az login), or check the workload/managed identity"
      : e.statusCode === 403
        ? " — the identity needs the Reader role on the subscription"
        : "";
  return `${e.statusCode ? `HTTP ${e.statusCode} ` : ""}${e.code ? `${e.code}: ` : ""}${e.message ?? String(error)}${hint}`;
}

/** The resource groups to read: the configured ones, or every group (undefined). */
export function inResourceGroups<T>(
  scope: AzureScope,
  byGroup: (rg: string) => AsyncIterable<T>,
  everywhere: () => AsyncIterable<T>,
): AsyncIterable<T>[] {
  return scope.resourceGroups?.length ? scope.resourceGroups.map(byGroup) : [everywhere()];
}

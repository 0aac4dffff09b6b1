import { UsageError } from "../errors.js";
import type { Plan } from "./plan-schema.js";

const ADD_A_SOURCE = "pass --in-use-file FILE, --kubeconfig FILE, or a --config with usage sources";

/** In the plan's warnings (and so the audit's) when a plan was made with no usage source at all. */
export const NO_USAGE_SOURCES_WARNING = `no usage source was given, so nothing is protected as in use: ${ADD_A_SOURCE}`;

/**
 * With no usage source every image a workload runs is a candidate like any other; deleting on
 * such a plan has to be asked for by name, never the quiet result of a forgotten flag.
 */
export function refuseDeletionWithoutSources(what: string): never {
  throw new UsageError(
    `${what} has no usage source, so it would delete images that are in use without knowing it: ${ADD_A_SOURCE}; or pass --no-usage-sources to delete without any`,
  );
}

/**
 * Whether a plan was made with at least one usage source. A plan that records no sources, or
 * that was made with none (it carries the warning), has protected nothing.
 */
export function planHadUsageSources(plan: Plan): boolean {
  const spec = plan.usage;
  if (!spec || plan.warnings.includes(NO_USAGE_SOURCES_WARNING)) return false;
  return Boolean(spec.config || spec.inUseFiles.length || spec.kubeconfig || spec.contexts.length);
}

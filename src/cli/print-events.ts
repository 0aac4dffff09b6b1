import type { PipelineEvent } from "../pipeline/events.js";
import { NO_USAGE_SOURCES_WARNING } from "../plan/no-usage-sources.js";

/** Warnings of the pipeline, as the CLI shows them on stderr. */
export function printWarnings(event: PipelineEvent): void {
  if (event.type !== "warning") return;
  // No usage source at all is the loud one: everything in use is then a candidate.
  const loud = event.message === NO_USAGE_SOURCES_WARNING;
  process.stderr.write(`${loud ? "WARNING" : "warning"}: ${event.message}\n`);
}

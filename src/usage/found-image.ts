import { log } from "../log.js";
import { InvalidReferenceError, parseReference } from "../oci/reference.js";
import type { Usage } from "./usage.js";

/** An image reference as a platform reported it, and where. */
export interface FoundImage {
  /** The reference as written there. */
  readonly image: string;
  /** Who uses it, e.g. `payments/deployment/api (container web)`. */
  readonly where: string;
}

/**
 * Parses what a source found. A reference the platform itself could not parse cannot run from
 * our registry either, so it is logged and set aside rather than failing the run.
 */
export function usagesOf(found: readonly FoundImage[], sourcePrefix: string): Usage[] {
  const usages: Usage[] = [];
  for (const f of found) {
    try {
      usages.push({ reference: parseReference(f.image), raw: f.image, source: `${sourcePrefix}/${f.where}` });
    } catch (error) {
      if (!(error instanceof InvalidReferenceError)) throw error;
      log.warn(
        { image: f.image, where: f.where, source: sourcePrefix },
        "unparsable image reference set aside",
      );
    }
  }
  return usages;
}

import { canonicalHost } from "../oci/reference.js";
import type { Usage } from "./usage.js";

/**
 * The tags, per repository, that in-use references of this registry name. A scan reads each of
 * them directly, so a listing that leaves one out cannot make its image look unused.
 */
export function inUseTagsByRepository(
  usages: readonly Usage[],
  registryHost: string,
  aliases: readonly string[] = [],
): Map<string, Set<string>> {
  const hosts = new Set([registryHost, ...aliases].map(canonicalHost));
  const byRepository = new Map<string, Set<string>>();
  for (const { reference } of usages) {
    if (reference.digest || reference.tag === undefined || !hosts.has(canonicalHost(reference.host)))
      continue;
    const tags = byRepository.get(reference.repository) ?? new Set<string>();
    tags.add(reference.tag);
    byRepository.set(reference.repository, tags);
  }
  return byRepository;
}

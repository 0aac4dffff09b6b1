import type { Digest } from "../oci/digest.js";
import type { RegistryReader } from "../registry/types.js";

/** Where every tag of each repository points now. */
export type LiveTags = ReadonlyMap<string, ReadonlyMap<string, Digest>>;

/**
 * Reads the current tag → digest map of the repositories an apply touches (a tag list and one
 * HEAD per tag), so that every planned deletion is checked against the registry as it is now.
 */
export async function readLiveTags(
  registry: RegistryReader,
  repositories: Iterable<string>,
): Promise<LiveTags> {
  const result = new Map<string, Map<string, Digest>>();
  await Promise.all(
    [...new Set(repositories)].map(async (repository) => {
      const tags: string[] = [];
      for await (const tag of registry.tags(repository)) tags.push(tag);
      const map = new Map<string, Digest>();
      await Promise.all(
        tags.map(async (tag) => {
          const head = await registry.headManifest(repository, tag);
          if (head) map.set(tag, head.digest);
        }),
      );
      result.set(repository, map);
    }),
  );
  return result;
}

/** Why the live tags no longer match the plan for this digest, or undefined when they do. */
export function tagDrift(
  live: ReadonlyMap<string, Digest> | undefined,
  digest: string,
  plannedTags: readonly string[],
): string | undefined {
  if (!live) return undefined;
  for (const tag of plannedTags) {
    const now = live.get(tag);
    if (now && now !== digest) return `tag ${tag} now points at ${now}`;
  }
  const planned = new Set(plannedTags);
  const added = [...live].filter(([tag, d]) => d === digest && !planned.has(tag)).map(([tag]) => tag);
  return added.length > 0 ? `tag ${added.join(", ")} was added since the plan` : undefined;
}

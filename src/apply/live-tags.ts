import type { Digest } from "../oci/digest.js";
import type { RegistryReader } from "../registry/types.js";

/**
 * Where the tags of one repository point now, read as close to its deletions as possible. The
 * first read takes the whole tag list and reads every tag (a GET, hashed: a HEAD's digest never
 * decides a deletion); each later refresh re-reads the tag list, reads the tags it had not seen,
 * and re-reads the tags it is asked to check, so a tag pushed during an apply is seen before the
 * next group of deletions of that repository.
 */
export class LiveTags {
  private readonly map = new Map<string, Digest>();
  private read = false;

  constructor(
    private readonly registry: RegistryReader,
    readonly repository: string,
  ) {}

  get tags(): ReadonlyMap<string, Digest> {
    return this.map;
  }

  async refresh(check: Iterable<string> = []): Promise<void> {
    const listed = new Set<string>();
    for await (const tag of this.registry.tags(this.repository)) listed.add(tag);
    const toRead = new Set<string>(check);
    for (const tag of listed) if (!this.read || !this.map.has(tag)) toRead.add(tag);
    for (const tag of this.map.keys()) if (!listed.has(tag) && !toRead.has(tag)) this.map.delete(tag);
    await Promise.all(
      [...toRead].map(async (tag) => {
        const res = await this.registry.getManifest(this.repository, tag);
        if (res) this.map.set(tag, res.digest);
        else this.map.delete(tag);
      }),
    );
    this.read = true;
  }
}

/** Why the live tags no longer match the plan for this digest, or undefined when they do. */
export function tagDrift(
  live: ReadonlyMap<string, Digest>,
  digest: string,
  plannedTags: readonly string[],
): string | undefined {
  for (const tag of plannedTags) {
    const now = live.get(tag);
    if (now && now !== digest) return `tag ${tag} now points at ${now}`;
  }
  const planned = new Set(plannedTags);
  const added = [...live].filter(([tag, d]) => d === digest && !planned.has(tag)).map(([tag]) => tag);
  return added.length > 0 ? `tag ${added.join(", ")} was added since the plan` : undefined;
}

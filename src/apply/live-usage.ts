import { type Digest, isDigest } from "../oci/digest.js";
import { parseRegistryManifest } from "../oci/manifest.js";
import { canonicalHost } from "../oci/reference.js";
import type { RegistryReader } from "../registry/types.js";
import type { InUseIndex } from "../usage/resolve.js";
import type { Usage } from "../usage/usage.js";

/**
 * What is in use now, in the repositories an apply touches: every in-use reference of this registry
 * read directly from the registry (a tag by a GET, hashed), and for an index, its children too — a
 * tag may have moved to a new index whose children the plan lists as another index's. Reads each
 * reference once.
 */
export async function liveInUse(
  registry: RegistryReader,
  usages: readonly Usage[],
  repositories: ReadonlySet<string>,
  aliases: readonly string[] = [],
): Promise<InUseIndex> {
  const hosts = new Set([registry.host, ...aliases].map(canonicalHost));
  const inUse = new Map<string, Map<Digest, Usage[]>>();
  const add = (repository: string, digest: Digest, usage: Usage) => {
    const repo = inUse.get(repository) ?? new Map<Digest, Usage[]>();
    inUse.set(repository, repo);
    repo.set(digest, [...(repo.get(digest) ?? []), usage]);
  };
  const reads = new Map<string, Promise<{ digest: Digest; children: Digest[] } | undefined>>();
  const read = (repository: string, reference: string) => {
    const key = `${repository}@${reference}`;
    let p = reads.get(key);
    if (!p) {
      p = registry.getManifest(repository, reference).then((res) => {
        if (!res) return undefined;
        const manifest = parseRegistryManifest(
          res.body,
          res.mediaType,
          `${repository}:${reference} on ${registry.host}`,
        );
        return {
          digest: res.digest,
          children: manifest.kind === "index" ? manifest.manifests.map((m) => m.digest) : [],
        };
      });
      reads.set(key, p);
    }
    return p;
  };
  await Promise.all(
    usages.map(async (usage) => {
      const ref = usage.reference;
      if (!hosts.has(canonicalHost(ref.host)) || !repositories.has(ref.repository)) return;
      const reference = ref.digest ?? ref.tag;
      if (!reference) return;
      if (ref.digest) add(ref.repository, ref.digest, usage);
      const found = await read(ref.repository, reference);
      if (!found) return;
      add(ref.repository, found.digest, usage);
      for (const child of found.children) {
        if (isDigest(child))
          add(ref.repository, child, {
            ...usage,
            source: `${usage.source} (a platform of ${found.digest.slice(0, 19)})`,
          });
      }
    }),
  );
  return inUse;
}

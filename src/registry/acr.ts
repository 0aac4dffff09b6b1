import { z } from "zod";
import { type Digest, isDigest } from "../oci/digest.js";
import { DistributionRegistry } from "./distribution.js";
import type { DeleteOutcome, RegistryMetadata } from "./types.js";

const manifestItemSchema = z
  .object({
    digest: z.string().refine(isDigest),
    createdTime: z.string().optional(),
    lastUpdateTime: z.string().optional(),
    tags: z.array(z.string()).nullish(),
    changeableAttributes: z
      .object({ deleteEnabled: z.boolean().optional(), writeEnabled: z.boolean().optional() })
      .passthrough()
      .optional(),
  })
  .passthrough();

/**
 * Azure Container Registry: the distribution API plus ACR's metadata API, where one page describes
 * many manifests (digest, tags, created time, lock attributes) — untagged ones too, which the
 * distribution API cannot list. Deletes still go through `DELETE /v2/<name>/manifests/<digest>`.
 */
export class AcrRegistry extends DistributionRegistry {
  override readonly listsUntagged = true;
  private readonly metadata = new Map<string, Promise<RegistryMetadata>>();

  override async *repositories(): AsyncIterable<string> {
    yield* this.paged(
      "/acr/v1/_catalog?n=1000",
      "registry:catalog:*",
      (json) => (json as { repositories?: string[] | null }).repositories ?? [],
      "the ACR catalog",
    );
  }

  override async *untagged(repository: string): AsyncIterable<Digest> {
    for (const [digest, m] of await this.registryMetadata(repository)) if (m.tags.length === 0) yield digest;
  }

  /** ACR removes a tag through its own API: `DELETE /acr/v1/<repo>/_tags/<tag>` (202; 404 when gone). */
  override async untag(repository: string, tag: string): Promise<DeleteOutcome> {
    const res = await this.send(
      { method: "DELETE", url: this.url(`/acr/v1/${repository}/_tags/${encodeURIComponent(tag)}`) },
      `repository:${repository}:delete`,
    );
    if (res.status === 202 || res.status === 200) return "deleted";
    if (res.status === 404) return "not-found";
    this.expect(res, [202], `untag ${repository}:${tag}`);
    return "deleted";
  }

  /** Every top-level manifest of a repository as ACR lists it (index children are not listed). */
  registryMetadata(repository: string): Promise<RegistryMetadata> {
    let pending = this.metadata.get(repository);
    if (!pending) {
      pending = (async () => {
        const result = new Map<Digest, { created?: string; locked: boolean; tags: readonly string[] }>();
        const pages = this.paged(
          `/acr/v1/${repository}/_manifests?n=1000&orderby=timeasc`,
          `repository:${repository}:metadata_read`,
          (json) => (json as { manifests?: unknown[] | null }).manifests ?? [],
          `the ACR manifest list of ${repository}`,
          (raw) => String((raw as { digest?: unknown }).digest),
        );
        for await (const raw of pages) {
          const m = manifestItemSchema.parse(raw);
          const attrs = m.changeableAttributes;
          result.set(m.digest as Digest, {
            ...(m.createdTime ? { created: new Date(m.createdTime).toISOString() } : {}),
            // acr purge skips manifests that cannot be deleted or written: locked, never ours to delete.
            locked: attrs?.deleteEnabled === false || attrs?.writeEnabled === false,
            tags: m.tags ?? [],
          });
        }
        return result;
      })();
      this.metadata.set(repository, pending);
    }
    return pending;
  }
}

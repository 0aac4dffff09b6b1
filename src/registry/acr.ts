import { z } from "zod";
import { RegistryError } from "../errors.js";
import { type Digest, isDigest } from "../oci/digest.js";
import { DistributionRegistry, parseJsonBody } from "./distribution.js";
import type { DeleteOutcome, LiveLocks, RegistryMetadata } from "./types.js";

const changeableSchema = z
  .object({ deleteEnabled: z.boolean().optional(), writeEnabled: z.boolean().optional() })
  .passthrough()
  .optional();

/** acr purge skips what cannot be deleted or written: locked, never ours to delete. */
function isLocked(attrs: z.infer<typeof changeableSchema>): boolean {
  return attrs?.deleteEnabled === false || attrs?.writeEnabled === false;
}

const tagItemSchema = z
  .object({ name: z.string(), digest: z.string().refine(isDigest), changeableAttributes: changeableSchema })
  .passthrough();

/** `GET /acr/v1/<repo>/_manifests/<digest>` and `…/_tags/<tag>` wrap the item in one field. */
const singleManifestSchema = z
  .object({ manifest: z.object({ changeableAttributes: changeableSchema }).passthrough() })
  .passthrough();
const singleTagSchema = z
  .object({ tag: z.object({ changeableAttributes: changeableSchema }).passthrough() })
  .passthrough();

/**
 * Page size of ACR's listings: large pages cost fewer of the SKU's reads per minute (Basic 1,000,
 * Standard 3,000, Premium 10,000); ACR sends at most what it allows and links to the next page.
 */
export const ACR_PAGE_SIZE = 1000;

const manifestItemSchema = z
  .object({
    digest: z.string().refine(isDigest),
    createdTime: z.string().optional(),
    lastUpdateTime: z.string().optional(),
    tags: z.array(z.string()).nullish(),
    changeableAttributes: changeableSchema,
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
      `/acr/v1/_catalog?n=${ACR_PAGE_SIZE}`,
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

  /**
   * Every top-level manifest of a repository as ACR lists it (index children are not listed), with
   * the locks of its tags from ACR's tag listing: a locked tag keeps its manifest.
   */
  registryMetadata(repository: string): Promise<RegistryMetadata> {
    let pending = this.metadata.get(repository);
    if (!pending) {
      pending = (async () => {
        const lockedTags = new Map<Digest, string[]>();
        for await (const raw of this.paged(
          `/acr/v1/${repository}/_tags?n=${ACR_PAGE_SIZE}`,
          `repository:${repository}:metadata_read`,
          (json) => (json as { tags?: unknown[] | null }).tags ?? [],
          `the ACR tag list of ${repository}`,
          (raw) => String((raw as { name?: unknown }).name),
        )) {
          const t = tagItemSchema.parse(raw);
          if (isLocked(t.changeableAttributes)) {
            const digest = t.digest as Digest;
            lockedTags.set(digest, [...(lockedTags.get(digest) ?? []), t.name]);
          }
        }
        const result = new Map<Digest, RegistryMetadata extends ReadonlyMap<Digest, infer V> ? V : never>();
        const pages = this.paged(
          `/acr/v1/${repository}/_manifests?n=${ACR_PAGE_SIZE}&orderby=timeasc`,
          `repository:${repository}:metadata_read`,
          (json) => (json as { manifests?: unknown[] | null }).manifests ?? [],
          `the ACR manifest list of ${repository}`,
          (raw) => String((raw as { digest?: unknown }).digest),
        );
        for await (const raw of pages) {
          const m = manifestItemSchema.parse(raw);
          const digest = m.digest as Digest;
          const tags = m.tags ?? [];
          // Even a locked tag the manifest listing does not show on it keeps it: doubt keeps.
          const locked = [...(lockedTags.get(digest) ?? [])].sort();
          result.set(digest, {
            ...(m.createdTime ? { created: new Date(m.createdTime).toISOString() } : {}),
            ...(m.lastUpdateTime ? { updated: new Date(m.lastUpdateTime).toISOString() } : {}),
            locked: isLocked(m.changeableAttributes),
            tags,
            ...(locked.length ? { lockedTags: locked } : {}),
          });
        }
        return result;
      })();
      this.metadata.set(repository, pending);
    }
    return pending;
  }

  /**
   * The locks as ACR's single GETs give them (`GET /acr/v1/<repo>/_manifests/<digest>`, `…/_tags/<tag>`),
   * read right before a deletion: the list view has disagreed with them. A tag that is gone (404)
   * holds nothing; the tag re-check sees that it is gone.
   */
  async liveLocks(repository: string, digest: Digest, tags: readonly string[]): Promise<LiveLocks> {
    const locked = async (path: string, schema: typeof singleManifestSchema | typeof singleTagSchema) => {
      const res = await this.send(
        { method: "GET", url: this.url(path) },
        `repository:${repository}:metadata_read`,
      );
      if (res.status === 404) return false;
      this.expect(res, [200], `GET ${path}`);
      const parsed = schema.safeParse(parseJsonBody(res.body, `GET ${path} on ${this.host}`));
      if (!parsed.success) {
        throw new RegistryError(
          `GET ${path} on ${this.host}: not ACR's attribute shape, so its lock cannot be checked — nothing of this group is deleted`,
          200,
          "http",
        );
      }
      const data = parsed.data as {
        manifest?: { changeableAttributes?: unknown };
        tag?: { changeableAttributes?: unknown };
      };
      const item = data.manifest ?? data.tag;
      return isLocked(item?.changeableAttributes as z.infer<typeof changeableSchema>);
    };
    const [manifest, ...tagLocks] = await Promise.all([
      locked(`/acr/v1/${repository}/_manifests/${digest}`, singleManifestSchema),
      ...tags.map((tag) => locked(`/acr/v1/${repository}/_tags/${encodeURIComponent(tag)}`, singleTagSchema)),
    ]);
    return { manifest: manifest === true, tags: tags.filter((_, i) => tagLocks[i]).sort() };
  }
}

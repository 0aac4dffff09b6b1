/**
 * The request floor: a bare loop issuing only the requests any scan of a plain distribution
 * registry must make, at the given concurrency, with no parsing beyond what finds the next URL,
 * no digest checks, no cache and no retries.
 */
import PQueue from "p-queue";
import { Agent, request } from "undici";
import { isImageConfigMediaType, MANIFEST_ACCEPT } from "../src/oci/media-types.js";

export interface FloorResult {
  readonly ms: number;
  /** CPU time (user + system) this process spent meanwhile. */
  readonly cpuMs: number;
  readonly requests: number;
  /** Manifests reached (cold) or tags resolved (warm): a cross-check of the scan's count. */
  readonly manifests: number;
}

export interface FloorOptions {
  /**
   * The registry has the referrers API: like the scan, ask it for the referrers of every manifest
   * (cold and warm: a signature can be added to an old image at any time) and read each referrer.
   */
  readonly referrers?: boolean;
}

/** The digests each repository's cold walk reached: what a warm scan knows from its cache. */
export type KnownDigests = ReadonlyMap<string, readonly string[]>;

interface Response {
  readonly link: string | undefined;
  readonly digest: string | undefined;
  readonly body: Buffer;
}

class Client {
  requests = 0;
  private readonly queue: PQueue;
  private readonly agent: Agent;

  constructor(
    readonly baseUrl: string,
    readonly concurrency: number,
    /**
     * undici closes the connection after every HEAD unless told `reset: false` (a guard against
     * servers that send a body anyway); distribution does not, so the floor keeps connections.
     */
    private readonly keepAliveAfterHead = true,
  ) {
    this.queue = new PQueue({ concurrency });
    // Same connection pool size as regsweep's transport gives itself.
    this.agent = new Agent({ connections: concurrency });
  }

  send(method: "GET" | "HEAD", path: string, accept?: string): Promise<Response> {
    return this.queue.add(async () => {
      this.requests++;
      const res = await request(`${this.baseUrl}${path}`, {
        method,
        dispatcher: this.agent,
        ...(accept ? { headers: { accept } } : {}),
        ...(method === "HEAD" && this.keepAliveAfterHead ? { reset: false } : {}),
      });
      const body = method === "HEAD" ? Buffer.alloc(0) : Buffer.from(await res.body.arrayBuffer());
      if (method === "HEAD") await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`floor: ${method} ${path}: HTTP ${res.statusCode}`);
      const link = res.headers.link;
      const digest = res.headers["docker-content-digest"];
      return {
        link: Array.isArray(link) ? link.join(", ") : link,
        digest: Array.isArray(digest) ? digest[0] : digest,
        body,
      };
    });
  }

  /** Follows `Link: <…>; rel="next"` pages, collecting one JSON field. */
  async paged(first: string, field: string): Promise<string[]> {
    const items: string[] = [];
    let next: string | undefined = first;
    while (next) {
      const res = await this.send("GET", next);
      const json = JSON.parse(res.body.toString("utf8")) as Record<string, string[] | null | undefined>;
      items.push(...(json[field] ?? []));
      next = nextPath(res.link, this.baseUrl);
    }
    return items;
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

/** The path+query of a `Link: <…>; rel="next"` header. */
function nextPath(link: string | undefined, baseUrl: string): string | undefined {
  const m = link ? /<([^>]+)>\s*;\s*rel="?next"?/i.exec(link) : null;
  if (!m?.[1]) return undefined;
  const url = new URL(m[1], baseUrl);
  return `${url.pathname}${url.search}`;
}

/**
 * Repositories are handed on as each catalog page arrives, so tag lists start early, with as many
 * open at once as requests may be in flight: enough to keep every slot busy, few enough that the
 * floor does not hold a queue of every repository's requests (opening all of them at once made
 * it slower than a scan at 100,000 manifests: not a floor).
 */
async function forEachRepository(client: Client, work: (repository: string) => Promise<void>): Promise<void> {
  const open = new PQueue({ concurrency: client.concurrency });
  const pending: Promise<void>[] = [];
  let next: string | undefined = "/v2/_catalog?n=1000";
  while (next) {
    const res = await client.send("GET", next);
    const json = JSON.parse(res.body.toString("utf8")) as { repositories?: string[] | null };
    for (const repository of json.repositories ?? []) pending.push(open.add(() => work(repository)));
    next = nextPath(res.link, client.baseUrl);
  }
  await Promise.all(pending);
}

interface ManifestJson {
  config?: { digest: string; mediaType: string };
  manifests?: { digest: string }[];
}

/** The referrers of one manifest, by the referrers API (an index of descriptors). */
async function referrersOf(client: Client, repository: string, digest: string): Promise<string[]> {
  const res = await client.send("GET", `/v2/${repository}/referrers/${digest}`);
  const json = JSON.parse(res.body.toString("utf8")) as ManifestJson;
  return (json.manifests ?? []).map((d) => d.digest);
}

/**
 * Cold: catalog, tag lists, a GET per manifest reached (index children and referrers too), per
 * image config, and with the referrers API one referrers request per manifest.
 */
export async function coldFloor(
  baseUrl: string,
  concurrency: number,
  options: FloorOptions = {},
): Promise<FloorResult & { readonly known: KnownDigests }> {
  const client = new Client(baseUrl, concurrency);
  let manifests = 0;
  const known = new Map<string, string[]>();
  const cpu = process.cpuUsage();
  const started = performance.now();
  try {
    const manifest = async (repository: string, reference: string, reached: string[]): Promise<void> => {
      const res = await client.send("GET", `/v2/${repository}/manifests/${reference}`, MANIFEST_ACCEPT);
      manifests++;
      const json = JSON.parse(res.body.toString("utf8")) as ManifestJson;
      // The floor checks nothing: the advertised digest names the manifest.
      const digest = reference.startsWith("sha256:") ? reference : (res.digest ?? reference);
      reached.push(digest);
      const work: Promise<void>[] = [];
      if (json.manifests) {
        work.push(...json.manifests.map((child) => manifest(repository, child.digest, reached)));
      } else if (json.config && isImageConfigMediaType(json.config.mediaType)) {
        work.push(client.send("GET", `/v2/${repository}/blobs/${json.config.digest}`).then(() => {}));
      }
      if (options.referrers) {
        work.push(
          referrersOf(client, repository, digest).then(async (found) => {
            await Promise.all(found.map((d) => manifest(repository, d, reached)));
          }),
        );
      }
      await Promise.all(work);
    };
    await forEachRepository(client, async (repository) => {
      const reached: string[] = [];
      known.set(repository, reached);
      const tags = await client.paged(`/v2/${repository}/tags/list?n=1000`, "tags");
      await Promise.all(tags.map((tag) => manifest(repository, tag, reached)));
    });
    return {
      ms: performance.now() - started,
      cpuMs: cpuMs(cpu),
      requests: client.requests,
      manifests,
      known,
    };
  } finally {
    await client.close();
  }
}

/**
 * Warm: catalog, tag lists and one manifest GET per tag (everything else is in a cache). A GET, not
 * a HEAD, because a sound scan hashes what a tag points at; `method: "HEAD"` measures what trusting
 * Docker-Content-Digest would save.
 */
export async function warmFloor(
  baseUrl: string,
  concurrency: number,
  method: "GET" | "HEAD" = "GET",
  /** With the referrers API: every manifest the cold walk reached is asked for its referrers again. */
  known?: KnownDigests,
): Promise<FloorResult> {
  const client = new Client(baseUrl, concurrency, true);
  let tagsResolved = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  try {
    await forEachRepository(client, async (repository) => {
      const tags = await client.paged(`/v2/${repository}/tags/list?n=1000`, "tags");
      await Promise.all([
        ...tags.map(async (tag) => {
          await client.send(method, `/v2/${repository}/manifests/${tag}`, MANIFEST_ACCEPT);
          tagsResolved++;
        }),
        ...(known?.get(repository) ?? []).map((digest) => referrersOf(client, repository, digest)),
      ]);
    });
    return {
      ms: performance.now() - started,
      cpuMs: cpuMs(cpu),
      requests: client.requests,
      manifests: tagsResolved,
    };
  } finally {
    await client.close();
  }
}

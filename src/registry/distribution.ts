import { RegistryError } from "../errors.js";
import { type Digest, isDigest, sha256Digest } from "../oci/digest.js";
import { type Descriptor, type Manifest, manifestFromJson, parseRegistryManifest } from "../oci/manifest.js";
import { MANIFEST_ACCEPT } from "../oci/media-types.js";
import type { RegistryLocation } from "../oci/reference.js";
import { verifiedStream } from "../oci/verified-stream.js";
import { Authenticator, type CredentialSource, type Credentials } from "./auth.js";
import type { HttpRequest, HttpResponse, HttpTransport, StreamingResponse } from "./transport.js";
import type { BlobStream, DeleteOutcome, ManifestHead, ManifestResponse, Registry } from "./types.js";

const MAX_REDIRECTS = 5;
/** 10,000 pages of 1,000 is ten million names: beyond that a listing is a loop, not a registry. */
const MAX_PAGES = 10_000;

export interface DistributionOptions {
  /** Static, or asked for before each use where they expire (ECR). */
  readonly credentials?: Credentials | CredentialSource;
  /** `n` for catalog and tag pages; registries cap it (distribution: 1000). */
  readonly pageSize?: number;
  /** Pages one listing may take before it is taken for a loop (default MAX_PAGES). */
  readonly maxPages?: number;
}

/** A client for the OCI distribution API (distribution, Harbor, GHCR, GAR, ECR, ACR, Zot …). */
export class DistributionRegistry implements Registry {
  readonly host: string;
  readonly listsUntagged: boolean = false;
  private readonly auth: Authenticator;
  /** What requests go through; a withSignal view puts its signal on each. */
  private readonly transport: Pick<HttpTransport, "send" | "sendStreaming">;
  private readonly pageSize: number;
  private readonly maxPages: number;
  private referrersApi: boolean | undefined;
  private referrersProbe: Promise<boolean | undefined> | undefined;

  constructor(
    private readonly location: RegistryLocation,
    transport: HttpTransport,
    options: DistributionOptions = {},
  ) {
    this.transport = transport;
    this.host = location.host;
    this.auth = new Authenticator(transport, options.credentials);
    this.pageSize = options.pageSize ?? 1000;
    this.maxPages = options.maxPages ?? MAX_PAGES;
  }

  /**
   * The same registry (credentials, tokens, transport) whose every request also carries `signal`:
   * aborting it cancels what this view has queued or in flight, and nothing of other callers.
   */
  withSignal(signal: AbortSignal): this {
    const base = this.transport;
    const view = Object.create(this) as this;
    Object.defineProperty(view, "transport", {
      value: {
        send: (req: HttpRequest) => base.send({ ...req, signal: withAlso(req.signal, signal) }),
        sendStreaming: (req: HttpRequest) =>
          base.sendStreaming({ ...req, signal: withAlso(req.signal, signal) }),
      },
    });
    return view;
  }

  /** `GET /v2/`: proves the registry answers and our credentials are accepted. */
  async ping(): Promise<void> {
    const res = await this.send({ method: "GET", url: this.url("/v2/") }, "");
    this.expect(res, [200], "GET /v2/");
  }

  async *repositories(): AsyncIterable<string> {
    yield* this.paged(
      `/v2/_catalog?n=${this.pageSize}`,
      "registry:catalog:*",
      (json) => stringList(json, "repositories"),
      "the catalog",
    );
  }

  async *tags(repository: string): AsyncIterable<string> {
    // An emptied repository answers `"tags": null`; one never pushed answers 404.
    try {
      yield* this.paged(
        `/v2/${repository}/tags/list?n=${this.pageSize}`,
        pullScope(repository),
        (json) => stringList(json, "tags"),
        `the tag list of ${repository}`,
      );
    } catch (error) {
      if (error instanceof RegistryError && error.status === 404) return;
      throw error;
    }
  }

  /** Plain distribution has no call that lists untagged manifests. */
  async *untagged(_repository: string): AsyncIterable<Digest> {}

  async headManifest(repository: string, reference: string): Promise<ManifestHead | undefined> {
    const res = await this.send(
      {
        method: "HEAD",
        url: this.url(`/v2/${repository}/manifests/${reference}`),
        headers: { accept: MANIFEST_ACCEPT },
      },
      pullScope(repository),
    );
    if (res.status === 404) return undefined;
    this.expect(res, [200], `HEAD ${repository}:${reference}`);
    const digest = res.headers["docker-content-digest"];
    if (!digest || !isDigest(digest)) {
      const full = await this.getManifest(repository, reference);
      return full && { digest: full.digest, mediaType: full.mediaType };
    }
    return { digest, mediaType: contentType(res) ?? "" };
  }

  async getManifest(repository: string, reference: string): Promise<ManifestResponse | undefined> {
    const res = await this.send(
      {
        method: "GET",
        url: this.url(`/v2/${repository}/manifests/${reference}`),
        headers: { accept: MANIFEST_ACCEPT },
      },
      pullScope(repository),
    );
    if (res.status === 404) return undefined;
    this.expect(res, [200], `GET manifest ${repository}:${reference}`);
    // Decisions rest on these bytes: whatever digest was asked for or advertised, the body must hash to it.
    const computed = sha256Digest(res.body);
    const advertised = res.headers["docker-content-digest"];
    const expected = isDigest(reference) ? reference : advertised;
    if (expected !== undefined && computed !== expected) {
      throw new RegistryError(
        `manifest ${repository}${isDigest(reference) ? "@" : ":"}${reference} on ${this.host}: the body hashes to ${computed}, but ${isDigest(reference) ? "was asked for" : "the registry advertised"} ${expected} — the registry (or a proxy in front of it) returns wrong bytes; nothing was deleted`,
        200,
        "digest-mismatch",
      );
    }
    // Parsed when asked for: the digest pins these bytes, and a warm scan, which knows the node
    // that digest names, only needs the digest (parsing every tag's body was 3% of its CPU).
    const what = `${repository}:${reference} on ${this.host}`;
    const type = contentType(res);
    let manifest: Manifest | undefined;
    const parsed = () => {
      manifest ??= parseRegistryManifest(res.body, type, what);
      return manifest;
    };
    return {
      digest: computed,
      mediaType: type ?? parsed().mediaType,
      body: res.body,
      get manifest() {
        return parsed();
      },
    };
  }

  async getBlob(repository: string, digest: Digest): Promise<Buffer> {
    let url = this.url(`/v2/${repository}/blobs/${digest}`);
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const sameOrigin = new URL(url).origin === this.location.baseUrl;
      const req: HttpRequest = { method: "GET", url };
      // Redirects to storage (S3, CDN) carry their own signature and must not get our token.
      const res = sameOrigin ? await this.send(req, pullScope(repository)) : await this.transport.send(req);
      const location = res.headers.location;
      if (res.status >= 300 && res.status < 400 && location) {
        url = new URL(location, url).toString();
        continue;
      }
      this.expect(res, [200], `GET blob ${repository}@${digest}`);
      if (sha256Digest(res.body) !== digest) {
        throw new RegistryError(`blob ${repository}@${digest} arrived with another digest`, 200, "http");
      }
      return res.body;
    }
    throw new RegistryError(`GET blob ${repository}@${digest}: too many redirects`, undefined, "http");
  }

  async openBlob(repository: string, digest: Digest, offset = 0): Promise<AsyncIterable<Uint8Array>> {
    let url = this.url(`/v2/${repository}/blobs/${digest}`);
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const req: HttpRequest = {
        method: "GET",
        url,
        ...(offset > 0 ? { headers: { range: `bytes=${offset}-` } } : {}),
      };
      // Redirects to storage (S3, CDN) carry their own signature and must not get our token.
      const res =
        new URL(url).origin === this.location.baseUrl
          ? await this.authorized(req, pullScope(repository), (r) => this.transport.sendStreaming(r))
          : await this.transport.sendStreaming(req);
      if ("stream" in res) {
        if (offset === 0) return res.stream;
        if (res.status === 206) {
          const from = /^bytes (\d+)-/.exec(res.headers["content-range"] ?? "")?.[1];
          if (from !== undefined && Number(from) === offset) return res.stream;
          throw new RegistryError(
            `GET blob ${repository}@${digest} from byte ${offset} on ${this.host}: the registry sent range ${res.headers["content-range"] ?? "(none)"}`,
            206,
            "http",
          );
        }
        // A registry that ignores Range sends it all: pass over what the caller already has.
        return skipBytes(res.stream, offset);
      }
      const location = res.headers.location;
      if (res.status >= 300 && res.status < 400 && location) {
        url = new URL(location, url).toString();
        continue;
      }
      this.expect(res, [200], `GET blob ${repository}@${digest}`);
    }
    throw new RegistryError(`GET blob ${repository}@${digest}: too many redirects`, undefined, "http");
  }

  async referrers(repository: string, subject: Digest): Promise<readonly Descriptor[] | undefined> {
    if (this.referrersApi === undefined) {
      // Concurrent callers wait for the first probe: one 404 answers for the whole registry.
      if (!this.referrersProbe) {
        const first = this.fetchReferrers(repository, subject);
        this.referrersProbe = first.then(
          (r) => r !== undefined,
          () => undefined,
        );
        return first;
      }
      await this.referrersProbe;
    }
    if (this.referrersApi === false) return undefined;
    return this.fetchReferrers(repository, subject);
  }

  private async fetchReferrers(
    repository: string,
    subject: Digest,
  ): Promise<readonly Descriptor[] | undefined> {
    const found: Descriptor[] = [];
    try {
      for await (const d of this.paged(
        `/v2/${repository}/referrers/${subject}`,
        pullScope(repository),
        (json) => {
          return manifestFromJson(json).kind === "index"
            ? ((json as { manifests?: Descriptor[] }).manifests ?? [])
            : [];
        },
        `the referrers of ${repository}@${subject}`,
        (d) => d.digest,
      )) {
        found.push(d);
      }
    } catch (error) {
      // The spec forbids 404 from a registry that has the API, so 404 means "use the tag schema".
      if (error instanceof RegistryError && (error.status === 404 || error.status === 405)) {
        this.referrersApi = false;
        return undefined;
      }
      throw error;
    }
    this.referrersApi = true;
    return found;
  }

  async hasBlob(repository: string, digest: Digest): Promise<boolean> {
    const res = await this.send(
      { method: "HEAD", url: this.url(`/v2/${repository}/blobs/${digest}`) },
      pullScope(repository),
    );
    return res.status === 200 || res.status === 307;
  }

  async putBlob(repository: string, digest: Digest, data: Uint8Array | BlobStream): Promise<void> {
    const scope = `repository:${repository}:pull,push`;
    for (let upload = 1; ; upload++) {
      const start = await this.send(
        { method: "POST", url: this.url(`/v2/${repository}/blobs/uploads/`) },
        scope,
      );
      this.expect(start, [202], `start upload to ${repository}`);
      const location = start.headers.location;
      if (!location)
        throw new RegistryError(`upload to ${repository}: registry sent no Location`, 202, "http");
      const put = new URL(location, this.location.baseUrl);
      put.searchParams.set("digest", digest);
      const res = await this.send(
        {
          method: "PUT",
          url: put.toString(),
          headers: {
            "content-type": "application/octet-stream",
            "content-length": String(data instanceof Uint8Array ? data.byteLength : data.size),
          },
          // A stream is checked as it is sent; the registry checks the digest too.
          body:
            data instanceof Uint8Array
              ? data
              : async () => verifiedStream(await data.open(), { digest, size: data.size }),
        },
        scope,
      );
      if (res.status === 201) return;
      // The transport resent a PUT whose first answer was lost: that upload may well have
      // completed (and so be gone). The blob being there is what counts; if not, start over.
      if (res.status === 404 && isUploadUnknown(res.body) && upload < MAX_UPLOADS) {
        if (await this.hasBlob(repository, digest)) return;
        continue;
      }
      this.expect(res, [201], `upload ${digest} to ${repository}`);
    }
  }

  async putManifest(
    repository: string,
    reference: string,
    mediaType: string,
    body: Uint8Array,
  ): Promise<Digest> {
    const res = await this.send(
      {
        method: "PUT",
        url: this.url(`/v2/${repository}/manifests/${reference}`),
        headers: { "content-type": mediaType },
        body,
      },
      `repository:${repository}:pull,push`,
    );
    this.expect(res, [201], `PUT manifest ${repository}:${reference}`);
    return sha256Digest(body);
  }

  async deleteManifest(repository: string, digest: Digest): Promise<DeleteOutcome> {
    const res = await this.send(
      { method: "DELETE", url: this.url(`/v2/${repository}/manifests/${digest}`) },
      `repository:${repository}:delete`,
    );
    if (res.status === 202 || res.status === 200) return "deleted";
    if (res.status === 404) return "not-found";
    if (res.status === 405 || (res.status === 400 && /UNSUPPORTED|unsupported/.test(res.body.toString()))) {
      throw new RegistryError(
        `registry ${this.host} refuses deletes (HTTP ${res.status}). For CNCF distribution set storage.delete.enabled: true (or REGISTRY_STORAGE_DELETE_ENABLED=true); for Harbor, ACR, ECR or GHCR check the repository's immutability and lock settings.`,
        res.status,
        "deletes-disabled",
      );
    }
    this.expect(res, [202], `DELETE ${repository}@${digest}`);
    return "deleted";
  }

  /** OCI 1.1 tag deletion (`DELETE /v2/<name>/manifests/<tag>`); many registries refuse it. */
  async untag(repository: string, tag: string): Promise<DeleteOutcome> {
    const res = await this.send(
      { method: "DELETE", url: this.url(`/v2/${repository}/manifests/${encodeURIComponent(tag)}`) },
      `repository:${repository}:delete`,
    );
    if (res.status === 202 || res.status === 200) return "deleted";
    if (res.status === 404 && !/UNSUPPORTED|unsupported/.test(res.body.toString())) return "not-found";
    if ([400, 404, 405].includes(res.status)) {
      throw new RegistryError(
        `registry ${this.host} does not remove single tags (OCI 1.1 DELETE /v2/<name>/manifests/<tag> answered HTTP ${res.status}): use action: delete, or a registry that supports it (ACR does)`,
        res.status,
        "unsupported",
      );
    }
    this.expect(res, [202], `untag ${repository}:${tag}`);
    return "deleted";
  }

  protected url(path: string): string {
    return `${this.location.baseUrl}${path}`;
  }

  protected send(req: HttpRequest, scope: string): Promise<HttpResponse> {
    return this.authorized(req, scope, (r) => this.transport.send(r)) as Promise<HttpResponse>;
  }

  /** Sends with the credentials the scope needs, answering one auth challenge at a time. */
  private async authorized(
    req: HttpRequest,
    scope: string,
    sendOnce: (req: HttpRequest) => Promise<HttpResponse | StreamingResponse>,
  ): Promise<HttpResponse | StreamingResponse> {
    for (let attempt = 0; ; attempt++) {
      const authorization = await this.auth.header(scope);
      // Copied only to add the credentials: an anonymous registry's requests go as they are.
      const res = await sendOnce(
        authorization ? { ...req, headers: { ...req.headers, authorization } } : req,
      );
      if (res.status !== 401 || attempt >= 2) return res;
      if (!(await this.auth.onUnauthorized(res.headers["www-authenticate"], scope, authorization)))
        return res;
    }
  }

  /**
   * Follows `Link: rel="next"` page by page. A listing that cannot be completed — a cursor already
   * followed, a page that adds nothing yet links on, more than MAX_PAGES pages — fails the run: a
   * list taken as complete when it is not hides tags, and a hidden tag can be an in-use image.
   */
  protected async *paged<T>(
    first: string,
    scope: string,
    items: (json: unknown) => T[],
    what: string,
    key: (item: T) => string = String,
  ): AsyncIterable<T> {
    let next: string | undefined = first;
    const cursors = new Set<string>();
    const seen = new Set<string>();
    for (let page = 1; next; page++) {
      if (page > this.maxPages) throw this.incomplete(what, next, `more than ${this.maxPages} pages`);
      if (cursors.has(next)) throw this.incomplete(what, next, "this page was already read (a loop)");
      cursors.add(next);
      const path = next.split("?")[0] ?? next;
      const res = await this.send({ method: "GET", url: this.url(next) }, scope);
      this.expect(res, [200], `GET ${path}`);
      const batch = items(parseJsonBody(res.body, `GET ${path} on ${this.host}`));
      let fresh = 0;
      for (const item of batch) {
        const k = key(item);
        if (seen.has(k)) continue;
        seen.add(k);
        fresh++;
        yield item;
      }
      const following = nextLink(res.headers.link, this.location.baseUrl);
      if (following && fresh === 0) {
        throw this.incomplete(what, following, `page ${page} brought nothing new yet links to another`);
      }
      next = following;
    }
  }

  private incomplete(what: string, cursor: string, why: string): RegistryError {
    return new RegistryError(
      `${what} on ${this.host} cannot be completed: ${why} (next ${cursor}) — the registry's paging is broken, so the run stops rather than take a partial list as complete`,
      undefined,
      "incomplete-listing",
    );
  }

  protected expect(res: HttpResponse, ok: number[], what: string): void {
    if (ok.includes(res.status)) return;
    const detail = registryErrorDetail(res.body);
    if (res.status === 401) {
      throw new RegistryError(
        `${what} on ${this.host}: 401 Unauthorized${detail} — pass --username and --password-stdin, or check the credentials`,
        401,
        "unauthorized",
      );
    }
    if (res.status === 403) {
      throw new RegistryError(
        `${what} on ${this.host}: 403 Forbidden${detail} — the credentials lack this permission`,
        403,
        "denied",
      );
    }
    throw new RegistryError(`${what} on ${this.host}: HTTP ${res.status}${detail}`, res.status, "http");
  }
}

function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

function contentType(res: HttpResponse): string | undefined {
  return res.headers["content-type"]?.split(";")[0]?.trim() || undefined;
}

/** The path+query of a `Link: <…>; rel="next"` header, made relative to the registry. */
export function nextLink(link: string | undefined, baseUrl: string): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(/,(?=\s*<)/)) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part);
    if (m?.[1]) {
      const url = new URL(m[1], baseUrl);
      return `${url.pathname}${url.search}`;
    }
  }
  return undefined;
}

function registryErrorDetail(body: Buffer): string {
  try {
    const json = JSON.parse(body.toString("utf8")) as { errors?: { code?: string; message?: string }[] };
    const first = json.errors?.[0];
    return first ? ` (${first.code ?? ""}${first.message ? `: ${first.message}` : ""})` : "";
  } catch {
    return "";
  }
}

/** A list field of a paged answer; anything but an array of strings (or null) is a broken registry. */
function stringList(json: unknown, field: string): string[] {
  const value = (json as Record<string, unknown> | null)?.[field];
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
    throw new RegistryError(`the registry answered a "${field}" that is not a list of names`, 200, "http");
  }
  return value as string[];
}

export function parseJsonBody(body: Buffer, what: string): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new RegistryError(`${what}: the answer is not JSON (${(error as Error).message})`, 200, "http");
  }
}

/** The stream without its first `count` bytes. */
async function* skipBytes(stream: AsyncIterable<Uint8Array>, count: number): AsyncIterable<Uint8Array> {
  let left = count;
  for await (const chunk of stream) {
    if (left >= chunk.byteLength) {
      left -= chunk.byteLength;
      continue;
    }
    yield left > 0 ? chunk.subarray(left) : chunk;
    left = 0;
  }
}

/** `404 BLOB_UPLOAD_UNKNOWN`: the upload session is gone (completed, expired, or never known). */
function isUploadUnknown(body: Buffer): boolean {
  return /BLOB_UPLOAD_UNKNOWN/.test(body.toString("utf8"));
}

/** Uploads of one blob started before giving up on a registry that keeps losing them. */
const MAX_UPLOADS = 3;

function withAlso(first: AbortSignal | undefined, second: AbortSignal): AbortSignal {
  return first ? AbortSignal.any([first, second]) : second;
}

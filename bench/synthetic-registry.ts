/**
 * A synthetic OCI distribution registry fast enough not to hide the client: a keep-alive node:http
 * server whose content is generated deterministically, one repository at a time on its first
 * request (manifests, image configs, multi-arch indexes, referrers), with correct digests. It speaks
 * what a scan reads: the catalog and tag lists (`n`/`last` paging with `Link: rel="next"`), HEAD and
 * GET of manifests by tag or digest, GET and HEAD of blobs (configs; layers are named, never served),
 * and the referrers API.
 *
 * Shape per repository (`--per-repo` tags): every 10th tag an index of two images (amd64, arm64),
 * every 20th image tag signed by a referrer (an artifact manifest whose `subject` is the image),
 * a few base layers shared by all images, every other image with a layer of its own.
 *
 * Run on its own (the bench does, so that the server has its own event loop and the floor measured
 * in the bench process does not share one with it):
 *   npx tsx bench/synthetic-registry.ts [--repos 1000] [--per-repo 20] [--page-size 1000] [--no-referrers-api]
 * prints one JSON line `{"url": …, "manifests": …}` once it listens, and stops on SIGTERM or stdin EOF.
 */

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

export interface SyntheticOptions {
  readonly repos: number;
  readonly perRepo: number;
  /** Largest `n` a catalog or tag page honours (distribution: 1000). */
  readonly pageSize?: number;
  /** Answer the referrers API (default); without it a scan falls back to the tag schema. */
  readonly referrersApi?: boolean;
}

export interface SyntheticShape {
  readonly repositories: number;
  readonly tags: number;
  /** Images, indexes, index children and referrers. */
  readonly manifests: number;
  readonly indexes: number;
  readonly referrers: number;
}

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";
const OCI_EMPTY = "application/vnd.oci.empty.v1+json";
const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
const DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const SIGNATURE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json";
const EMPTY_JSON = Buffer.from("{}");

const DAY = 86_400_000;
/** Fixed, so every run serves the same bytes. */
const EPOCH = Date.UTC(2025, 0, 1);
const BASE_LAYERS = ["debian:bookworm-slim", "alpine:3.20", "distroless/static"];

export function syntheticRepositoryName(r: number): string {
  return `team${r % 5}/service-${String(r).padStart(4, "0")}`;
}

const isIndexTag = (j: number) => j % 10 === 0;
const isSignedTag = (j: number) => j % 20 === 5;

/** What the options make, without generating it. */
export function syntheticShape(opts: SyntheticOptions): SyntheticShape {
  let indexes = 0;
  let referrers = 0;
  for (let j = 0; j < opts.perRepo; j++) {
    if (isIndexTag(j)) indexes++;
    else if (isSignedTag(j)) referrers++;
  }
  const images = opts.perRepo - indexes;
  return {
    repositories: opts.repos,
    tags: opts.repos * opts.perRepo,
    manifests: opts.repos * (images + indexes * 3 + referrers),
    indexes: opts.repos * indexes,
    referrers: opts.repos * referrers,
  };
}

interface Stored {
  readonly body: Buffer;
  readonly mediaType: string;
  readonly digest: string;
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  platform?: { architecture: string; os: string };
}

interface Repository {
  /** Sorted, as distribution lists them. */
  readonly tags: readonly string[];
  readonly byTag: Map<string, Stored>;
  readonly manifests: Map<string, Stored>;
  readonly blobs: Map<string, Buffer>;
  readonly referrers: Map<string, Descriptor[]>;
}

const sha256 = (bytes: Buffer | string) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

function store(body: Buffer, mediaType: string): Stored {
  return { body, mediaType, digest: sha256(body) };
}

/** Every manifest and config of repository `r`, generated the same way every time. */
function generateRepository(r: number, perRepo: number): Repository {
  const name = syntheticRepositoryName(r);
  const docker = r % 3 === 1;
  const repo: Repository = {
    tags: [],
    byTag: new Map(),
    manifests: new Map(),
    blobs: new Map(),
    referrers: new Map(),
  };
  const keep = (s: Stored): Stored => {
    repo.manifests.set(s.digest, s);
    return s;
  };
  const layer = (seed: string, size: number): Descriptor => ({
    mediaType: docker ? DOCKER_LAYER : OCI_LAYER,
    digest: sha256(seed),
    size,
  });
  const image = (tag: string, j: number, architecture: string): Stored => {
    const created = new Date(EPOCH - (perRepo - j) * DAY - (r % 24) * 3_600_000).toISOString();
    const config = Buffer.from(
      JSON.stringify({
        created,
        architecture,
        os: "linux",
        config: { Labels: { "org.opencontainers.image.source": `https://example.test/${name}` } },
        rootfs: { type: "layers", diff_ids: [sha256(`${name}:${tag}:${architecture} diff`)] },
      }),
    );
    const configDigest = sha256(config);
    repo.blobs.set(configDigest, config);
    const base = BASE_LAYERS[(r + j) % BASE_LAYERS.length] as string;
    const layers = [layer(`base ${base}`, 30_000_000 + ((r + j) % 3) * 1_000_000)];
    if (j % 2 === 0) layers.push(layer(`app ${name}:${tag}:${architecture}`, 1_000_000 + j * 1_000));
    const body = {
      schemaVersion: 2,
      mediaType: docker ? DOCKER_MANIFEST : OCI_MANIFEST,
      config: { mediaType: docker ? DOCKER_CONFIG : OCI_CONFIG, digest: configDigest, size: config.length },
      layers,
      ...(docker ? {} : { annotations: { "org.opencontainers.image.version": tag } }),
    };
    return keep(store(Buffer.from(JSON.stringify(body)), body.mediaType));
  };
  const tags: string[] = [];
  for (let j = 0; j < perRepo; j++) {
    const tag = `1.${Math.floor(j / 10)}.${j % 10}`;
    tags.push(tag);
    let top: Stored;
    if (isIndexTag(j)) {
      const children = ["amd64", "arm64"].map((architecture) => ({
        architecture,
        child: image(tag, j, architecture),
      }));
      const mediaType = docker ? DOCKER_LIST : OCI_INDEX;
      const index = {
        schemaVersion: 2,
        mediaType,
        manifests: children.map(({ architecture, child }) => ({
          mediaType: child.mediaType,
          digest: child.digest,
          size: child.body.length,
          platform: { architecture, os: "linux" },
        })),
      };
      top = keep(store(Buffer.from(JSON.stringify(index)), mediaType));
    } else {
      top = image(tag, j, "amd64");
      if (isSignedTag(j)) {
        repo.blobs.set(sha256(EMPTY_JSON), EMPTY_JSON);
        const signature = {
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          artifactType: SIGNATURE_TYPE,
          config: { mediaType: OCI_EMPTY, digest: sha256(EMPTY_JSON), size: EMPTY_JSON.length },
          layers: [{ mediaType: SIGNATURE_TYPE, digest: sha256(`signature ${name}:${tag}`), size: 4_000 }],
          subject: { mediaType: top.mediaType, digest: top.digest, size: top.body.length },
          annotations: { "org.opencontainers.image.created": new Date(EPOCH).toISOString() },
        };
        const referrer = keep(store(Buffer.from(JSON.stringify(signature)), OCI_MANIFEST));
        repo.referrers.set(top.digest, [
          {
            mediaType: OCI_MANIFEST,
            digest: referrer.digest,
            size: referrer.body.length,
            artifactType: SIGNATURE_TYPE,
          },
        ]);
      }
    }
    repo.byTag.set(tag, top);
  }
  (repo.tags as string[]).push(...tags.sort());
  return repo;
}

/** The registry's routes; content is made per repository on first use and kept. */
export class SyntheticRegistry {
  requests = 0;
  private readonly names: readonly string[];
  private readonly index = new Map<string, number>();
  private readonly made = new Map<string, Repository>();
  private readonly pageSize: number;
  private readonly referrersApi: boolean;

  constructor(private readonly opts: SyntheticOptions) {
    const names = Array.from({ length: opts.repos }, (_, r) => syntheticRepositoryName(r));
    for (const [r, n] of names.entries()) this.index.set(n, r);
    this.names = names.sort();
    this.pageSize = opts.pageSize ?? 1000;
    this.referrersApi = opts.referrersApi ?? true;
  }

  private repository(name: string): Repository | undefined {
    let repo = this.made.get(name);
    if (!repo) {
      const r = this.index.get(name);
      if (r === undefined) return undefined;
      repo = generateRepository(r, this.opts.perRepo);
      this.made.set(name, repo);
    }
    return repo;
  }

  handle(req: IncomingMessage, res: ServerResponse) {
    this.requests++;
    const url = new URL(req.url ?? "/", "http://registry.invalid");
    const path = url.pathname;
    const head = req.method === "HEAD";
    if (req.method !== "GET" && !head) return error(res, 405, "UNSUPPORTED", "read-only registry");
    if (path === "/v2/" || path === "/v2") return json(res, 200, {}, head);
    if (path === "/v2/_catalog") {
      const page = this.page(this.names, url, "/v2/_catalog");
      if (page.link) res.setHeader("link", page.link);
      return json(res, 200, { repositories: page.items }, head);
    }
    const m = /^\/v2\/(.+)\/(tags\/list|manifests|blobs|referrers)(?:\/([^/]+))?$/.exec(path);
    const name = m?.[1];
    const repo = name === undefined ? undefined : this.repository(name);
    if (!m || !repo) return error(res, 404, "NAME_UNKNOWN", "repository name not known to registry");
    const [, , kind, reference = ""] = m;
    if (kind === "tags/list") {
      const page = this.page(repo.tags, url, `/v2/${name}/tags/list`);
      if (page.link) res.setHeader("link", page.link);
      return json(res, 200, { name, tags: page.items }, head);
    }
    if (kind === "manifests") {
      const found = reference.startsWith("sha256:")
        ? repo.manifests.get(reference)
        : repo.byTag.get(reference);
      if (!found) return error(res, 404, "MANIFEST_UNKNOWN", "manifest unknown");
      res.setHeader("docker-content-digest", found.digest);
      return send(res, 200, found.mediaType, found.body, head);
    }
    if (kind === "blobs") {
      const blob = repo.blobs.get(reference);
      if (!blob) return error(res, 404, "BLOB_UNKNOWN", "blob unknown to registry");
      res.setHeader("docker-content-digest", reference);
      return send(res, 200, "application/octet-stream", blob, head);
    }
    if (!this.referrersApi) return error(res, 404, "NOT_FOUND", "no referrers API");
    const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: repo.referrers.get(reference) ?? [] };
    return send(res, 200, OCI_INDEX, Buffer.from(JSON.stringify(index)), head);
  }

  /** distribution's paging: `n` (capped), `last` (exclusive), a Link while more remain. */
  private page(all: readonly string[], url: URL, path: string): { items: string[]; link?: string } {
    const asked = Number(url.searchParams.get("n") ?? this.pageSize);
    const n = Math.max(1, Math.min(Number.isInteger(asked) ? asked : this.pageSize, this.pageSize));
    const last = url.searchParams.get("last");
    let from = 0;
    if (last !== null) {
      // First name after `last` in sorted order (binary search: catalogs can be long).
      let lo = 0;
      let hi = all.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((all[mid] as string) <= last) lo = mid + 1;
        else hi = mid;
      }
      from = lo;
    }
    const items = all.slice(from, from + n);
    if (from + n >= all.length) return { items };
    const next = new URLSearchParams({ n: String(n), last: items.at(-1) as string });
    return { items, link: `<${path}?${next}>; rel="next"` };
  }
}

function send(res: ServerResponse, status: number, type: string, body: Buffer, head: boolean): void {
  res.writeHead(status, { "content-type": type, "content-length": body.length });
  res.end(head ? undefined : body);
}

function json(res: ServerResponse, status: number, value: unknown, head: boolean): void {
  send(res, status, "application/json", Buffer.from(JSON.stringify(value)), head);
}

function error(res: ServerResponse, status: number, code: string, message: string): void {
  json(res, status, { errors: [{ code, message }] }, false);
}

export interface RunningSynthetic {
  readonly url: string;
  readonly registry: SyntheticRegistry;
  stop(): Promise<void>;
}

/** Listens on 127.0.0.1 at a free port, connections kept alive as long as clients want. */
export async function startSyntheticRegistry(opts: SyntheticOptions): Promise<RunningSynthetic> {
  const registry = new SyntheticRegistry(opts);
  const server: Server = createServer({ keepAliveTimeout: 120_000 }, (req, res) => {
    registry.handle(req, res);
  });
  server.headersTimeout = 130_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    registry,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      repos: { type: "string", default: "1000" },
      "per-repo": { type: "string", default: "20" },
      "page-size": { type: "string", default: "1000" },
      "no-referrers-api": { type: "boolean", default: false },
    },
    strict: true,
  });
  const opts: SyntheticOptions = {
    repos: Number(values.repos),
    perRepo: Number(values["per-repo"]),
    pageSize: Number(values["page-size"]),
    referrersApi: !values["no-referrers-api"],
  };
  const running = await startSyntheticRegistry(opts);
  const stop = () => void running.stop().then(() => process.exit(0));
  process.once("SIGTERM", stop);
  process.stdin.on("end", stop).resume();
  process.stdout.write(`${JSON.stringify({ url: running.url, ...syntheticShape(opts) })}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  void main();
}

/**
 * Starts the registry in a process of its own (`node --import tsx` this file), so that its event
 * loop competes with the client for cores, not for one thread; stops it when `stop()` is called.
 */
export async function spawnSyntheticRegistry(
  opts: SyntheticOptions,
): Promise<{ url: string; shape: SyntheticShape; stop(): Promise<void> }> {
  const args = ["--import", "tsx", fileURLToPath(import.meta.url)];
  args.push("--repos", String(opts.repos), "--per-repo", String(opts.perRepo));
  if (opts.pageSize) args.push("--page-size", String(opts.pageSize));
  if (opts.referrersApi === false) args.push("--no-referrers-api");
  const child = spawn(process.execPath, args, {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const first = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      const end = out.indexOf("\n");
      if (end >= 0) resolve(out.slice(0, end));
    });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`the synthetic registry exited with ${code}`)));
  });
  const { url, ...shape } = JSON.parse(first) as { url: string } & SyntheticShape;
  return {
    url,
    shape,
    stop: async () => {
      child.stdin.end();
      await exited;
    },
  };
}

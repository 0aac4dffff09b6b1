/**
 * A small GitHub REST API server for tests: it answers the two calls the pull-request provider
 * makes, `GET /repos/{owner}/{repo}/pulls/{n}` and `GET /repos/{owner}/{repo}`, in the JSON shapes
 * api.github.com answers with (the fields @octokit/rest ignores included), so the official client
 * can be driven against it.
 *
 * Deliberately like GitHub:
 * - `authorization: token …` and `Bearer …` are both accepted; a token it does not know is a 401
 *   "Bad credentials"; a private repository asked for without a token is a 404, as GitHub hides it;
 * - a token with `limited` access reads the repository but gets a 403 "Resource not accessible by
 *   personal access token" for pull requests (a fine-grained token without "Pull requests: read");
 * - every answer carries the `x-ratelimit-*` headers; a primary rate limit is a 403 with
 *   `x-ratelimit-remaining: 0` and `x-ratelimit-reset`, a secondary one a 403 or 429 with
 *   `retry-after` and a message that names the secondary rate limit;
 * - failures are `{message, documentation_url, status}` bodies.
 * Only GET is served; anything else is a 404, as GitHub answers unknown routes.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface PullInput {
  number: number;
  state: "open" | "closed";
  /** Closed pull requests only: merged (true) or closed without merging (false, the default). */
  merged?: boolean;
  draft?: boolean;
  title?: string;
  /** Branch the pull request comes from; default `feature/<number>`. */
  head?: string;
}

export interface RepositoryInput {
  /** Private repositories answer 404 to requests without a token. */
  private?: boolean;
  pulls?: PullInput[];
}

export type RateLimitKind =
  /** 403, `x-ratelimit-remaining: 0`, reset `resetInSeconds` from now (negative: already past). */
  | { kind: "primary"; resetInSeconds: number }
  /** 403 or 429 with `retry-after` (omitted when undefined, as GitHub sometimes does). */
  | { kind: "secondary"; status: 403 | 429; retryAfterSeconds?: number };

export interface GitHubServerOptions {
  /** Repositories by `owner/repo`. */
  repositories: Record<string, RepositoryInput>;
  /** Tokens with full read access. */
  tokens?: string[];
  /** Tokens that read repositories but not pull requests (403). */
  limitedTokens?: string[];
  /** Where the API root is, as on GitHub Enterprise Server: e.g. `/api/v3`; default the server's root. */
  pathPrefix?: string;
}

export interface LoggedRequest {
  method: string;
  path: string;
  /** The `authorization` header as sent, if any. */
  authorization: string | undefined;
}

export interface GitHubServer {
  /** http://127.0.0.1:PORT[/pathPrefix] — the API root, what a GitHub Enterprise `baseUrl` would be. */
  url: string;
  /** Every request received, in order, refused ones included. */
  requests: LoggedRequest[];
  /** Requests for pull request `n` of `owner/repo` so far. */
  pullRequests(repository: string, n: number): number;
  /** Answer every following request with this rate limit until `rateLimit(undefined)`. */
  rateLimit(limit: RateLimitKind | undefined): void;
  /** Accept every following request and never answer it (held open until stop()). */
  hang(on: boolean): void;
  /** Resolves once `n` requests have arrived in all. */
  requestsArrived(n: number): Promise<void>;
  stop(): Promise<void>;
}

const DOCS = "https://docs.github.com/rest";
const HOURLY_LIMIT = 5000;

export async function startGitHubServer(options: GitHubServerOptions): Promise<GitHubServer> {
  const requests: LoggedRequest[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const sockets = new Set<Socket>();
  const held: ServerResponse[] = [];
  let limit: RateLimitKind | undefined;
  let hanging = false;
  let used = 0;
  const resetAt = Math.floor(Date.now() / 1000) + 3600;
  let apiUrl = "";

  const tokenOf = (header: string | undefined) => /^(?:token|bearer)\s+(\S+)$/i.exec(header ?? "")?.[1];

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    used++;
    res.writeHead(status, {
      "content-type": "application/json; charset=utf-8",
      "x-github-api-version-selected": "2022-11-28",
      "x-github-media-type": "github.v3; format=json",
      "x-github-request-id": `${(0x1000 + requests.length).toString(16).toUpperCase()}:2F3A:1B2C3D:4E5F60:6789ABCD`,
      "x-ratelimit-limit": String(HOURLY_LIMIT),
      "x-ratelimit-remaining": String(Math.max(HOURLY_LIMIT - used, 0)),
      "x-ratelimit-reset": String(resetAt),
      "x-ratelimit-used": String(used),
      "x-ratelimit-resource": "core",
      ...headers,
    });
    res.end(JSON.stringify(body));
  };
  const failure = (res: ServerResponse, status: number, message: string, docs = DOCS, headers = {}) =>
    send(res, status, { message, documentation_url: docs, status: String(status) }, headers);

  const rateLimited = (res: ServerResponse, l: RateLimitKind) => {
    if (l.kind === "primary") {
      const reset = Math.floor(Date.now() / 1000) + l.resetInSeconds;
      return failure(
        res,
        403,
        "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID.",
        "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
        {
          "x-ratelimit-remaining": "0",
          "x-ratelimit-reset": String(reset),
          "x-ratelimit-used": String(HOURLY_LIMIT),
        },
      );
    }
    return failure(
      res,
      l.status,
      "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.",
      "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
      l.retryAfterSeconds === undefined ? {} : { "retry-after": String(l.retryAfterSeconds) },
    );
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const full = new URL(req.url ?? "/", "http://github.test").pathname;
    const prefix = options.pathPrefix ?? "";
    const path = full.startsWith(`${prefix}/`) ? full.slice(prefix.length) : `/not-under-the-api-root${full}`;
    requests.push({ method: req.method ?? "", path, authorization: req.headers.authorization });
    for (const w of [...waiters]) {
      if (requests.length >= w.n) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
    if (hanging) {
      held.push(res);
      return;
    }
    if (limit) return rateLimited(res, limit);

    const header = req.headers.authorization;
    const token = tokenOf(header);
    const access =
      header === undefined
        ? "anonymous"
        : token && options.tokens?.includes(token)
          ? "full"
          : token && options.limitedTokens?.includes(token)
            ? "limited"
            : undefined;
    if (access === undefined) return failure(res, 401, "Bad credentials");

    const m = /^\/repos\/([^/]+)\/([^/]+)(?:\/pulls\/([^/]+))?\/?$/.exec(path);
    if (req.method !== "GET" || !m) return failure(res, 404, "Not Found");
    const [, owner = "", name = "", pull] = m;
    const repo = Object.entries(options.repositories).find(
      ([k]) => k.toLowerCase() === `${owner}/${name}`.toLowerCase(),
    );
    if (!repo || (repo[1].private && access === "anonymous")) {
      return failure(
        res,
        404,
        "Not Found",
        pull === undefined
          ? "https://docs.github.com/rest/repos/repos#get-a-repository"
          : "https://docs.github.com/rest/pulls/pulls#get-a-pull-request",
      );
    }
    const repoBody = repositoryPayload(apiUrl, repo[0], repo[1], access);
    if (pull === undefined) return send(res, 200, repoBody);

    if (access === "limited") {
      return failure(
        res,
        403,
        "Resource not accessible by personal access token",
        "https://docs.github.com/rest/pulls/pulls#get-a-pull-request",
        { "x-accepted-github-permissions": "pull_requests=read; contents=read" },
      );
    }
    const found = repo[1].pulls?.find((p) => String(p.number) === pull);
    if (!found)
      return failure(res, 404, "Not Found", "https://docs.github.com/rest/pulls/pulls#get-a-pull-request");
    return send(res, 200, pullPayload(apiUrl, repoBody, found));
  };

  const server = createServer(handle);
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}${options.pathPrefix ?? ""}`;

  return {
    url: apiUrl,
    requests,
    pullRequests: (repository, n) =>
      requests.filter((r) => r.path.toLowerCase() === `/repos/${repository}/pulls/${n}`.toLowerCase()).length,
    rateLimit: (l) => {
      limit = l;
    },
    hang: (on) => {
      hanging = on;
    },
    requestsArrived: (n) =>
      new Promise<void>((resolve) => {
        if (requests.length >= n) resolve();
        else waiters.push({ n, resolve });
      }),
    stop: () => {
      for (const socket of sockets) socket.destroy();
      held.length = 0;
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

function userPayload(apiUrl: string, login: string, id: number, type = "User") {
  return {
    login,
    id,
    node_id: `MDQ6VXNlcj${id}`,
    avatar_url: `https://avatars.githubusercontent.com/u/${id}?v=4`,
    gravatar_id: "",
    url: `${apiUrl}/users/${login}`,
    html_url: `https://github.com/${login}`,
    type,
    site_admin: false,
  };
}

function repositoryPayload(apiUrl: string, fullName: string, repo: RepositoryInput, access: string) {
  const [owner = "", name = ""] = fullName.split("/");
  const id = 100_000 + fullName.length;
  return {
    id,
    node_id: `R_kgDOH${id}`,
    name,
    full_name: fullName,
    private: repo.private ?? false,
    owner: userPayload(apiUrl, owner, 9_000 + owner.length, "Organization"),
    html_url: `https://github.com/${fullName}`,
    description: null,
    fork: false,
    url: `${apiUrl}/repos/${fullName}`,
    pulls_url: `${apiUrl}/repos/${fullName}/pulls{/number}`,
    created_at: "2021-03-04T10:11:12Z",
    updated_at: "2024-07-01T08:00:00Z",
    pushed_at: "2024-07-09T07:00:42Z",
    default_branch: "main",
    visibility: repo.private ? "private" : "public",
    archived: false,
    disabled: false,
    open_issues_count: (repo.pulls ?? []).filter((p) => p.state === "open").length,
    ...(access === "anonymous"
      ? {}
      : { permissions: { admin: false, maintain: false, push: false, triage: false, pull: true } }),
  };
}

function pullPayload(apiUrl: string, repo: ReturnType<typeof repositoryPayload>, p: PullInput) {
  const created = Date.UTC(2024, 6, 1) + p.number * 60_000;
  const closed = p.state === "closed" ? created + 86_400_000 : undefined;
  const merged = p.state === "closed" && p.merged === true;
  const author = userPayload(apiUrl, "octocat", 583231);
  const sha = (seed: string) =>
    Buffer.from(`${seed}${p.number}`).toString("hex").padEnd(40, "0").slice(0, 40);
  const ref = (label: string, branch: string) => ({
    label: `${repo.owner.login}:${branch}`,
    ref: branch,
    sha: sha(label),
    user: repo.owner,
    repo,
  });
  const self = `${repo.url}/pulls/${p.number}`;
  return {
    url: self,
    id: 1_900_000_000 + p.number,
    node_id: `PR_kwDOH${p.number}`,
    html_url: `https://github.com/${repo.full_name}/pull/${p.number}`,
    diff_url: `https://github.com/${repo.full_name}/pull/${p.number}.diff`,
    patch_url: `https://github.com/${repo.full_name}/pull/${p.number}.patch`,
    issue_url: `${repo.url}/issues/${p.number}`,
    number: p.number,
    state: p.state,
    locked: false,
    title: p.title ?? `Change ${p.number}`,
    user: author,
    body: null,
    created_at: iso(created),
    updated_at: iso(closed ?? created),
    closed_at: closed === undefined ? null : iso(closed),
    merged_at: merged && closed !== undefined ? iso(closed) : null,
    merge_commit_sha: sha("merge"),
    assignee: null,
    assignees: [],
    requested_reviewers: [],
    requested_teams: [],
    labels: [],
    milestone: null,
    draft: p.draft ?? false,
    commits_url: `${self}/commits`,
    review_comments_url: `${self}/comments`,
    comments_url: `${repo.url}/issues/${p.number}/comments`,
    statuses_url: `${repo.url}/statuses/${sha("head")}`,
    head: ref("head", p.head ?? `feature/${p.number}`),
    base: ref("base", repo.default_branch),
    author_association: "CONTRIBUTOR",
    auto_merge: null,
    active_lock_reason: null,
    merged,
    mergeable: p.state === "open" ? true : null,
    rebaseable: p.state === "open" ? true : null,
    mergeable_state: p.state === "open" ? "clean" : "unknown",
    merged_by: merged ? author : null,
    comments: 0,
    review_comments: 0,
    maintainer_can_modify: false,
    commits: 1,
    additions: 3,
    deletions: 1,
    changed_files: 1,
  };
}

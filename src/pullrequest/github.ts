/**
 * Pull-request status from GitHub (github.com or GitHub Enterprise Server) through the official
 * client, @octokit/rest with the throttling and retry plugins.
 */
import { retry } from "@octokit/plugin-retry";
import { throttling } from "@octokit/plugin-throttling";
import { Octokit } from "@octokit/rest";
import { z } from "zod";
import { AbortedError, UsageError, untilAborted } from "../errors.js";
import { VERSION } from "../version.js";
import { PullRequestLookupError, type PullRequestProvider, type PullRequestStatus } from "./provider.js";

export interface GitHubProviderOptions {
  /** `owner/repo`, e.g. `contoso/shop`. */
  repository: string;
  /** A token that can read the repository's pull requests (e.g. GITHUB_TOKEN); none: public repositories only, 60 requests an hour. */
  token?: string;
  /** The API root; default https://api.github.com. GitHub Enterprise Server: `https://HOST/api/v3`. */
  baseUrl?: string;
  /** Longest one lookup may take, retries and rate-limit waits included; default 30 s. */
  timeoutMs?: number;
  /**
   * Longest rate-limit wait honoured (GitHub's `retry-after` or `x-ratelimit-reset`) before the one
   * retry; a longer one fails the lookup at once. Default 10 s.
   */
  maxRateLimitWaitMs?: number;
}

const DEFAULT_BASE_URL = "https://api.github.com";
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_RATE_LIMIT_WAIT_MS = 10_000;
/** Rate-limited requests are retried this many times: a nightly run keeps the images rather than wait an hour. */
const RATE_LIMIT_RETRIES = 1;
/** Server errors and dropped connections: one more try, after plugin-retry's 1 s pause. */
const SERVER_ERROR_RETRIES = 1;

const Client = Octokit.plugin(throttling, retry);

const pullPayload = z.object({
  number: z.number(),
  state: z.enum(["open", "closed"]),
  merged: z.boolean().nullish(),
  merged_at: z.string().nullish(),
});
const repositoryPayload = z.object({ full_name: z.string(), private: z.boolean().optional() });

const silent = { debug() {}, info() {}, warn() {}, error() {} };

export function gitHubProvider(options: GitHubProviderOptions): PullRequestProvider {
  const [owner, repo] = parseRepository(options.repository);
  const baseUrl = parseBaseUrl(options.baseUrl);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxWaitMs = options.maxRateLimitWaitMs ?? DEFAULT_MAX_RATE_LIMIT_WAIT_MS;
  const token = options.token || undefined;
  const where = baseUrl === DEFAULT_BASE_URL ? `${owner}/${repo}` : `${owner}/${repo} at ${baseUrl}`;

  const retryOnce = (retryAfterSeconds: number, _options: unknown, _octokit: unknown, retryCount: number) =>
    retryCount < RATE_LIMIT_RETRIES && retryAfterSeconds * 1000 <= Math.min(maxWaitMs, timeoutMs);
  const octokit = new Client({
    ...(token ? { auth: token } : {}),
    baseUrl,
    userAgent: `regsweep/${VERSION}`,
    // Below the CLI nothing prints; every failure reaches the caller as an error instead.
    log: silent,
    throttle: { onRateLimit: retryOnce, onSecondaryRateLimit: retryOnce },
    // 403 and 429 belong to the throttling plugin alone, so a rate limit is retried once, not once per plugin.
    retry: { retries: SERVER_ERROR_RETRIES, doNotRetry: [400, 401, 403, 404, 410, 422, 429, 451] },
  });

  /** Runs one API call with the run's signal and this provider's timeout; every failure becomes one line. */
  const call = async <T>(
    what: string,
    asked: Asked,
    signal: AbortSignal | undefined,
    run: (signal: AbortSignal) => Promise<T>,
  ) => {
    if (signal?.aborted) throw new AbortedError(`${what}: cancelled`, { cause: signal.reason });
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      return await untilAborted(combined, run(combined));
    } catch (error) {
      if (signal?.aborted) throw new AbortedError(`${what}: cancelled`, { cause: signal.reason });
      if (timeout.aborted) {
        throw new PullRequestLookupError(
          `${what}: no answer within ${seconds(timeoutMs)}; check the network and that ${baseUrl} is reachable`,
        );
      }
      throw lookupError(what, asked, baseUrl, error, token);
    }
  };

  return {
    name: `github ${where}`,
    async status(number, signal) {
      const what = `GitHub pull request ${owner}/${repo}#${number}`;
      if (!Number.isSafeInteger(number) || number < 1) {
        throw new PullRequestLookupError(`${what}: not a pull request number`);
      }
      const response = await call(what, "pull request", signal, (s) =>
        octokit.rest.pulls.get({ owner, repo, pull_number: number, request: { signal: s } }),
      );
      const parsed = pullPayload.safeParse(response.data);
      if (!parsed.success) {
        throw new PullRequestLookupError(
          `${what}: ${baseUrl} answered with no pull request state; is it a GitHub API root?`,
        );
      }
      return statusOf(parsed.data);
    },
    async check(signal) {
      const what = `GitHub repository ${where}`;
      const response = await call(what, "repository", signal, (s) =>
        octokit.rest.repos.get({ owner, repo, request: { signal: s } }),
      );
      const parsed = repositoryPayload.safeParse(response.data);
      if (!parsed.success) {
        throw new PullRequestLookupError(
          `${what}: ${baseUrl} answered with no repository; is it a GitHub API root?`,
        );
      }
      const remaining = response.headers["x-ratelimit-remaining"];
      const auth = token ? "token accepted" : "no token";
      return `${owner}/${repo} answers (${auth}${remaining === undefined ? "" : `, ${remaining} requests left this hour`})`;
    },
  };
}

function statusOf(pull: z.infer<typeof pullPayload>): PullRequestStatus {
  // `merged` is the documented flag; `merged_at` is what list endpoints carry, so honour either.
  if (pull.merged === true || pull.merged_at) return "merged";
  return pull.state === "closed" ? "closed" : "open";
}

function parseRepository(value: string): [string, string] {
  const m = /^([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))\/([A-Za-z0-9._-]{1,100})$/.exec(value.trim());
  if (!m || m[2] === "." || m[2] === "..") {
    throw new UsageError(`GitHub repository '${value}': expected owner/repo, e.g. contoso/shop`);
  }
  return [m[1] as string, m[2] as string];
}

function parseBaseUrl(value: string | undefined): string {
  if (value === undefined || value === "") return DEFAULT_BASE_URL;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`GitHub API URL '${value}': not a URL; use e.g. https://ghe.example.com/api/v3`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new UsageError(`GitHub API URL '${value}': use http or https, e.g. https://ghe.example.com/api/v3`);
  }
  if (url.username || url.password) {
    throw new UsageError("GitHub API URL: remove the credentials from the URL and pass the token instead");
  }
  return url.href.replace(/\/+$/, "");
}

interface ClientError {
  status?: unknown;
  message?: unknown;
  response?: { headers?: Record<string, string | undefined>; data?: unknown };
}

type Asked = "pull request" | "repository";

function lookupError(
  what: string,
  asked: Asked,
  baseUrl: string,
  error: unknown,
  token: string | undefined,
): PullRequestLookupError {
  const e = (error ?? {}) as ClientError;
  const headers = e.response?.headers ?? {};
  const said = quoted(typeof e.message === "string" ? e.message : String(error), token);
  if (e.response === undefined) {
    // No answer at all: the client reports a refused or dropped connection as a status 500 of its own.
    return new PullRequestLookupError(
      `${what}: cannot reach ${baseUrl} (${said}); check the network and the GitHub API URL`,
    );
  }
  const status = typeof e.status === "number" ? e.status : undefined;
  const make = (text: string) => new PullRequestLookupError(`${what}: ${text}`, status);

  if (status === 401)
    return make("401 Bad credentials; check the token (GITHUB_TOKEN): expired, revoked or mistyped?");
  if (status === 404) {
    const check =
      asked === "pull request" ? "the repository name and the pull request number" : "the repository name";
    return make(
      `404 Not Found; check ${check}, and that the token can read the repository (GitHub answers 404 for a private repository it hides)`,
    );
  }
  const retryAfter = Number(headers["retry-after"]);
  const exhausted = headers["x-ratelimit-remaining"] === "0";
  if (status === 429 || (status === 403 && (exhausted || /rate limit/i.test(said)))) {
    const reset = Number(headers["x-ratelimit-reset"]);
    const when =
      Number.isFinite(retryAfter) && retryAfter > 0
        ? `GitHub asks to wait ${retryAfter} s`
        : exhausted && Number.isFinite(reset) && reset > 0
          ? `the limit resets at ${new Date(reset * 1000).toISOString()}`
          : "GitHub gave no time";
    return make(
      `${status} rate limit exceeded (${when}); the images are kept this run; use a token (5000 requests an hour) or run later`,
    );
  }
  if (status === 403) {
    return make(
      `403 ${said}; the token needs read access to ${asked === "pull request" ? "pull requests" : "the repository"} ("Pull requests: read" for a fine-grained token, repo scope for a classic one on a private repository)`,
    );
  }
  return make(`GitHub answered ${status ?? "an error"} (${said}); try again later`);
}

/**
 * GitHub's own words, on one line, without the documentation link octokit appends and without the
 * token (GitHub does not echo it; this makes sure). A token too short to be a real one is not
 * searched for, as that would garble the text.
 */
function quoted(text: string, token: string | undefined): string {
  const flat = text
    .replace(/\s+/g, " ")
    .replace(/ - https?:\/\/\S+$/, "")
    .trim();
  return token && token.length >= 8 ? flat.replaceAll(token, "***") : flat;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/**
 * Pull-request status from Azure DevOps (Services or a TFS/Azure DevOps Server collection), read
 * through Microsoft's `azure-devops-node-api`.
 *
 * What the SDK does on the wire, and what this adapter adds:
 * - before the first call it asks where resources live: `OPTIONS {org}/_apis/Location`, then
 *   `GET {org}/_apis/ResourceAreas` (its locationUrl for the git area becomes the Git API's base),
 *   then `OPTIONS {base}/_apis/git` for route templates and versions. The api-version travels in the
 *   `Accept` header (`application/json;api-version=7.2-preview.2`), not in the query string.
 * - a 404 is not an error for it: the call resolves with `null`.
 * - it maps status strings to numbers and folds any string it does not know into 0 (NotSet).
 * - it takes no AbortSignal; its only limit is a socket idle timeout (3 min by default). So every
 *   call here runs with a deadline (`timeoutMs`, and the caller's signal) that is handed to each
 *   `http.request` the SDK makes, through a request handler that reads it from AsyncLocalStorage:
 *   an abort destroys the socket, so a hung server neither blocks the caller nor keeps the process
 *   alive. The socket idle timeout is set to the same deadline as a second line.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { RequestOptions } from "node:http";
import { getBearerHandler, getPersonalAccessTokenHandler, WebApi } from "azure-devops-node-api";
import type { IGitApi } from "azure-devops-node-api/GitApi.js";
import type {
  IHttpClient,
  IHttpClientResponse,
  IRequestHandler,
  IRequestInfo,
} from "azure-devops-node-api/interfaces/common/VsoBaseInterfaces.js";
import { AbortedError, UsageError } from "../errors.js";
import { PullRequestLookupError, type PullRequestProvider, type PullRequestStatus } from "./provider.js";

export interface AzureDevOpsProviderOptions {
  /** `https://dev.azure.com/contoso`, `https://contoso.visualstudio.com`, or a collection URL such as `https://tfs.example.com/tfs/DefaultCollection`. */
  readonly organization: string;
  /** Project name or id. */
  readonly project: string;
  /** A personal access token, or a bearer token (`$(System.AccessToken)` in a pipeline, an Entra ID token). */
  readonly token:
    | { readonly kind: "pat"; readonly value: string }
    | { readonly kind: "bearer"; readonly value: string };
  /** Limit for one lookup or check, first-call discovery included; default 30 s. */
  readonly timeoutMs?: number;
}

export const DEFAULT_PULL_REQUEST_TIMEOUT_MS = 30_000;

/** The SDK's PullRequestStatus enum (NotSet 0, Active 1, Abandoned 2, Completed 3). */
const STATUS_BY_NUMBER: Readonly<Record<number, PullRequestStatus>> = {
  0: "notSet",
  1: "active",
  2: "abandoned",
  3: "completed",
};

/** Where the current call's deadline lives, so the shared request handler can put it on each request. */
const deadline = new AsyncLocalStorage<AbortSignal>();

/** Wraps the SDK's credential handler: the credential as before, plus the running call's AbortSignal. */
class DeadlineHandler implements IRequestHandler {
  constructor(private readonly auth: IRequestHandler) {}
  prepareRequest(options: RequestOptions): void {
    this.auth.prepareRequest(options);
    const signal = deadline.getStore();
    if (signal) options.signal = signal;
  }
  canHandleAuthentication(response: IHttpClientResponse): boolean {
    return this.auth.canHandleAuthentication(response);
  }
  handleAuthentication(client: IHttpClient, info: IRequestInfo, objs: unknown): Promise<IHttpClientResponse> {
    return this.auth.handleAuthentication(client, info, objs);
  }
}

export function azureDevOpsProvider(options: AzureDevOpsProviderOptions): PullRequestProvider {
  const organization = parseOrganization(options.organization);
  const project = options.project.trim();
  if (project === "") {
    throw new UsageError(
      `azure-devops ${organization}: the project is empty — name the project that holds the pull requests`,
    );
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_PULL_REQUEST_TIMEOUT_MS;
  const secret = options.token.value;
  const name = `azure-devops ${organization}/${project}`;

  // Tokens go only to the host the user named (no cross-origin auth, no redirects followed).
  const auth =
    options.token.kind === "pat"
      ? getPersonalAccessTokenHandler(secret, false)
      : getBearerHandler(secret, false);
  const connection = new WebApi(organization, new DeadlineHandler(auth), {
    socketTimeout: timeoutMs,
    allowRedirects: false,
  });

  // One Git API per provider. Its discovery runs under its own deadline, not a caller's, because
  // concurrent lookups share it; a failed discovery is forgotten so the next lookup tries again.
  let gitApi: Promise<IGitApi> | undefined;
  const git = (): Promise<IGitApi> => {
    if (!gitApi) {
      const attempt = deadline.run(AbortSignal.timeout(timeoutMs), async () => {
        const api = await connection.getGitApi();
        // The SDK would send the token wherever the server's resource areas point; we do not.
        const apiHost = new URL(api.baseUrl).host;
        if (apiHost !== new URL(organization).host) {
          throw new DiscoveryRefusal(
            `the server places its Git API on ${apiHost}, and regsweep sends the token only to the host you named — use the organization URL on ${apiHost}`,
          );
        }
        return api;
      });
      gitApi = attempt;
      attempt.catch(() => {
        if (gitApi === attempt) gitApi = undefined;
      });
    }
    return gitApi;
  };

  /** Runs `work` with the deadline on its requests; settles as soon as the deadline passes. */
  async function bounded<T>(what: string, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) throw new AbortedError(`${what}: cancelled`, { cause: signal.reason });
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(combined.reason);
      combined.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return await Promise.race([deadline.run(combined, work), aborted]);
    } catch (error) {
      if (signal?.aborted) throw new AbortedError(`${what}: cancelled`, { cause: signal.reason });
      // The shared discovery has its own deadline of the same length; its abort is a timeout too.
      const abortedRequest = (error as { name?: unknown } | null)?.name === "AbortError";
      if (timeout.aborted || abortedRequest) {
        throw new PullRequestLookupError(
          `${what}: no answer within ${formatSeconds(timeoutMs)} — check that ${organization} is reachable from here, or raise the timeout`,
        );
      }
      throw error;
    } finally {
      if (onAbort) combined.removeEventListener("abort", onAbort);
      aborted.catch(() => {});
    }
  }

  return {
    name,

    async status(number: number, signal?: AbortSignal): Promise<PullRequestStatus> {
      const what = `${name} PR ${number}`;
      if (!Number.isSafeInteger(number) || number <= 0) {
        throw new PullRequestLookupError(
          `${what}: not a pull request number — it must be a positive integer`,
        );
      }
      const pr = await bounded(
        what,
        async () => (await git()).getPullRequestById(number, project),
        signal,
      ).catch((error: unknown) => {
        throw lookupError(error, what, { secret, project, kind: options.token.kind });
      });
      if (pr === null || pr === undefined) {
        throw new PullRequestLookupError(
          `${what}: 404 not found — check the PR number and the project name, and that the token may read code (scope Code: Read)`,
          404,
        );
      }
      if (pr.pullRequestId !== undefined && pr.pullRequestId !== number) {
        throw new PullRequestLookupError(
          `${what}: the server answered with PR ${pr.pullRequestId} — check that ${organization} is an Azure DevOps organization or collection URL`,
        );
      }
      const status = pr.status === undefined ? undefined : STATUS_BY_NUMBER[pr.status];
      if (status === undefined) {
        throw new PullRequestLookupError(
          `${what}: the answer has no status regsweep knows (${String(pr.status)}) — keep the images and report this`,
        );
      }
      return status;
    },

    async check(signal?: AbortSignal): Promise<string> {
      const what = `${name}`;
      // The Git API's project-wide list, one item: the very API and token scope that lookups need.
      const list = await bounded(
        what,
        async () =>
          (await git()).getPullRequestsByProject(project, { status: 4 /* All */ }, undefined, undefined, 1),
        signal,
      ).catch((error: unknown) => {
        throw lookupError(error, what, { secret, project, kind: options.token.kind });
      });
      if (list === null || list === undefined) {
        throw new PullRequestLookupError(
          `${what}: 404 project ${project} not found — check the project name and that the token may read code (scope Code: Read)`,
          404,
        );
      }
      return `project ${project} answers`;
    },
  };
}

function parseOrganization(input: string): string {
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    throw new UsageError(
      `azure-devops organization "${input}" is not a URL — use https://dev.azure.com/ORG or a collection URL such as https://tfs.example.com/tfs/DefaultCollection`,
    );
  }
  if ((url.protocol !== "https:" && url.protocol !== "http:") || url.search !== "" || url.hash !== "") {
    throw new UsageError(
      `azure-devops organization "${input}" is not an http(s) organization URL — use https://dev.azure.com/ORG or a collection URL`,
    );
  }
  if (url.username !== "" || url.password !== "") {
    throw new UsageError(
      "azure-devops organization URL carries credentials — pass the token separately, not in the URL",
    );
  }
  return url.href.replace(/\/+$/, "");
}

/** Discovery found something this adapter refuses to follow; the message is the detail after the PR. */
class DiscoveryRefusal extends Error {}

interface ErrorContext {
  readonly secret: string;
  readonly project: string;
  readonly kind: "pat" | "bearer";
}

/** One line a user can act on; the token, in any encoding the SDK sends it, never appears. */
function lookupError(error: unknown, what: string, context: ErrorContext): Error {
  if (error instanceof PullRequestLookupError || error instanceof AbortedError) return error;
  if (error instanceof DiscoveryRefusal) return new PullRequestLookupError(`${what}: ${error.message}`);
  const e = error as { statusCode?: unknown; code?: unknown; message?: unknown; responseHeaders?: unknown };
  const status = typeof e.statusCode === "number" ? e.statusCode : undefined;
  const renew =
    context.kind === "pat"
      ? "check that the personal access token has not expired or been revoked and has the scope Code (Read)"
      : "check that the token has not expired (pipelines: map $(System.AccessToken) into the job) and may read code";
  switch (status) {
    case 401:
      return new PullRequestLookupError(`${what}: 401 unauthorized — the token was refused: ${renew}`, 401);
    case 403:
      return new PullRequestLookupError(
        `${what}: 403 forbidden — the token may not read pull requests of project ${context.project}: give its identity read access to the repositories`,
        403,
      );
    case 429: {
      const retryAfter = header(e.responseHeaders, "retry-after");
      return new PullRequestLookupError(
        `${what}: 429 rate limited by Azure DevOps${retryAfter ? ` (Retry-After ${retryAfter} s)` : ""} — run again later or look up fewer pull requests`,
        429,
      );
    }
    case undefined:
      break;
    default:
      if (status >= 300 && status < 400) {
        return new PullRequestLookupError(
          `${what}: ${status} redirect, not followed so the token stays on this host — use the organization URL the redirect points at`,
          status,
        );
      }
      return new PullRequestLookupError(
        `${what}: ${status} ${status >= 500 ? "server error — Azure DevOps failed; run again later" : `refused (${redact(e.message, context.secret)}) — check the organization URL and project`}`,
        status,
      );
  }
  const message = typeof e.message === "string" ? e.message : String(error);
  // The SDK's own words when discovery finds no Git API at that URL (OPTIONS answered 404 or not JSON).
  if (
    /Failed to find api location|Could not find information for resource area|Failed to retrieve resource areas/.test(
      message,
    )
  ) {
    return new PullRequestLookupError(
      `${what}: no Git API at this URL — check that the organization URL is https://dev.azure.com/ORG or a collection URL such as https://tfs.example.com/tfs/DefaultCollection`,
    );
  }
  if (typeof e.code === "string") {
    return new PullRequestLookupError(
      `${what}: cannot reach the server (${e.code}) — check the organization URL and the network`,
    );
  }
  return new PullRequestLookupError(
    `${what}: ${redact(message, context.secret)} — check the organization URL and the token`,
  );
}

function header(headers: unknown, name: string): string | undefined {
  const value = (headers as Record<string, unknown> | undefined)?.[name];
  return typeof value === "string" && /^\d+$/.test(value) ? value : undefined;
}

/** First line of a server's message, short, with the token removed in the forms it is sent in. */
function redact(message: unknown, secret: string): string {
  let text = (typeof message === "string" ? message : String(message)).split(/\r?\n/)[0] ?? "";
  if (secret !== "") {
    for (const form of [
      secret,
      Buffer.from(`PAT:${secret}`).toString("base64"),
      Buffer.from(`:${secret}`).toString("base64"),
    ]) {
      text = text.split(form).join("***");
    }
  }
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

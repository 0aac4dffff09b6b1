import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local Azure DevOps for tests, enough for `azure-devops-node-api` to look up pull requests the
 * way it does against dev.azure.com:
 * - `OPTIONS {org}/_apis/Location` and `OPTIONS {org}/_apis/git` list resource locations (id, area,
 *   resourceName, routeTemplate, versions) as the service does; the SDK negotiates the api-version
 *   from them and sends it in the `Accept` header;
 * - `GET {org}/_apis/ResourceAreas` names where each area lives (Services), or answers
 *   `{"count":0,"value":null}` as an on-premises collection does (`onPremises`);
 * - `GET {org}/{project}/_apis/git/pullRequests/{id}` answers the documented GitPullRequest shape,
 *   status as a string; `GET {org}/{project}/_apis/git/pullrequests` lists them;
 * - every request needs `Authorization`: Basic with the PAT as password (any user name), or Bearer
 *   with the bearer token; otherwise 401. The 401 body quotes the credential it was given, as a
 *   careless proxy might, so tests can prove errors never repeat a server's words about it.
 * Paths are matched case-insensitively, as the service does.
 */

export interface PullRequestFixture {
  /** The REST status string: active, abandoned, completed, notSet (or anything, to see what the SDK does); null leaves it out. Default active. */
  status?: string | null;
  /** Answer with this pullRequestId instead of the one asked for. */
  reportsId?: number;
  /** Answer this HTTP status instead of the pull request (401, 403, 404, 429, 500...). */
  answer?: number;
  /** Never answer: the request stays open until stop(). */
  hang?: boolean;
  /** Answer after this many milliseconds. */
  delayMs?: number;
}

export interface AzureDevOpsServerOptions {
  /** Path of the organization or collection; default `/contoso`. */
  collectionPath?: string;
  /** Answer ResourceAreas as an on-premises server does. */
  onPremises?: boolean;
  projects?: string[];
  pat?: string;
  bearer?: string;
  pullRequests?: Record<number, PullRequestFixture>;
  /** Host name that ResourceAreas gives as the git area's location (default 127.0.0.1, this server). */
  areaHost?: string;
  /** Answer every OPTIONS discovery request with this status (e.g. 404: a URL that is no Azure DevOps). */
  discoveryAnswer?: number;
}

export interface RecordedRequest {
  method: string;
  /** Path without the query, as sent. */
  path: string;
  query: string;
  /** api-version from the query or the Accept header, if any. */
  apiVersion: string | undefined;
  auth: "basic" | "bearer" | "none" | "other";
  /** The credential was accepted. */
  authorized: boolean;
}

export interface AzureDevOpsServer {
  /** The organization URL to give the client, e.g. http://127.0.0.1:PORT/contoso */
  url: string;
  readonly requests: readonly RecordedRequest[];
  /** GETs of pull request `id` that reached the server. */
  lookups(id: number): number;
  setPullRequest(id: number, fixture: PullRequestFixture): void;
  /** Changes options.discoveryAnswer (undefined: answer discovery normally). */
  setDiscoveryAnswer(status: number | undefined): void;
  /** Resolves when a request whose path matches `pattern` has arrived. */
  arrived(pattern: RegExp): Promise<void>;
  stop(): Promise<void>;
}

const LOCATION_AREA = "Location";
const RESOURCE_AREAS_ID = "e81700f7-3be2-46de-8624-2eb35882fcaa";
const CONNECTION_DATA_ID = "00d9565f-ed9c-4a06-9a50-00e7896ccab4";
const GIT_AREA_ID = "4e080c62-fa21-4fbc-8fef-2a10a2b38049";
const CORE_AREA_ID = "79134c72-4a58-4b42-976c-04e7115f32bf";
const PULL_REQUEST_ID = "01a46dea-7d46-4d40-bc84-319e7c260d99";
const PULL_REQUESTS_BY_PROJECT_ID = "a5d28130-9cd2-40fa-9f08-902e7daa9efb";

const location = (
  id: string,
  area: string,
  resourceName: string,
  routeTemplate: string,
  resourceVersion: number,
) => ({
  id,
  area,
  resourceName,
  routeTemplate,
  resourceVersion,
  minVersion: "1.0",
  maxVersion: "7.2",
  releasedVersion: "7.1",
});

const LOCATIONS: Record<string, object[]> = {
  location: [
    location(RESOURCE_AREAS_ID, LOCATION_AREA, "ResourceAreas", "_apis/{resource}/{areaId}", 1),
    location(CONNECTION_DATA_ID, LOCATION_AREA, "ConnectionData", "_apis/{resource}", 1),
  ],
  git: [
    location(PULL_REQUEST_ID, "git", "pullRequests", "{project}/_apis/{area}/{resource}/{pullRequestId}", 2),
    location(PULL_REQUESTS_BY_PROJECT_ID, "git", "pullRequests", "{project}/_apis/{area}/{resource}", 2),
  ],
};

export async function startAzureDevOpsServer(
  options: AzureDevOpsServerOptions = {},
): Promise<AzureDevOpsServer> {
  const base = (options.collectionPath ?? "/contoso").replace(/\/+$/, "");
  const projects = new Set((options.projects ?? ["shop"]).map((p) => p.toLowerCase()));
  const pullRequests = new Map<number, PullRequestFixture>(
    Object.entries(options.pullRequests ?? {}).map(([id, f]) => [Number(id), f]),
  );
  const requests: RecordedRequest[] = [];
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  let origin = "";
  let discoveryAnswer = options.discoveryAnswer;

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    res.writeHead(status, {
      "Content-Type":
        typeof body === "string" ? "text/plain; charset=utf-8" : "application/json; charset=utf-8",
      "Content-Length": Buffer.byteLength(text),
      "X-TFS-ProcessId": "00000000-0000-0000-0000-000000000000",
      ...headers,
    });
    res.end(text);
  };

  const vssError = (message: string, typeKey: string) => ({
    $id: "1",
    innerException: null,
    message,
    typeName: `Microsoft.TeamFoundation.${typeKey}, Microsoft.TeamFoundation.SourceControl.WebServer`,
    typeKey,
    errorCode: 0,
    eventId: 3000,
  });

  const authorize = (
    req: IncomingMessage,
  ): { auth: RecordedRequest["auth"]; authorized: boolean; given: string } => {
    const header = req.headers.authorization ?? "";
    const [scheme = "", value = ""] = header.split(" ", 2);
    if (scheme.toLowerCase() === "basic") {
      const decoded = Buffer.from(value, "base64").toString("utf8");
      const password = decoded.slice(decoded.indexOf(":") + 1);
      return {
        auth: "basic",
        authorized: options.pat !== undefined && password === options.pat,
        given: password,
      };
    }
    if (scheme.toLowerCase() === "bearer") {
      return {
        auth: "bearer",
        authorized: options.bearer !== undefined && value === options.bearer,
        given: value,
      };
    }
    return { auth: header === "" ? "none" : "other", authorized: false, given: header };
  };

  const pullRequestBody = (project: string, id: number, status: string | null) => ({
    repository: {
      id: "3411ebc1-d5aa-464f-9615-0b527bc66719",
      name: "shop-api",
      url: `${origin}${base}/${project}/_apis/git/repositories/3411ebc1-d5aa-464f-9615-0b527bc66719`,
      project: { id: "a7573007-bbb3-4341-b726-0c4148a07853", name: project, state: "wellFormed" },
    },
    pullRequestId: id,
    codeReviewId: id,
    ...(status === null ? {} : { status }),
    createdBy: { displayName: "Normal Paulk", id: "110edd6f-0e8c-4e2c-8e19-1e6e0a1e2f1e" },
    creationDate: "2024-06-14T09:31:00.0000000Z",
    title: `Change ${id}`,
    sourceRefName: `refs/heads/feature/${id}`,
    targetRefName: "refs/heads/main",
    mergeStatus: "succeeded",
    isDraft: false,
    url: `${origin}${base}/${project}/_apis/git/repositories/3411ebc1-d5aa-464f-9615-0b527bc66719/pullRequests/${id}`,
    supportsIterations: true,
  });

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = decodeURIComponent(url.pathname);
    const accept = req.headers.accept ?? "";
    const apiVersion = url.searchParams.get("api-version") ?? /api-version=([^;,\s]+)/.exec(accept)?.[1];
    const { auth, authorized, given } = authorize(req);
    requests.push({ method: req.method ?? "", path, query: url.search, apiVersion, auth, authorized });
    for (const w of [...waiters]) {
      if (w.pattern.test(path)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
    req.resume();

    if (!authorized) {
      send(res, 401, `Access Denied: the credential '${given}' is not valid for ${base}`, {
        "WWW-Authenticate":
          'Bearer authorization_uri=https://login.microsoftonline.com/common, Basic realm="https://localhost/"',
      });
      return;
    }
    const lower = path.toLowerCase();
    if (!lower.startsWith(`${base.toLowerCase()}/`)) {
      send(res, 404, "Not Found");
      return;
    }
    const rest = lower.slice(base.length + 1);

    if (req.method === "OPTIONS") {
      if (discoveryAnswer) {
        send(res, discoveryAnswer, `The server answers ${discoveryAnswer}.`);
        return;
      }
      const area = /^_apis\/([^/]+)$/.exec(rest)?.[1];
      const locations = area ? LOCATIONS[area] : undefined;
      if (!locations) {
        send(
          res,
          404,
          vssError(`The requested area ${area ?? rest} is not served here.`, "VssResourceNotFoundException"),
        );
        return;
      }
      send(res, 200, { count: locations.length, value: locations });
      return;
    }
    if (req.method !== "GET") {
      send(res, 405, vssError("The requested method is not allowed.", "VssMethodNotAllowedException"));
      return;
    }
    if (rest === "_apis/resourceareas") {
      if (options.onPremises) {
        send(res, 200, { count: 0, value: null });
        return;
      }
      const locationUrl = `${origin.replace("127.0.0.1", options.areaHost ?? "127.0.0.1")}${base}/`;
      send(res, 200, {
        count: 2,
        value: [
          { id: GIT_AREA_ID, name: "git", locationUrl },
          { id: CORE_AREA_ID, name: "core", locationUrl },
        ],
      });
      return;
    }
    const single = /^([^/]+)\/_apis\/git\/pullrequests\/(\d+)$/.exec(rest);
    const list = /^([^/]+)\/_apis\/git\/pullrequests$/.exec(rest);
    const project = (single ?? list)?.[1];
    if (project !== undefined && !projects.has(project)) {
      send(
        res,
        404,
        vssError(
          `TF200016: The following project does not exist: ${project}. Verify that the name of the project is correct and that the project exists on the specified Azure DevOps Server.`,
          "ProjectDoesNotExistWithNameException",
        ),
      );
      return;
    }
    if (single && project !== undefined) {
      const id = Number(single[2]);
      const fixture = pullRequests.get(id);
      const answer = () => {
        if (!fixture || fixture.answer === 404) {
          send(
            res,
            404,
            vssError(
              "TF401180: The requested pull request was not found.",
              "GitPullRequestNotFoundException",
            ),
          );
        } else if (fixture.answer === 429) {
          send(
            res,
            429,
            vssError(
              "Request was blocked due to exceeding usage of resource 'Global' in namespace 'User'.",
              "RequestBlockedException",
            ),
            {
              "Retry-After": "30",
            },
          );
        } else if (fixture.answer !== undefined) {
          send(
            res,
            fixture.answer,
            vssError(`The server answers ${fixture.answer} to '${given}'.`, "VssServiceException"),
          );
        } else {
          send(
            res,
            200,
            pullRequestBody(
              project,
              fixture.reportsId ?? id,
              fixture.status === undefined ? "active" : fixture.status,
            ),
          );
        }
      };
      if (fixture?.hang) return;
      if (fixture?.delayMs) setTimeout(answer, fixture.delayMs);
      else answer();
      return;
    }
    if (list && project !== undefined) {
      const top = Number(url.searchParams.get("$top") ?? "100");
      const value = [...pullRequests.entries()]
        .filter(([, f]) => f.answer === undefined && !f.hang)
        .slice(0, top)
        .map(([id, f]) => pullRequestBody(project, id, f.status ?? "active"));
      send(res, 200, { value, count: value.length });
      return;
    }
    send(res, 404, vssError(`The resource ${path} is not served here.`, "VssResourceNotFoundException"));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: `${origin}${base}`,
    requests,
    lookups: (id) =>
      requests.filter(
        (r) => r.method === "GET" && new RegExp(`/_apis/git/pullrequests/${id}$`, "i").test(r.path),
      ).length,
    setPullRequest: (id, fixture) => {
      pullRequests.set(id, fixture);
    },
    setDiscoveryAnswer: (status) => {
      discoveryAnswer = status;
    },
    arrived: (pattern) =>
      new Promise<void>((resolve) => {
        if (requests.some((r) => pattern.test(r.path))) resolve();
        else waiters.push({ pattern, resolve });
      }),
    stop: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

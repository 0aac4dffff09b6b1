import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeSelfSignedCert } from "../../harness/tls.js";

/**
 * A local Azure Resource Manager for tests. It answers the read operations regsweep needs with the
 * payloads ARM documents (ids, names, types, `properties`), pages every list with an absolute
 * `nextLink`, requires `Authorization: Bearer …` and `api-version`, and serves TLS because the
 * Azure SDK pipeline refuses to send bearer tokens over plain http.
 */

export interface ArmContainer {
  name: string;
  image: string;
}

export interface ArmSiteConfig {
  linuxFxVersion?: string;
  windowsFxVersion?: string;
}

export interface ArmSiteContainer {
  name: string;
  image: string;
  isMain?: boolean;
}

export interface ArmWebAppSlot {
  /** Slot name only ("staging"); ARM names the slot resource "web1/staging". */
  name: string;
  siteConfig?: ArmSiteConfig;
  listSiteConfigNull?: boolean;
  appSettings?: Record<string, string>;
  siteContainers?: ArmSiteContainer[];
}

export interface ArmWebApp {
  resourceGroup: string;
  name: string;
  /** "app,linux,container" | "functionapp,linux,container" | "app" …; default "app,linux" */
  kind?: string;
  /** Returned by GET …/config/web (and, unless listSiteConfigNull, inside the list's properties.siteConfig). */
  siteConfig?: ArmSiteConfig;
  /** The list result's properties.siteConfig is null (real ARM does this). */
  listSiteConfigNull?: boolean;
  appSettings?: Record<string, string>;
  siteContainers?: ArmSiteContainer[];
  slots?: ArmWebAppSlot[];
}

export interface ArmRevision {
  /** Full revision name as ARM gives it, e.g. "app1--v2". */
  name: string;
  active: boolean;
  /** ISO timestamp; default a fixed date. */
  createdTime?: string;
  containers: ArmContainer[];
  initContainers?: ArmContainer[];
}

export interface ArmContainerApp {
  resourceGroup: string;
  name: string;
  containers: ArmContainer[];
  initContainers?: ArmContainer[];
  /** Default: one active revision "<name>--0000001" running the app's template. */
  revisions?: ArmRevision[];
}

export interface ArmContainerAppJob {
  resourceGroup: string;
  name: string;
  containers: ArmContainer[];
  initContainers?: ArmContainer[];
}

export interface ArmContainerGroup {
  resourceGroup: string;
  name: string;
  containers: ArmContainer[];
  initContainers?: ArmContainer[];
}

export interface ArmManagedCluster {
  resourceGroup: string;
  name: string;
  /** Kubeconfig YAML; listClusterUserCredential returns it base64-encoded. */
  kubeconfig: string;
  aadProfile?: object;
  /** Extra ManagedClusterProperties merged into `properties` (e.g. apiServerAccessProfile). */
  properties?: Record<string, unknown>;
  /** Runs what AKS run-command is asked to run; without it runCommand is refused (400). */
  runCommand?: ArmRunCommandHandler;
}

/** Microsoft.ContainerRegistry/registries. */
export interface ArmRegistry {
  resourceGroup: string;
  name: string;
  /** Default `<name lower-cased>.azurecr.io`; tests point it at a local registry (127.0.0.1:PORT). */
  loginServer?: string;
  /** Basic | Standard | Premium; default Standard. */
  sku?: string;
}

/** What a run-command request carries. */
export interface ArmRunCommandRequest {
  command: string;
  clusterToken?: string;
  context?: string;
}

/** How a command ended, as the RunCommandResult's properties say; default provisioningState Succeeded. */
export interface ArmRunCommandOutcome {
  provisioningState?: string;
  exitCode?: number;
  logs?: string;
  reason?: string;
}

export type ArmRunCommandHandler = (
  request: ArmRunCommandRequest,
) => Promise<ArmRunCommandOutcome> | ArmRunCommandOutcome;

export interface ArmSubscriptionFixture {
  /** Shown by GET /subscriptions; default "Subscription <id>". */
  displayName?: string;
  /** Enabled | Disabled | Warned | PastDue | Deleted; default Enabled. */
  state?: string;
  registries?: ArmRegistry[];
  webApps?: ArmWebApp[];
  containerApps?: ArmContainerApp[];
  containerAppJobs?: ArmContainerAppJob[];
  containerGroups?: ArmContainerGroup[];
  managedClusters?: ArmManagedCluster[];
}

export interface ArmFixture {
  subscriptions: Record<string /* subscriptionId */, ArmSubscriptionFixture>;
}

export interface ArmRequest {
  method: string;
  /** URL path as received (not decoded). */
  path: string;
  query: Record<string, string>;
  authorization?: string;
}

export interface ArmServer {
  /** https://127.0.0.1:PORT */
  endpoint: string;
  /** Self-signed certificate (SAN IP:127.0.0.1, DNS:localhost) the server presents; it is its own CA. */
  caCertPem: string;
  caCertPath: string;
  /** Every request received, in order, including refused ones. */
  requests: ArmRequest[];
  /** Every AKS run-command accepted, in order. */
  runCommands: (ArmRunCommandRequest & { cluster: string })[];
  stop(): Promise<void>;
}

export interface ArmServerOptions {
  /** The only bearer token accepted; default: any non-empty token. */
  token?: string;
  /** Items per list page; default 2 so paging is always exercised. */
  pageSize?: number;
  /** Requests whose path contains `pathIncludes` (case-insensitive) get `status` with an ARM error body. */
  failWith?: { pathIncludes: string; status: number };
  /** Requests whose path contains this (case-insensitive) are accepted and never answered (held until stop()). */
  hangOn?: string;
}

const LOCATION = "westeurope";
const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const DEFAULT_CREATED = "2026-01-05T10:00:00.0000000Z";

class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

type Params = Record<string, string>;

interface Ctx {
  sub: ArmSubscriptionFixture;
  subscriptionId: string;
  params: Params;
  path: string;
  query: Params;
  /** The request body as received ("" when none). */
  body: string;
}

interface Route {
  method: "GET" | "POST";
  segments: string[];
  handle(ctx: Ctx): Reply;
}

/** GET /subscriptions names no subscription: it lists every one the token sees. */
const TENANT_ROUTE = ["subscriptions"];

export async function startArmServer(fixture: ArmFixture, opts: ArmServerOptions = {}): Promise<ArmServer> {
  const dir = await mkdtemp(join(tmpdir(), "arm-server-"));
  const cert = await makeSelfSignedCert(dir, "arm");
  const key = await readFile(cert.keyPath);
  const pageSize = opts.pageSize ?? 2;
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new Error(`pageSize must be a positive integer`);
  const requests: ArmRequest[] = [];
  let endpoint = "";

  /** Pages `items` like ARM: `{value, nextLink}` with an absolute nextLink carrying api-version. */
  const paged = (ctx: Ctx, items: unknown[]): Reply => {
    const skip = Number.parseInt(ctx.query.$skiptoken ?? "0", 10);
    if (!Number.isInteger(skip) || skip < 0)
      throw new ArmError(400, "InvalidSkipToken", "The skip token is invalid.");
    const value = items.slice(skip, skip + pageSize);
    const body: { value: unknown[]; nextLink?: string } = { value };
    if (skip + pageSize < items.length) {
      const apiVersion = encodeURIComponent(ctx.query["api-version"] ?? "");
      body.nextLink = `${endpoint}${ctx.path}?api-version=${apiVersion}&$skiptoken=${skip + pageSize}`;
    }
    return { status: 200, body };
  };

  const runCommands: (ArmRunCommandRequest & { cluster: string })[] = [];
  const routes = buildRoutes(paged);
  addRunCommandRoutes(routes, () => endpoint, runCommands);

  const handle = (req: IncomingMessage, body: string): Reply => {
    const url = new URL(req.url ?? "/", "https://127.0.0.1");
    const query: Params = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const authorization = req.headers.authorization;
    requests.push({
      method: req.method ?? "",
      path: url.pathname,
      query,
      ...(authorization === undefined ? {} : { authorization }),
    });

    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1];
    if (bearer === undefined) {
      throw new ArmError(
        401,
        "AuthenticationFailed",
        "Authentication failed. The 'Authorization' header is missing.",
        {
          "WWW-Authenticate":
            'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", error_description="The authentication failed because of missing \'Authorization\' header."',
        },
      );
    }
    if (opts.token !== undefined && bearer !== opts.token) {
      throw new ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.", {
        "WWW-Authenticate":
          'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", error_description="The access token is invalid."',
      });
    }
    if (!query["api-version"]) {
      throw new ArmError(
        400,
        "MissingApiVersionParameter",
        "The api-version query parameter (?api-version=) is required for all requests.",
      );
    }
    if (opts.failWith && url.pathname.toLowerCase().includes(opts.failWith.pathIncludes.toLowerCase())) {
      const { status } = opts.failWith;
      throw new ArmError(status, errorCodeFor(status), `Injected failure for ${url.pathname}.`);
    }

    const segments = url.pathname
      .split("/")
      .filter((s) => s !== "")
      .map(decodeURIComponent);
    if (matchSegments(TENANT_ROUTE, segments)) {
      if (req.method !== "GET")
        throw new ArmError(405, "MethodNotAllowed", `The HTTP method '${req.method}' is not supported.`);
      return paged(
        { sub: {}, subscriptionId: "", params: {}, path: url.pathname, query, body: "" },
        Object.entries(fixture.subscriptions).map(([id, sub]) => subscriptionResource(id, sub)),
      );
    }
    let pathMatched = false;
    for (const route of routes) {
      const params = matchSegments(route.segments, segments);
      if (params === undefined) continue;
      pathMatched = true;
      if (route.method !== req.method) continue;
      const subscriptionId = params.sub ?? "";
      const sub = Object.entries(fixture.subscriptions).find(
        ([id]) => id.toLowerCase() === subscriptionId.toLowerCase(),
      )?.[1];
      if (sub === undefined) {
        throw new ArmError(
          404,
          "SubscriptionNotFound",
          `The subscription '${subscriptionId}' could not be found.`,
        );
      }
      return route.handle({ sub, subscriptionId, params, path: url.pathname, query, body });
    }
    if (pathMatched) {
      throw new ArmError(405, "MethodNotAllowed", `The HTTP method '${req.method}' is not supported.`);
    }
    throw new ArmError(404, "NotFound", `No route for ${req.method} ${url.pathname} in the test ARM server.`);
  };

  const server: Server = createServer(
    { key, cert: cert.certPem },
    (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        if (opts.hangOn && (req.url ?? "").toLowerCase().includes(opts.hangOn.toLowerCase())) return;
        let status: number;
        let body: unknown;
        let headers: Record<string, string> = {};
        try {
          const reply = handle(req, Buffer.concat(chunks).toString("utf8"));
          ({ status, body } = reply);
          headers = reply.headers ?? {};
        } catch (err) {
          if (err instanceof ArmError) {
            status = err.status;
            body = { error: { code: err.code, message: err.message } };
            headers = err.headers;
          } else {
            status = 500;
            body = { error: { code: "InternalServerError", message: String(err) } };
          }
        }
        // Accepted operations (202) answer with no body, as ARM does.
        const text = body === "" ? "" : JSON.stringify(body);
        res.writeHead(status, {
          "Content-Type": "application/json; charset=utf-8",
          "Content-Length": Buffer.byteLength(text),
          "x-ms-request-id": randomUUID(),
          "x-ms-correlation-request-id": randomUUID(),
          "Cache-Control": "no-cache",
          ...headers,
        });
        res.end(text);
      });
    },
  );

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    endpoint,
    caCertPem: cert.certPem,
    caCertPath: cert.certPath,
    requests,
    runCommands,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function errorCodeFor(status: number): string {
  switch (status) {
    case 400:
      return "BadRequest";
    case 401:
      return "AuthenticationFailed";
    case 403:
      return "AuthorizationFailed";
    case 404:
      return "ResourceNotFound";
    case 409:
      return "Conflict";
    case 429:
      return "TooManyRequests";
    case 503:
      return "ServiceUnavailable";
    default:
      return status >= 500 ? "InternalServerError" : "BadRequest";
  }
}

/** ARM matches path literals and resource names case-insensitively. */
function matchSegments(pattern: string[], actual: string[]): Params | undefined {
  if (pattern.length !== actual.length) return undefined;
  const params: Params = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i] as string;
    const a = actual[i] as string;
    if (p.startsWith(":")) params[p.slice(1)] = a;
    else if (p.toLowerCase() !== a.toLowerCase()) return undefined;
  }
  return params;
}

const same = (a: string, b: string | undefined): boolean => a.toLowerCase() === (b ?? "").toLowerCase();

function notFound(type: string, name: string, rg: string): ArmError {
  return new ArmError(
    404,
    "ResourceNotFound",
    `The Resource '${type}/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );
}

function rgId(subscriptionId: string, rg: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${rg}`;
}

function buildRoutes(paged: (ctx: Ctx, items: unknown[]) => Reply): Route[] {
  const routes: Route[] = [];
  const add = (method: Route["method"], path: string, handle: Route["handle"]): void => {
    routes.push({ method, segments: path.split("/").filter((s) => s !== ""), handle });
  };
  const ok = (body: unknown): Reply => ({ status: 200, body });

  const RG = "/subscriptions/:sub/resourceGroups/:rg";

  // ---------------------------------------------------------------- Microsoft.ContainerRegistry
  add("GET", "/subscriptions/:sub/providers/Microsoft.ContainerRegistry/registries", (ctx) =>
    paged(
      ctx,
      (ctx.sub.registries ?? []).map((r) => registryResource(ctx.subscriptionId, r)),
    ),
  );
  add("GET", `${RG}/providers/Microsoft.ContainerRegistry/registries`, (ctx) =>
    paged(
      ctx,
      (ctx.sub.registries ?? [])
        .filter((r) => same(r.resourceGroup, ctx.params.rg))
        .map((r) => registryResource(ctx.subscriptionId, r)),
    ),
  );

  // ---------------------------------------------------------------- Microsoft.Web (App Service)
  const SITE = `${RG}/providers/Microsoft.Web/sites/:name`;
  const SLOT = `${SITE}/slots/:slot`;

  const findSite = (ctx: Ctx): ArmWebApp => {
    const site = (ctx.sub.webApps ?? []).find(
      (s) => same(s.resourceGroup, ctx.params.rg) && same(s.name, ctx.params.name),
    );
    if (!site) throw notFound("Microsoft.Web/sites", ctx.params.name ?? "", ctx.params.rg ?? "");
    return site;
  };
  const findSlot = (ctx: Ctx): { site: ArmWebApp; slot: ArmWebAppSlot } => {
    const site = findSite(ctx);
    const slot = (site.slots ?? []).find((s) => same(s.name, ctx.params.slot));
    if (!slot)
      throw notFound("Microsoft.Web/sites/slots", `${site.name}/${ctx.params.slot}`, site.resourceGroup);
    return { site, slot };
  };

  add("GET", "/subscriptions/:sub/providers/Microsoft.Web/sites", (ctx) =>
    paged(
      ctx,
      (ctx.sub.webApps ?? []).map((s) => siteResource(ctx.subscriptionId, s)),
    ),
  );
  add("GET", `${RG}/providers/Microsoft.Web/sites`, (ctx) => {
    const inRg = (ctx.sub.webApps ?? []).filter((s) => same(s.resourceGroup, ctx.params.rg));
    const items: unknown[] = [];
    for (const s of inRg) {
      items.push(siteResource(ctx.subscriptionId, s));
      if (ctx.query.includeSlots === "true") {
        for (const slot of s.slots ?? []) items.push(siteResource(ctx.subscriptionId, s, slot));
      }
    }
    return paged(ctx, items);
  });
  add("GET", SITE, (ctx) => ok(siteResource(ctx.subscriptionId, findSite(ctx))));
  add("GET", `${SITE}/config/web`, (ctx) => ok(siteConfigResource(ctx.subscriptionId, findSite(ctx))));
  add("POST", `${SITE}/config/appsettings/list`, (ctx) =>
    ok(appSettingsResource(ctx.subscriptionId, findSite(ctx))),
  );
  add("GET", `${SITE}/sitecontainers`, (ctx) => {
    const site = findSite(ctx);
    return paged(
      ctx,
      (site.siteContainers ?? []).map((c) => siteContainerResource(ctx.subscriptionId, site, undefined, c)),
    );
  });
  add("GET", `${SITE}/slots`, (ctx) => {
    const site = findSite(ctx);
    return paged(
      ctx,
      (site.slots ?? []).map((slot) => siteResource(ctx.subscriptionId, site, slot)),
    );
  });
  add("GET", SLOT, (ctx) => {
    const { site, slot } = findSlot(ctx);
    return ok(siteResource(ctx.subscriptionId, site, slot));
  });
  add("GET", `${SLOT}/config/web`, (ctx) => {
    const { site, slot } = findSlot(ctx);
    return ok(siteConfigResource(ctx.subscriptionId, site, slot));
  });
  add("POST", `${SLOT}/config/appsettings/list`, (ctx) => {
    const { site, slot } = findSlot(ctx);
    return ok(appSettingsResource(ctx.subscriptionId, site, slot));
  });
  add("GET", `${SLOT}/sitecontainers`, (ctx) => {
    const { site, slot } = findSlot(ctx);
    return paged(
      ctx,
      (slot.siteContainers ?? []).map((c) => siteContainerResource(ctx.subscriptionId, site, slot, c)),
    );
  });

  // ---------------------------------------------------------------- Microsoft.App (Container Apps)
  add("GET", "/subscriptions/:sub/providers/Microsoft.App/containerApps", (ctx) =>
    paged(
      ctx,
      (ctx.sub.containerApps ?? []).map((a) => containerAppResource(ctx.subscriptionId, a)),
    ),
  );
  add("GET", `${RG}/providers/Microsoft.App/containerApps`, (ctx) =>
    paged(
      ctx,
      (ctx.sub.containerApps ?? [])
        .filter((a) => same(a.resourceGroup, ctx.params.rg))
        .map((a) => containerAppResource(ctx.subscriptionId, a)),
    ),
  );
  add("GET", `${RG}/providers/Microsoft.App/containerApps/:name/revisions`, (ctx) => {
    const app = (ctx.sub.containerApps ?? []).find(
      (a) => same(a.resourceGroup, ctx.params.rg) && same(a.name, ctx.params.name),
    );
    if (!app) throw notFound("Microsoft.App/containerApps", ctx.params.name ?? "", ctx.params.rg ?? "");
    return paged(
      ctx,
      revisionsOf(app).map((r) => revisionResource(ctx.subscriptionId, app, r)),
    );
  });
  add("GET", "/subscriptions/:sub/providers/Microsoft.App/jobs", (ctx) =>
    paged(
      ctx,
      (ctx.sub.containerAppJobs ?? []).map((j) => jobResource(ctx.subscriptionId, j)),
    ),
  );
  add("GET", `${RG}/providers/Microsoft.App/jobs`, (ctx) =>
    paged(
      ctx,
      (ctx.sub.containerAppJobs ?? [])
        .filter((j) => same(j.resourceGroup, ctx.params.rg))
        .map((j) => jobResource(ctx.subscriptionId, j)),
    ),
  );

  // ---------------------------------------------------------------- Microsoft.ContainerInstance
  add("GET", "/subscriptions/:sub/providers/Microsoft.ContainerInstance/containerGroups", (ctx) =>
    paged(
      ctx,
      (ctx.sub.containerGroups ?? []).map((g) => containerGroupResource(ctx.subscriptionId, g)),
    ),
  );
  add("GET", `${RG}/providers/Microsoft.ContainerInstance/containerGroups`, (ctx) =>
    paged(
      ctx,
      (ctx.sub.containerGroups ?? [])
        .filter((g) => same(g.resourceGroup, ctx.params.rg))
        .map((g) => containerGroupResource(ctx.subscriptionId, g)),
    ),
  );

  // ---------------------------------------------------------------- Microsoft.ContainerService (AKS)
  add("GET", "/subscriptions/:sub/providers/Microsoft.ContainerService/managedClusters", (ctx) =>
    paged(
      ctx,
      (ctx.sub.managedClusters ?? []).map((c) => managedClusterResource(ctx.subscriptionId, c)),
    ),
  );
  add("GET", `${RG}/providers/Microsoft.ContainerService/managedClusters`, (ctx) =>
    paged(
      ctx,
      (ctx.sub.managedClusters ?? [])
        .filter((c) => same(c.resourceGroup, ctx.params.rg))
        .map((c) => managedClusterResource(ctx.subscriptionId, c)),
    ),
  );
  add(
    "POST",
    `${RG}/providers/Microsoft.ContainerService/managedClusters/:name/listClusterUserCredential`,
    (ctx) => {
      const cluster = (ctx.sub.managedClusters ?? []).find(
        (c) => same(c.resourceGroup, ctx.params.rg) && same(c.name, ctx.params.name),
      );
      if (!cluster) {
        throw notFound(
          "Microsoft.ContainerService/managedClusters",
          ctx.params.name ?? "",
          ctx.params.rg ?? "",
        );
      }
      const format = ctx.query.format;
      if (format !== undefined && !["azure", "exec"].includes(format.toLowerCase())) {
        throw new ArmError(400, "BadRequest", `Invalid format '${format}'. Allowed values: azure, exec.`);
      }
      return ok({
        kubeconfigs: [
          { name: "clusterUser", value: Buffer.from(cluster.kubeconfig, "utf8").toString("base64") },
        ],
      });
    },
  );

  return routes;
}

/**
 * AKS run-command as ARM runs it: GET of one cluster, POST …/runCommand → 202 with a `Location`
 * to poll; the poll answers 202 while the command runs and 200 with the RunCommandResult once it
 * has ended. The cluster's `runCommand` handler decides how each command ends.
 */
function addRunCommandRoutes(
  routes: Route[],
  endpointOf: () => string,
  log: (ArmRunCommandRequest & { cluster: string })[],
): void {
  const CLUSTER =
    "/subscriptions/:sub/resourceGroups/:rg/providers/Microsoft.ContainerService/managedClusters/:name";
  const add = (method: Route["method"], path: string, handle: Route["handle"]): void => {
    routes.push({ method, segments: path.split("/").filter((s) => s !== ""), handle });
  };
  const operations = new Map<string, { result?: unknown }>();
  const findCluster = (ctx: Ctx): ArmManagedCluster => {
    const cluster = (ctx.sub.managedClusters ?? []).find(
      (c) => same(c.resourceGroup, ctx.params.rg) && same(c.name, ctx.params.name),
    );
    if (!cluster)
      throw notFound(
        "Microsoft.ContainerService/managedClusters",
        ctx.params.name ?? "",
        ctx.params.rg ?? "",
      );
    return cluster;
  };

  add("GET", CLUSTER, (ctx) => ({
    status: 200,
    body: managedClusterResource(ctx.subscriptionId, findCluster(ctx)),
  }));
  add("POST", `${CLUSTER}/runCommand`, (ctx) => {
    const cluster = findCluster(ctx);
    let request: ArmRunCommandRequest;
    try {
      request = JSON.parse(ctx.body) as ArmRunCommandRequest;
    } catch {
      throw new ArmError(
        400,
        "InvalidRequestContent",
        "The request content was invalid and could not be deserialized.",
      );
    }
    if (typeof request.command !== "string" || request.command === "")
      throw new ArmError(400, "InvalidParameter", "The value of parameter command is invalid.");
    if (!cluster.runCommand)
      throw new ArmError(400, "BadRequest", "Run command is not available for this cluster.");
    const { command, clusterToken, context } = request;
    log.push({
      cluster: cluster.name,
      command,
      ...(clusterToken ? { clusterToken } : {}),
      ...(context ? { context } : {}),
    });
    const id = randomUUID().replace(/-/g, "");
    const operation: { result?: unknown } = {};
    operations.set(id, operation);
    const startedAt = new Date().toISOString();
    const finish = (outcome: ArmRunCommandOutcome) => {
      operation.result = {
        id,
        properties: {
          provisioningState: outcome.provisioningState ?? "Succeeded",
          ...(outcome.exitCode !== undefined ? { exitCode: outcome.exitCode } : {}),
          startedAt,
          finishedAt: new Date().toISOString(),
          logs: outcome.logs ?? "",
          ...(outcome.reason !== undefined ? { reason: outcome.reason } : {}),
        },
      };
    };
    Promise.resolve()
      .then(() => (cluster.runCommand as ArmRunCommandHandler)(request))
      .then(finish, (error: unknown) =>
        finish({ provisioningState: "Failed", reason: `command failed to start: ${String(error)}` }),
      );
    const location = `${endpointOf()}${ctx.path.replace(/\/runCommand$/i, "")}/commandResults/${id}?api-version=${encodeURIComponent(ctx.query["api-version"] ?? "")}`;
    return { status: 202, body: "", headers: { Location: location } };
  });
  add("GET", `${CLUSTER}/commandResults/:id`, (ctx) => {
    findCluster(ctx);
    const operation = operations.get(ctx.params.id ?? "");
    if (!operation) throw new ArmError(404, "NotFound", `Command result '${ctx.params.id}' was not found.`);
    if (operation.result === undefined) return { status: 202, body: "", headers: { "Retry-After": "1" } };
    return { status: 200, body: operation.result };
  });
}

// ------------------------------------------------------------------ payload builders

/** GET /subscriptions (Microsoft.Resources, api-version 2022-12-01) as ARM lists one. */
function subscriptionResource(subscriptionId: string, sub: ArmSubscriptionFixture): unknown {
  return {
    id: `/subscriptions/${subscriptionId}`,
    authorizationSource: "RoleBased",
    managedByTenants: [],
    subscriptionId,
    tenantId: TENANT,
    displayName: sub.displayName ?? `Subscription ${subscriptionId}`,
    state: sub.state ?? "Enabled",
    subscriptionPolicies: {
      locationPlacementId: "Public_2014-09-01",
      quotaId: "PayAsYouGo_2014-09-01",
      spendingLimit: "Off",
    },
    tags: {},
  };
}

/** Microsoft.ContainerRegistry/registries as the list operations return it (api-version 2025-11-01). */
function registryResource(subscriptionId: string, r: ArmRegistry): unknown {
  const sku = r.sku ?? "Standard";
  return {
    id: `${rgId(subscriptionId, r.resourceGroup)}/providers/Microsoft.ContainerRegistry/registries/${r.name}`,
    name: r.name,
    type: "Microsoft.ContainerRegistry/registries",
    location: LOCATION,
    tags: {},
    sku: { name: sku, tier: sku },
    systemData: {
      createdBy: "someone@example.com",
      createdByType: "User",
      createdAt: DEFAULT_CREATED,
      lastModifiedBy: "someone@example.com",
      lastModifiedByType: "User",
      lastModifiedAt: DEFAULT_CREATED,
    },
    properties: {
      loginServer: r.loginServer ?? `${r.name.toLowerCase()}.azurecr.io`,
      creationDate: DEFAULT_CREATED,
      provisioningState: "Succeeded",
      adminUserEnabled: false,
      policies: {
        quarantinePolicy: { status: "disabled" },
        trustPolicy: { type: "Notary", status: "disabled" },
        retentionPolicy: { days: 7, lastUpdatedTime: DEFAULT_CREATED, status: "disabled" },
        exportPolicy: { status: "enabled" },
        azureADAuthenticationAsArmPolicy: { status: "enabled" },
        softDeletePolicy: { retentionDays: 7, lastUpdatedTime: DEFAULT_CREATED, status: "disabled" },
      },
      encryption: { status: "disabled" },
      dataEndpointEnabled: false,
      dataEndpointHostNames: [],
      privateEndpointConnections: [],
      publicNetworkAccess: "Enabled",
      networkRuleBypassOptions: "AzureServices",
      zoneRedundancy: "Disabled",
      anonymousPullEnabled: false,
      roleAssignmentMode: "LegacyRegistryPermissions",
    },
  };
}

function siteId(subscriptionId: string, site: ArmWebApp, slot?: ArmWebAppSlot): string {
  const base = `${rgId(subscriptionId, site.resourceGroup)}/providers/Microsoft.Web/sites/${site.name}`;
  return slot ? `${base}/slots/${slot.name}` : base;
}

function hostName(site: ArmWebApp, slot?: ArmWebAppSlot): string {
  return slot ? `${site.name}-${slot.name}.azurewebsites.net` : `${site.name}.azurewebsites.net`;
}

/** Microsoft.Web/sites (or sites/slots) as the list and GET operations return it. */
function siteResource(subscriptionId: string, site: ArmWebApp, slot?: ArmWebAppSlot): unknown {
  const kind = site.kind ?? "app,linux";
  const config = slot ? slot.siteConfig : site.siteConfig;
  const configNull = slot ? slot.listSiteConfigNull : site.listSiteConfigNull;
  const host = hostName(site, slot);
  return {
    id: siteId(subscriptionId, site, slot),
    name: slot ? `${site.name}/${slot.name}` : site.name,
    type: slot ? "Microsoft.Web/sites/slots" : "Microsoft.Web/sites",
    kind,
    location: "West Europe",
    tags: {},
    properties: {
      name: slot ? `${site.name}(${slot.name})` : site.name,
      state: "Running",
      hostNames: [host],
      webSpace: `${site.resourceGroup}-WestEuropewebspace-Linux`,
      selfLink: `https://waws-prod-am2-001.api.azurewebsites.windows.net:454/subscriptions/${subscriptionId}/webspaces/${site.resourceGroup}-WestEuropewebspace-Linux/sites/${site.name}`,
      repositorySiteName: site.name,
      usageState: "Normal",
      enabled: true,
      enabledHostNames: [host, host.replace(".azurewebsites.net", ".scm.azurewebsites.net")],
      availabilityState: "Normal",
      serverFarmId: `${rgId(subscriptionId, site.resourceGroup)}/providers/Microsoft.Web/serverfarms/${site.resourceGroup}-plan`,
      reserved: kind.includes("linux"),
      isXenon: false,
      hyperV: false,
      lastModifiedTimeUtc: "2026-01-05T10:00:00.0000000",
      siteConfig: configNull ? null : listSiteConfig(config),
      resourceGroup: site.resourceGroup,
      defaultHostName: host,
      httpsOnly: true,
      clientAffinityEnabled: false,
      containerSize: 0,
      dailyMemoryTimeQuota: 0,
      publicNetworkAccess: "Enabled",
      keyVaultReferenceIdentity: "SystemAssigned",
    },
  };
}

/** The siteConfig embedded in list/GET site results: mostly nulls, fx versions filled in. */
function listSiteConfig(config: ArmSiteConfig | undefined): unknown {
  return {
    numberOfWorkers: 1,
    defaultDocuments: null,
    netFrameworkVersion: null,
    phpVersion: null,
    pythonVersion: null,
    nodeVersion: null,
    powerShellVersion: null,
    linuxFxVersion: config?.linuxFxVersion ?? "",
    windowsFxVersion: config?.windowsFxVersion ?? null,
    requestTracingEnabled: null,
    alwaysOn: false,
    http20Enabled: false,
    acrUseManagedIdentityCreds: false,
    acrUserManagedIdentityID: null,
    minTlsVersion: null,
    ftpsState: null,
    functionAppScaleLimit: 0,
  };
}

/** GET …/config/web: `name` is the site's name (not "web"), as ARM returns it. */
function siteConfigResource(subscriptionId: string, site: ArmWebApp, slot?: ArmWebAppSlot): unknown {
  const config = slot ? slot.siteConfig : site.siteConfig;
  return {
    id: `${siteId(subscriptionId, site, slot)}/config/web`,
    name: slot ? `${site.name}/${slot.name}` : site.name,
    type: slot ? "Microsoft.Web/sites/slots/config" : "Microsoft.Web/sites/config",
    location: "West Europe",
    tags: {},
    properties: {
      numberOfWorkers: 1,
      defaultDocuments: ["Default.htm", "Default.html", "index.html", "hostingstart.html"],
      netFrameworkVersion: "v4.0",
      phpVersion: "",
      pythonVersion: "",
      nodeVersion: "",
      powerShellVersion: "",
      linuxFxVersion: config?.linuxFxVersion ?? "",
      windowsFxVersion: config?.windowsFxVersion ?? null,
      requestTracingEnabled: false,
      remoteDebuggingEnabled: false,
      httpLoggingEnabled: false,
      acrUseManagedIdentityCreds: false,
      acrUserManagedIdentityID: null,
      logsDirectorySizeLimit: 35,
      detailedErrorLoggingEnabled: false,
      publishingUsername: `$${site.name}`,
      scmType: "None",
      use32BitWorkerProcess: true,
      webSocketsEnabled: false,
      alwaysOn: true,
      appCommandLine: "",
      managedPipelineMode: "Integrated",
      virtualApplications: [
        { virtualPath: "/", physicalPath: "site\\wwwroot", preloadEnabled: true, virtualDirectories: null },
      ],
      loadBalancing: "LeastRequests",
      autoHealEnabled: false,
      vnetRouteAllEnabled: false,
      http20Enabled: false,
      minTlsVersion: "1.2",
      scmMinTlsVersion: "1.2",
      ftpsState: "FtpsOnly",
      preWarmedInstanceCount: 0,
      functionAppScaleLimit: 0,
      minimumElasticInstanceCount: 1,
      azureStorageAccounts: {},
    },
  };
}

function appSettingsResource(subscriptionId: string, site: ArmWebApp, slot?: ArmWebAppSlot): unknown {
  const settings = (slot ? slot.appSettings : site.appSettings) ?? {};
  return {
    id: `${siteId(subscriptionId, site, slot)}/config/appsettings`,
    name: "appsettings",
    type: slot ? "Microsoft.Web/sites/slots/config" : "Microsoft.Web/sites/config",
    location: "West Europe",
    tags: {},
    properties: { ...settings },
  };
}

function siteContainerResource(
  subscriptionId: string,
  site: ArmWebApp,
  slot: ArmWebAppSlot | undefined,
  c: ArmSiteContainer,
): unknown {
  return {
    id: `${siteId(subscriptionId, site, slot)}/sitecontainers/${c.name}`,
    name: c.name,
    type: slot ? "Microsoft.Web/sites/slots/sitecontainers" : "Microsoft.Web/sites/sitecontainers",
    properties: {
      image: c.image,
      targetPort: c.isMain ? "8080" : null,
      isMain: c.isMain ?? false,
      startUpCommand: null,
      authType: "SystemIdentity",
      userName: null,
      passwordSecret: null,
      userManagedIdentityClientId: null,
      createdTime: DEFAULT_CREATED,
      lastModifiedTime: DEFAULT_CREATED,
      volumeMounts: [],
      inheritAppSettingsAndConnectionStrings: true,
      environmentVariables: [],
    },
  };
}

/** Container Apps containers: `{image, name, resources}`; initContainers null when there are none. */
function acaContainers(containers: ArmContainer[]): unknown[] {
  return containers.map((c) => ({
    image: c.image,
    name: c.name,
    resources: { cpu: 0.5, memory: "1Gi", ephemeralStorage: "2Gi" },
  }));
}

function acaInit(containers: ArmContainer[] | undefined): unknown[] | null {
  return containers && containers.length > 0 ? acaContainers(containers) : null;
}

function envId(subscriptionId: string, rg: string): string {
  return `${rgId(subscriptionId, rg)}/providers/Microsoft.App/managedEnvironments/${rg}-env`;
}

function revisionsOf(app: ArmContainerApp): ArmRevision[] {
  return (
    app.revisions ?? [
      {
        name: `${app.name}--0000001`,
        active: true,
        containers: app.containers,
        ...(app.initContainers ? { initContainers: app.initContainers } : {}),
      },
    ]
  );
}

function containerAppResource(subscriptionId: string, app: ArmContainerApp): unknown {
  const revisions = revisionsOf(app);
  const latest = revisions[revisions.length - 1]?.name ?? null;
  return {
    id: `${rgId(subscriptionId, app.resourceGroup)}/providers/Microsoft.App/containerApps/${app.name}`,
    name: app.name,
    type: "Microsoft.App/containerApps",
    location: "West Europe",
    tags: {},
    systemData: {
      createdBy: "someone@example.com",
      createdByType: "User",
      createdAt: "2026-01-05T10:00:00.0000000Z",
      lastModifiedBy: "someone@example.com",
      lastModifiedByType: "User",
      lastModifiedAt: "2026-01-05T10:00:00.0000000Z",
    },
    properties: {
      provisioningState: "Succeeded",
      runningStatus: "Running",
      managedEnvironmentId: envId(subscriptionId, app.resourceGroup),
      environmentId: envId(subscriptionId, app.resourceGroup),
      workloadProfileName: "Consumption",
      outboundIpAddresses: ["20.1.2.3"],
      latestRevisionName: latest,
      latestReadyRevisionName: latest,
      latestRevisionFqdn: `${latest}.kindocean-1234abcd.westeurope.azurecontainerapps.io`,
      customDomainVerificationId: "0123456789ABCDEF",
      configuration: {
        secrets: null,
        activeRevisionsMode: "Single",
        ingress: null,
        registries: [],
        dapr: null,
        maxInactiveRevisions: 100,
        service: null,
      },
      template: {
        revisionSuffix: "",
        terminationGracePeriodSeconds: null,
        containers: acaContainers(app.containers),
        initContainers: acaInit(app.initContainers),
        scale: { minReplicas: null, maxReplicas: 10, rules: null },
        volumes: null,
        serviceBinds: null,
      },
      eventStreamEndpoint: `https://westeurope.azurecontainerapps.dev/subscriptions/${subscriptionId}/resourceGroups/${app.resourceGroup}/containerApps/${app.name}/eventstream`,
    },
    identity: { type: "None" },
  };
}

function revisionResource(subscriptionId: string, app: ArmContainerApp, r: ArmRevision): unknown {
  return {
    id: `${rgId(subscriptionId, app.resourceGroup)}/providers/Microsoft.App/containerApps/${app.name}/revisions/${r.name}`,
    name: r.name,
    type: "Microsoft.App/containerApps/revisions",
    properties: {
      createdTime: r.createdTime ?? DEFAULT_CREATED,
      lastActiveTime: r.createdTime ?? DEFAULT_CREATED,
      fqdn: `${r.name}.kindocean-1234abcd.westeurope.azurecontainerapps.io`,
      template: {
        revisionSuffix: "",
        terminationGracePeriodSeconds: null,
        containers: acaContainers(r.containers),
        initContainers: acaInit(r.initContainers),
        scale: { minReplicas: null, maxReplicas: 10, rules: null },
        volumes: null,
        serviceBinds: null,
      },
      active: r.active,
      replicas: r.active ? 1 : 0,
      trafficWeight: r.active ? 100 : 0,
      provisioningError: null,
      healthState: r.active ? "Healthy" : "None",
      provisioningState: "Provisioned",
      runningState: r.active ? "Running" : "Stopped",
    },
  };
}

function jobResource(subscriptionId: string, job: ArmContainerAppJob): unknown {
  return {
    id: `${rgId(subscriptionId, job.resourceGroup)}/providers/Microsoft.App/jobs/${job.name}`,
    name: job.name,
    type: "Microsoft.App/jobs",
    location: "West Europe",
    tags: {},
    properties: {
      provisioningState: "Succeeded",
      runningState: "Ready",
      environmentId: envId(subscriptionId, job.resourceGroup),
      workloadProfileName: "Consumption",
      configuration: {
        secrets: null,
        triggerType: "Manual",
        replicaTimeout: 1800,
        replicaRetryLimit: 0,
        manualTriggerConfig: { replicaCompletionCount: 1, parallelism: 1 },
        scheduleTriggerConfig: null,
        eventTriggerConfig: null,
        registries: null,
      },
      template: {
        containers: acaContainers(job.containers),
        initContainers: acaInit(job.initContainers),
        volumes: null,
      },
      outboundIpAddresses: ["20.1.2.3"],
      eventStreamEndpoint: `https://westeurope.azurecontainerapps.dev/subscriptions/${subscriptionId}/resourceGroups/${job.resourceGroup}/containerApps/${job.name}/eventstream`,
    },
  };
}

/** ACI nests each container's fields under `properties`; initContainers is [] when there are none. */
function containerGroupResource(subscriptionId: string, g: ArmContainerGroup): unknown {
  return {
    id: `${rgId(subscriptionId, g.resourceGroup)}/providers/Microsoft.ContainerInstance/containerGroups/${g.name}`,
    name: g.name,
    type: "Microsoft.ContainerInstance/containerGroups",
    location: LOCATION,
    properties: {
      sku: "Standard",
      provisioningState: "Succeeded",
      containers: g.containers.map((c) => ({
        name: c.name,
        properties: {
          image: c.image,
          command: [],
          ports: [{ protocol: "TCP", port: 80 }],
          environmentVariables: [],
          resources: { requests: { memoryInGB: 1.5, cpu: 1 } },
        },
      })),
      initContainers: (g.initContainers ?? []).map((c) => ({
        name: c.name,
        properties: { image: c.image, command: [], environmentVariables: [] },
      })),
      restartPolicy: "Always",
      ipAddress: { ports: [{ protocol: "TCP", port: 80 }], ip: "20.4.5.6", type: "Public" },
      osType: "Linux",
    },
  };
}

/** AKS ids use lower-case "resourcegroups", as the service returns them. */
function managedClusterResource(subscriptionId: string, c: ArmManagedCluster): unknown {
  return {
    id: `/subscriptions/${subscriptionId}/resourcegroups/${c.resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${c.name}`,
    location: LOCATION,
    name: c.name,
    type: "Microsoft.ContainerService/ManagedClusters",
    tags: {},
    sku: { name: "Base", tier: "Free" },
    properties: {
      provisioningState: "Succeeded",
      powerState: { code: "Running" },
      kubernetesVersion: "1.33.2",
      currentKubernetesVersion: "1.33.2",
      dnsPrefix: `${c.name}-dns`,
      fqdn: `${c.name}-dns-abcd1234.hcp.westeurope.azmk8s.io`,
      azurePortalFQDN: `${c.name}-dns-abcd1234.portal.hcp.westeurope.azmk8s.io`,
      agentPoolProfiles: [
        {
          name: "nodepool1",
          count: 2,
          vmSize: "Standard_D2s_v5",
          maxPods: 110,
          type: "VirtualMachineScaleSets",
          provisioningState: "Succeeded",
          powerState: { code: "Running" },
          orchestratorVersion: "1.33.2",
          currentOrchestratorVersion: "1.33.2",
          mode: "System",
          osType: "Linux",
          osSKU: "Ubuntu",
        },
      ],
      nodeResourceGroup: `MC_${c.resourceGroup}_${c.name}_${LOCATION}`,
      enableRBAC: true,
      ...(c.aadProfile ? { aadProfile: c.aadProfile } : {}),
      networkProfile: {
        networkPlugin: "azure",
        networkPluginMode: "overlay",
        podCidr: "10.244.0.0/16",
        serviceCidr: "10.0.0.0/16",
        dnsServiceIP: "10.0.0.10",
      },
      ...(c.properties ?? {}),
    },
  };
}

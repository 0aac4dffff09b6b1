/**
 * A small Keycloak server for tests: the token endpoint and the admin users API of one realm, in
 * the shapes Keycloak 26 answers with, so @keycloak/keycloak-admin-client can be driven against it.
 *
 * Deliberately like Keycloak:
 * - `POST /realms/{realm}/protocol/openid-connect/token`, form-encoded; the client authenticates
 *   with HTTP Basic (client_secret_basic, what the admin client sends: both parts form-encoded) or
 *   with `client_id` + `client_secret` in the form (client_secret_post). An unknown client is a 401
 *   `invalid_client`, a wrong secret a 401 `unauthorized_client`, both "Invalid client or Invalid
 *   client credentials"; a grant other than client_credentials a 400 `unsupported_grant_type`; an
 *   unknown realm a 404 `{"error":"Realm does not exist"}`. Tokens are JWT-shaped (`exp`, `iat`,
 *   `azp`…), live `accessTokenLifespanSeconds` (Keycloak's default 300) on the server's clock, and
 *   client_credentials gets no refresh token (Keycloak's default since 12).
 * - `GET /admin/realms/{realm}/users` needs a live bearer token (401 `{"error":"HTTP 401
 *   Unauthorized"}` otherwise) whose service account has realm-management's `view-users` (403
 *   `{"error":"HTTP 403 Forbidden"}` otherwise); an unknown realm is a 404 `{"error":"Realm not
 *   found."}`. It reads `first` (default 0), `max` (default 100), `enabled`, `briefRepresentation`,
 *   `search` (substring of username, email, first or last name; `*` or empty for all; `"…"` for
 *   exact), `username`/`email`/`firstName`/`lastName` (substring, exact with `exact=true`). Users
 *   come sorted by username; service-account users are not listed.
 * - `GET /admin/realms/{realm}/users/count` (the same filters) and `GET …/users/{id}` (404
 *   `{"error":"User not found"}`).
 * Fields Keycloak leaves out when empty (null) are left out.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface KeycloakUserInput {
  id: string;
  username: string;
  enabled: boolean;
  email?: string;
  firstName?: string;
  lastName?: string;
  emailVerified?: boolean;
  createdTimestamp?: number;
  attributes?: Record<string, string[]>;
}

export interface KeycloakServerOptions {
  realm: string;
  /** Confidential clients with service accounts: client id → secret. */
  clients: Record<string, string>;
  /** Clients whose service account lacks realm-management's view-users: the users API answers 403. */
  clientsWithoutViewUsers?: string[];
  users: KeycloakUserInput[];
  /** Most users one page holds, whatever `max` asks (a proxy or a patched server capping pages). */
  pageLimit?: number;
  /** Accept requests and never answer them: every request (true) or the admin API's only ("users"). */
  hang?: boolean | "users";
  /** Ignore `first`: every page is the first one again (a server or proxy dropping the parameter). */
  repeatPages?: boolean;
  /** Ignore `enabled`, as Keycloak before 21 did. */
  ignoreEnabledFilter?: boolean;
  /** Lifetime of an access token, in seconds; default 300. */
  accessTokenLifespanSeconds?: number;
  /** The server's clock in ms (default Date.now): token issue and expiry use it. */
  now?: () => number;
}

export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** The `authorization` header as sent, if any. */
  authorization: string | undefined;
  /** Form fields of a token request. */
  form?: Record<string, string>;
}

export interface KeycloakServer {
  /** http://127.0.0.1:PORT — Keycloak's root (what the admin client's `baseUrl` is). */
  url: string;
  /** Every request received, in order, refused ones included. */
  requests: LoggedRequest[];
  /** Admin users-list requests (`GET /admin/realms/…/users`) so far. */
  userPages(): LoggedRequest[];
  /** Resolves once `n` requests have arrived in all. */
  requestsArrived(n: number): Promise<void>;
  /** Resolves once the client has given up (closed the connection of) `n` held requests in all. */
  heldRequestsClosed(n: number): Promise<void>;
  stop(): Promise<void>;
}

const DEFAULT_MAX = 100;
const INVALID_CLIENT = "Invalid client or Invalid client credentials";

interface IssuedToken {
  clientId: string;
  expiresAt: number;
}

export async function startKeycloakServer(options: KeycloakServerOptions): Promise<KeycloakServer> {
  const requests: LoggedRequest[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const closeWaiters: { n: number; resolve: () => void }[] = [];
  let heldClosed = 0;
  let stopping = false;
  const sockets = new Set<Socket>();
  const tokens = new Map<string, IssuedToken>();
  const now = options.now ?? Date.now;
  const lifespan = options.accessTokenLifespanSeconds ?? 300;
  const users = [...options.users].sort((a, b) => a.username.localeCompare(b.username));
  let url = "";

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(JSON.stringify(body));
  };

  const issue = (clientId: string) => {
    const iat = Math.floor(now() / 1000);
    const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const viewUsers = !options.clientsWithoutViewUsers?.includes(clientId);
    const token = [
      part({ alg: "RS256", typ: "JWT", kid: "kc-test-key" }),
      part({
        exp: iat + lifespan,
        iat,
        jti: randomUUID(),
        iss: `${url}/realms/${options.realm}`,
        aud: viewUsers ? ["realm-management", "account"] : "account",
        sub: serviceAccountId(clientId),
        typ: "Bearer",
        azp: clientId,
        acr: "1",
        scope: "profile email",
        clientHost: "127.0.0.1",
        preferred_username: `service-account-${clientId}`,
        resource_access: viewUsers ? { "realm-management": { roles: ["view-users", "query-users"] } } : {},
        client_id: clientId,
      }),
      randomBytes(64).toString("base64url"),
    ].join(".");
    tokens.set(token, { clientId, expiresAt: (iat + lifespan) * 1000 });
    return token;
  };

  const tokenEndpoint = (req: IncomingMessage, res: ServerResponse, form: Record<string, string>) => {
    const basic = /^basic\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
    let clientId = form.client_id;
    let secret = form.client_secret;
    if (basic) {
      const decoded = Buffer.from(basic, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      // RFC 6749 2.3.1: both halves are form-encoded before they are joined.
      const formDecode = (s: string) => decodeURIComponent(s.replaceAll("+", " "));
      clientId = formDecode(colon < 0 ? decoded : decoded.slice(0, colon));
      secret = colon < 0 ? undefined : formDecode(decoded.slice(colon + 1));
    }
    if (!form.grant_type) {
      return send(res, 400, {
        error: "invalid_request",
        error_description: "Missing form parameter: grant_type",
      });
    }
    if (clientId === undefined || !(clientId in options.clients)) {
      return send(res, 401, { error: "invalid_client", error_description: INVALID_CLIENT });
    }
    if (secret !== options.clients[clientId]) {
      return send(res, 401, { error: "unauthorized_client", error_description: INVALID_CLIENT });
    }
    if (form.grant_type !== "client_credentials") {
      return send(res, 400, { error: "unsupported_grant_type", error_description: "Unsupported grant_type" });
    }
    return send(res, 200, {
      access_token: issue(clientId),
      expires_in: lifespan,
      refresh_expires_in: 0,
      token_type: "Bearer",
      "not-before-policy": 0,
      scope: "profile email",
    });
  };

  const adminUsers = (req: IncomingMessage, res: ServerResponse, rest: string, query: URLSearchParams) => {
    const token = /^bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
    const issued = token === undefined ? undefined : tokens.get(token);
    if (!issued || issued.expiresAt <= now()) return send(res, 401, { error: "HTTP 401 Unauthorized" });
    if (options.clientsWithoutViewUsers?.includes(issued.clientId)) {
      return send(res, 403, { error: "HTTP 403 Forbidden" });
    }
    if (req.method !== "GET") return send(res, 405, { error: "HTTP 405 Method Not Allowed" });
    const brief = query.get("briefRepresentation") === "true";
    // The admin client asks for the list as `…/users/` (its path join keeps the slash); Keycloak serves both.
    if (rest === "" || rest === "/" || rest === "/count") {
      const matching = users.filter(matcher(query, options.ignoreEnabledFilter ?? false));
      if (rest === "/count") return send(res, 200, matching.length);
      const first = options.repeatPages ? 0 : Math.max(intParam(query, "first") ?? 0, 0);
      const asked = intParam(query, "max") ?? DEFAULT_MAX;
      const max = Math.min(asked < 0 ? DEFAULT_MAX : asked, options.pageLimit ?? Number.POSITIVE_INFINITY);
      return send(
        res,
        200,
        matching.slice(first, first + max).map((u) => representation(u, brief)),
      );
    }
    const id = decodeURIComponent(rest.slice(1));
    const user = users.find((u) => u.id === id);
    if (!user || rest.slice(1).includes("/")) return send(res, 404, { error: "User not found" });
    return send(res, 200, representation(user, false));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const parsed = new URL(req.url ?? "/", "http://keycloak.test");
    const body = await readBody(req);
    const isForm = (req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded");
    const form = req.method === "POST" && isForm ? Object.fromEntries(new URLSearchParams(body)) : undefined;
    requests.push({
      method: req.method ?? "",
      path: parsed.pathname,
      query: Object.fromEntries(parsed.searchParams),
      authorization: req.headers.authorization,
      ...(form ? { form } : {}),
    });
    for (const w of [...waiters]) {
      if (requests.length >= w.n) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
    const admin = /^\/admin\/realms\/([^/]+)\/users(\/.*)?$/.exec(parsed.pathname);
    if (options.hang === true || (options.hang === "users" && admin)) {
      // Held until stop(); a client that gives up closes the connection, which is counted.
      res.on("close", () => {
        if (stopping) return;
        heldClosed++;
        for (const w of [...closeWaiters]) {
          if (heldClosed >= w.n) {
            closeWaiters.splice(closeWaiters.indexOf(w), 1);
            w.resolve();
          }
        }
      });
      return;
    }

    const token = /^\/realms\/([^/]+)\/protocol\/openid-connect\/token$/.exec(parsed.pathname);
    if (token) {
      if (decodeURIComponent(token[1] ?? "") !== options.realm) {
        return send(res, 404, { error: "Realm does not exist" });
      }
      if (req.method !== "POST") return send(res, 405, { error: "HTTP 405 Method Not Allowed" });
      return tokenEndpoint(req, res, form ?? {});
    }
    if (admin) {
      if (decodeURIComponent(admin[1] ?? "") !== options.realm) {
        // Keycloak checks the token against its issuing realm before it looks the path's realm up.
        const bearer = /^bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
        if (bearer === undefined || !tokens.has(bearer)) {
          return send(res, 401, { error: "HTTP 401 Unauthorized" });
        }
        return send(res, 404, { error: "Realm not found." });
      }
      return adminUsers(req, res, admin[2] ?? "", parsed.searchParams);
    }
    return send(res, 404, { error: "Unable to find matching target resource method" });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, { error: "unknown_error", error_description: String(error) });
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    requests,
    userPages: () =>
      requests.filter((r) => r.method === "GET" && /^\/admin\/realms\/[^/]+\/users\/?$/.test(r.path)),
    requestsArrived: (n) =>
      new Promise<void>((resolve) => {
        if (requests.length >= n) resolve();
        else waiters.push({ n, resolve });
      }),
    heldRequestsClosed: (n) =>
      new Promise<void>((resolve) => {
        if (heldClosed >= n) resolve();
        else closeWaiters.push({ n, resolve });
      }),
    stop: () => {
      stopping = true;
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function serviceAccountId(clientId: string): string {
  const hex = Buffer.from(clientId).toString("hex").padEnd(12, "0").slice(0, 12);
  return `5a1c0de0-0000-4000-8000-${hex}`;
}

function intParam(query: URLSearchParams, name: string): number | undefined {
  const value = query.get(name);
  if (value === null || value === "") return undefined;
  const n = Number(value);
  return Number.isInteger(n) ? n : undefined;
}

/** Keycloak's user search: `search` over four fields, or the per-field filters, plus `enabled`. */
function matcher(query: URLSearchParams, ignoreEnabled: boolean): (u: KeycloakUserInput) => boolean {
  const exact = query.get("exact") === "true";
  const like = (value: string | undefined, wanted: string, isExact: boolean) =>
    value !== undefined &&
    (isExact
      ? value.toLowerCase() === wanted.toLowerCase()
      : value.toLowerCase().includes(wanted.toLowerCase()));
  const search = query.get("search")?.trim();
  const fields = (["username", "email", "firstName", "lastName"] as const).flatMap((f) => {
    const v = query.get(f);
    return v === null || v === "" ? [] : [[f, v] as const];
  });
  const enabled = query.get("enabled");
  return (u) => {
    if (!ignoreEnabled && (enabled === "true" || enabled === "false") && u.enabled !== (enabled === "true")) {
      return false;
    }
    if (search !== undefined && search !== "" && search !== "*") {
      const quoted = /^"(.*)"$/.exec(search);
      const wanted = quoted ? (quoted[1] ?? "") : search.replaceAll("*", "");
      const hit = [u.username, u.email, u.firstName, u.lastName].some((v) =>
        like(v, wanted, quoted !== null),
      );
      if (!hit) return false;
    }
    return fields.every(([f, v]) => like(u[f], v, exact));
  };
}

const DEFAULT_CREATED = Date.UTC(2024, 0, 15, 9, 30);

/** A UserRepresentation as Keycloak serialises it: null fields left out. */
function representation(u: KeycloakUserInput, brief: boolean): Record<string, unknown> {
  const base: Record<string, unknown> = {
    id: u.id,
    username: u.username,
    ...(u.firstName === undefined ? {} : { firstName: u.firstName }),
    ...(u.lastName === undefined ? {} : { lastName: u.lastName }),
    ...(u.email === undefined ? {} : { email: u.email }),
    emailVerified: u.emailVerified ?? false,
    createdTimestamp: u.createdTimestamp ?? DEFAULT_CREATED,
    enabled: u.enabled,
  };
  if (brief) return base;
  return {
    ...base,
    ...(u.attributes === undefined ? {} : { attributes: u.attributes }),
    totp: false,
    disableableCredentialTypes: [],
    requiredActions: [],
    notBefore: 0,
    access: { manageGroupMembership: true, view: true, mapRoles: true, impersonate: false, manage: true },
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/**
 * Which Keycloak users are deactivated (`enabled: false`), through the official admin client
 * (@keycloak/keycloak-admin-client), signed in with a confidential client's service account
 * (client_credentials). The Domino preset uses it: a deactivated user's private environments are
 * not protected by their own records.
 */
import KcAdminClient, { NetworkError } from "@keycloak/keycloak-admin-client";
import { z } from "zod";
import { AbortedError, untilAborted } from "../errors.js";

export interface KeycloakOptions {
  /** Keycloak's root, e.g. https://keycloak.example.com (Keycloak before 17: …/auth). */
  url: string;
  realm: string;
  /** A confidential client with "Service accounts roles" on, its service account holding realm-management's view-users. */
  clientId: string;
  clientSecret: string;
  signal?: AbortSignal;
  /** Longest one request may take; default 30 s. */
  timeoutMs?: number;
  /** Users asked for per page; default 100. */
  pageSize?: number;
  /** Most pages read before the listing is declared endless; default 10,000. */
  maxPages?: number;
}

export interface KeycloakUser {
  id: string;
  username: string;
}

/** A Keycloak sign-in or listing that failed; the message is one line and never holds the secret. */
export class KeycloakError extends Error {
  override name = "KeycloakError";
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

type RequestOptions = NonNullable<
  NonNullable<ConstructorParameters<typeof KcAdminClient>[0]>["requestOptions"]
>;

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_PAGE_SIZE = 100;
const DEFAULT_MAX_PAGES = 10_000;

const userList = z.array(
  z.object({ id: z.string().min(1), username: z.string(), enabled: z.boolean().optional() }).loose(),
);
type ListedUser = z.infer<typeof userList>[number];

/**
 * Every user of the realm whose record says `enabled: false`. Asks the server to filter too, but
 * filters again itself (Keycloak before 21 ignores `enabled`). Reads until an empty page, so a
 * server capping pages below `pageSize` is not taken as the end; a page with no new users or more
 * than `maxPages` pages fail the call.
 */
export async function deactivatedUsers(options: KeycloakOptions): Promise<ReadonlyArray<KeycloakUser>> {
  const session = await signIn(options);
  const deactivated: KeycloakUser[] = [];
  const seen = new Set<string>();
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const maxPages = options.maxPages ?? DEFAULT_MAX_PAGES;
  let first = 0;
  for (let pages = 0; ; pages++) {
    if (pages >= maxPages) {
      throw new KeycloakError(
        `${session.where}: still more users after ${maxPages} pages of ${pageSize}; the listing does not end, so no user is taken as deactivated (check the server, or raise the page size)`,
      );
    }
    const page = await session.page(first, pageSize, { enabled: false });
    if (page.length === 0) break;
    let fresh = 0;
    for (const user of page) {
      if (seen.has(user.id)) continue;
      seen.add(user.id);
      fresh++;
      if (user.enabled === false) deactivated.push({ id: user.id, username: user.username });
    }
    if (fresh === 0) {
      throw new KeycloakError(
        `${session.where}: the users page at first=${first} repeats users already read; the server or a proxy ignores the 'first' parameter, so the listing cannot complete`,
      );
    }
    first += page.length;
  }
  return deactivated;
}

/** For doctor: signs in and reads one page of users. */
export async function checkKeycloak(options: KeycloakOptions): Promise<string> {
  const session = await signIn(options);
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const page = await session.page(0, pageSize, {});
  const off = page.filter((u) => u.enabled === false).length;
  const more = page.length >= pageSize ? " on the first page" : "";
  return `${session.where}: signed in as client '${options.clientId}' (service account); ${page.length} users read${more} (${off} deactivated)`;
}

interface Session {
  where: string;
  page(first: number, max: number, filter: { enabled?: boolean }): Promise<ListedUser[]>;
}

async function signIn(options: KeycloakOptions): Promise<Session> {
  const base = parseUrl(options.url);
  const where = `Keycloak ${base}/realms/${options.realm}`;
  if (options.realm.trim() === "")
    throw new KeycloakError(`Keycloak ${base}: no realm given; set keycloak.realm`);
  if (options.clientId.trim() === "")
    throw new KeycloakError(`${where}: no client id given; set keycloak.clientId`);
  if (options.clientSecret === "") {
    throw new KeycloakError(
      `${where}: the client secret is empty; check the variable keycloak.secretEnv names`,
    );
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const kc = new KcAdminClient({ baseUrl: base, realmName: options.realm });
  // The client's own expiry check (a refresh it cannot do without a refresh token, which
  // client_credentials does not get) fails on clock skew; Keycloak's 401 decides instead.
  kc.registerTokenProvider({ getAccessToken: async () => kc.accessToken });
  const credentials = {
    grantType: "client_credentials" as const,
    clientId: options.clientId,
    clientSecret: options.clientSecret,
  };

  const call = async <T>(stage: Stage, run: () => Promise<T>): Promise<T> => {
    const { signal } = options;
    if (signal?.aborted) throw new AbortedError(`${where}: cancelled`, { cause: signal.reason });
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    // The typings leave `signal` out, but every request spreads these options into fetch; the
    // client's own `timeout` would replace the run's signal rather than join it.
    kc.setConfig({ requestOptions: { signal: combined } as RequestOptions });
    try {
      return await untilAborted(combined, run());
    } catch (error) {
      if (signal?.aborted) throw new AbortedError(`${where}: cancelled`, { cause: signal.reason });
      if (timeout.aborted) {
        throw new KeycloakError(
          `${where}: no answer within ${seconds(timeoutMs)} while ${stage === "token" ? "signing in" : "reading users"}; check that Keycloak is up and the URL is reachable`,
        );
      }
      const failed = keycloakError(where, stage, options, error);
      // Our own words name the client id too: mask the secret wherever it turns up.
      const masked = mask(failed.message, options.clientSecret);
      throw masked === failed.message ? failed : new KeycloakError(masked, failed.status);
    }
  };

  const authenticate = () => call("token", () => kc.auth(credentials));
  await authenticate();

  return {
    where,
    async page(first, max, filter) {
      const find = () => kc.users.find({ first, max, briefRepresentation: true, ...filter });
      let body: unknown;
      try {
        body = await call("users", find);
      } catch (error) {
        // Tokens expire (300 s by default) during a long listing: sign in again, once.
        if (!(error instanceof KeycloakError && error.status === 401)) throw error;
        await authenticate();
        body = await call("users", find);
      }
      const parsed = userList.safeParse(body);
      if (!parsed.success) {
        throw new KeycloakError(
          `${where}: the users API answered with no user list; check that the URL is Keycloak's root`,
        );
      }
      return parsed.data;
    },
  };
}

type Stage = "token" | "users";

function keycloakError(where: string, stage: Stage, options: KeycloakOptions, error: unknown): KeycloakError {
  const redact = (text: string) => oneLine(text, options.clientSecret);
  if (!(error instanceof NetworkError)) {
    const e = error as { message?: unknown; cause?: { code?: unknown; message?: unknown } } | null;
    const why = e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(error);
    if (e?.message === "fetch failed") {
      return new KeycloakError(
        `${where}: cannot reach Keycloak (${redact(String(why))}); check the URL and the network`,
      );
    }
    return new KeycloakError(
      `${where}: unexpected answer (${redact(String(why))}); check that the URL is Keycloak's root`,
    );
  }
  const status = error.response.status;
  const data = (error.responseData ?? {}) as { error?: unknown; error_description?: unknown };
  const said = [data.error, data.error_description]
    .filter((v): v is string => typeof v === "string" && v !== "")
    .join(": ");
  const quoted = said === "" ? `${status}` : `${status} ${redact(said)}`;
  const make = (text: string) => new KeycloakError(`${where}: ${text}`, status);
  if (status === 404) {
    return make(
      `realm not found (${quoted}); check the realm name and the URL (Keycloak before 17 serves under /auth)`,
    );
  }
  if (stage === "token") {
    if (status === 400 || status === 401) {
      return make(
        `sign-in refused (${quoted}); check the client id '${options.clientId}' and its secret, and that the client has "Client authentication" and "Service accounts roles" on`,
      );
    }
    return make(`sign-in failed (${quoted}); try again later`);
  }
  if (status === 401)
    return make(`the admin API refused the token (${quoted}); check the client's sessions and try again`);
  if (status === 403) {
    return make(
      `reading users is forbidden (${quoted}); give the service account of client '${options.clientId}' the role view-users of realm-management`,
    );
  }
  return make(`reading users failed (${quoted}); try again later`);
}

function parseUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new KeycloakError(`Keycloak URL '${value}': not a URL; use e.g. https://keycloak.example.com`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new KeycloakError(
      `Keycloak URL '${url.origin}': use http or https, e.g. https://keycloak.example.com`,
    );
  }
  if (url.username || url.password) {
    throw new KeycloakError("Keycloak URL: remove the credentials from the URL; the client secret signs in");
  }
  url.search = "";
  url.hash = "";
  return url.href.replace(/\/+$/, "");
}

/** A server's words on one line, short, and without the secret (Keycloak does not echo it; this makes sure). */
function oneLine(text: string, secret: string): string {
  const safe = mask(text.replace(/\s+/g, " ").trim(), secret);
  return safe.length > 200 ? `${safe.slice(0, 200)}…` : safe;
}

/** A secret too short to be a real one is not searched for: masking it would garble the text. */
function mask(text: string, secret: string): string {
  return secret.length >= 4 ? text.replaceAll(secret, "***") : text;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

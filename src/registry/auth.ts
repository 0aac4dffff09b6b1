import { z } from "zod";
import { RegistryError } from "../errors.js";
import type { HttpTransport } from "./transport.js";

export interface Credentials {
  readonly username: string;
  readonly password: string;
  /**
   * A refresh token (`docker login`'s `identitytoken`, `az acr login`'s): exchanged for access
   * tokens with the OAuth2 refresh_token grant; it is never sent as a password.
   */
  readonly identityToken?: string;
}

/**
 * Credentials asked for before each use, for passwords that expire (ECR's 12-hour tokens): the
 * source renews them as it sees fit, so a long run never sends a stale one.
 */
export type CredentialSource = () => Promise<Credentials>;

export interface Challenge {
  readonly scheme: "basic" | "bearer";
  readonly params: Readonly<Record<string, string>>;
}

/** Parses `WWW-Authenticate: Bearer realm="…",service="…",scope="a b"` (quoted values may hold commas). */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const scheme = m[1]?.toLowerCase();
  if (scheme !== "basic" && scheme !== "bearer") return undefined;
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g;
  for (const p of (m[2] ?? "").matchAll(re)) {
    params[(p[1] ?? "").toLowerCase()] = (p[2] ?? p[3] ?? "").replace(/\\(.)/g, "$1");
  }
  return { scheme, params };
}

const tokenResponseSchema = z
  .object({
    token: z.string().optional(),
    access_token: z.string().optional(),
    expires_in: z.number().optional(),
  })
  .refine((t) => t.token ?? t.access_token, "token response has neither token nor access_token");

interface CachedToken {
  readonly header: string;
  readonly expiresAt: number;
}

/** A token asked for one scope; `arrived` once it has (a refused or replaced entry leaves the map). */
interface TokenEntry {
  readonly pending: Promise<CachedToken>;
  arrived?: CachedToken;
}

/**
 * Answers registry auth challenges: Basic with the given credentials, or the Docker token
 * protocol (a token per scope, cached until shortly before it expires).
 */
export class Authenticator {
  private mode: "none" | "basic" | "bearer" = "none";
  private bearerChallenge: Challenge | undefined;
  private readonly tokens = new Map<string, TokenEntry>();

  constructor(
    private readonly transport: HttpTransport,
    private readonly credentials: Credentials | CredentialSource | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** The Authorization header to send for a scope, if one is known yet. */
  async header(scope: string): Promise<string | undefined> {
    if (this.mode === "basic") return await this.basicHeader();
    if (this.mode !== "bearer") return undefined;
    const entry = this.tokens.get(scope);
    if (entry) {
      // Every request asks: a token that has arrived is read without awaiting its promise.
      const token = entry.arrived ?? (await entry.pending.catch(() => undefined));
      if (token && token.expiresAt > this.now()) return token.header;
      if (this.tokens.get(scope) === entry) this.tokens.delete(scope);
    }
    return (await this.fetchToken(scope)).header;
  }

  /**
   * Learns from a 401 to a request sent with `sent` as its Authorization header; returns false
   * when retrying cannot help.
   */
  async onUnauthorized(wwwAuthenticate: string | undefined, scope: string, sent?: string): Promise<boolean> {
    const challenge = parseChallenge(wwwAuthenticate);
    if (!challenge) return false;
    if (challenge.scheme === "basic") {
      if (!this.credentials) return false;
      // Requests sent together before the first challenge came back all carry nothing: each is
      // retried once with the credentials. Refused credentials are only retried if they changed since.
      if (this.mode === "basic") return sent !== (await this.basicHeader());
      this.mode = "basic";
      return true;
    }
    const alreadyHadToken = this.mode === "bearer" && this.tokens.has(scope);
    this.mode = "bearer";
    this.bearerChallenge = challenge;
    if (alreadyHadToken) {
      // A token we hold was refused: fetch one fresh token, then give up.
      this.tokens.delete(scope);
      return !wwwAuthenticate?.includes('error="insufficient_scope"');
    }
    return true;
  }

  private async current(): Promise<Credentials | undefined> {
    return typeof this.credentials === "function" ? await this.credentials() : this.credentials;
  }

  private async getToken(url: URL) {
    const basic = await this.basicHeader();
    return this.transport.send({
      method: "GET",
      url: url.toString(),
      headers: basic ? { authorization: basic } : {},
    });
  }

  private async basicHeader(): Promise<string | undefined> {
    const credentials = await this.current();
    // A refresh token only buys access tokens: it is not a password for Basic.
    if (!credentials || credentials.identityToken) return undefined;
    const raw = `${credentials.username}:${credentials.password}`;
    return `Basic ${Buffer.from(raw).toString("base64")}`;
  }

  private fetchToken(scope: string): Promise<CachedToken> {
    const entry: TokenEntry = { pending: this.requestToken(scope) };
    this.tokens.set(scope, entry);
    entry.pending.then(
      (token) => {
        entry.arrived = token;
      },
      () => {
        if (this.tokens.get(scope) === entry) this.tokens.delete(scope);
      },
    );
    return entry.pending;
  }

  private async requestToken(scope: string): Promise<CachedToken> {
    const realm = this.bearerChallenge?.params.realm;
    if (!realm)
      throw new RegistryError("registry asked for a bearer token but named no realm", 401, "unauthorized");
    const url = new URL(realm);
    const service = this.bearerChallenge?.params.service;
    if (service) url.searchParams.set("service", service);
    for (const s of scope.split(" ").filter(Boolean)) url.searchParams.append("scope", s);
    const credentials = await this.current();
    const res = credentials?.identityToken
      ? await this.transport.send({
          method: "POST",
          url: realm,
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: Buffer.from(
            new URLSearchParams({
              grant_type: "refresh_token",
              refresh_token: credentials.identityToken,
              client_id: "regsweep",
              ...(service ? { service } : {}),
              scope,
            }).toString(),
          ),
        })
      : await this.getToken(url);
    if (res.status === 401 || res.status === 403) {
      throw new RegistryError(
        `token server ${url.origin} refused ${credentials ? `user ${credentials.username}` : "anonymous access"} for scope "${scope}" (HTTP ${res.status}): check --username/--password-stdin`,
        res.status,
        "unauthorized",
      );
    }
    if (res.status !== 200) {
      throw new RegistryError(`token server ${url.origin} answered HTTP ${res.status}`, res.status, "http");
    }
    const parsed = tokenResponseSchema.parse(JSON.parse(res.body.toString("utf8")));
    const token = parsed.token ?? parsed.access_token ?? "";
    // Renew 10 s early so a token never expires between our check and the registry's.
    const lifetime = Math.max(10, parsed.expires_in ?? 60) * 1000 - 10_000;
    return { header: `Bearer ${token}`, expiresAt: this.now() + lifetime };
  }
}

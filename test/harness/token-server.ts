import { createPrivateKey, randomUUID, sign, X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { makeSelfSignedCert } from "./tls.js";

export interface TokenServerOptions {
  /** user → password accepted via HTTP Basic auth */
  users: Record<string, string>;
  service: string;
  issuer: string;
  /** Where rootcert.pem (and its key) are written. */
  dir: string;
  /** refresh token → user, accepted by `POST /token` with grant_type=refresh_token (docker login's identitytoken). */
  refreshTokens?: Record<string, string>;
}

export interface TokenServer {
  /** http://127.0.0.1:PORT/token */
  realm: string;
  rootCertBundlePath: string;
  /** Number of token requests received so far, including refused ones. */
  readonly requests: number;
  stop(): Promise<void>;
}

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

interface Access {
  type: string;
  name: string;
  actions: string[];
}

const TOKEN_TTL_S = 300;

/**
 * A minimal Docker token service (https://distribution.github.io/distribution/spec/auth/token/):
 * authenticated users get every action they ask for; anonymous callers get 401.
 */
export async function startTokenServer(opts: TokenServerOptions): Promise<TokenServer> {
  const cert = await makeSelfSignedCert(opts.dir, "rootcert");
  const key = createPrivateKey(await readFile(cert.keyPath));
  // distribution verifies that x5c[0] chains to rootcertbundle; the leaf is the root here.
  const x5c = [new X509Certificate(cert.certPem).raw.toString("base64")];
  let requests = 0;

  const issue = (subject: string, access: Access[]): string => {
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: "JWT", alg: "ES256", x5c };
    // distribution 2.8 decodes aud as a single string and the time claims as integers: an aud
    // array or fractional seconds make it reject the whole token as malformed.
    const claims = {
      iss: opts.issuer,
      sub: subject,
      aud: opts.service,
      exp: now + TOKEN_TTL_S,
      nbf: now,
      iat: now,
      jti: randomUUID(),
      access,
    };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    // JWS wants the raw r||s form, not node's default DER-encoded ECDSA signature.
    const signature = sign("sha256", Buffer.from(signingInput), { key, dsaEncoding: "ieee-p1363" });
    return `${signingInput}.${signature.toString("base64url")}`;
  };

  /** The OAuth2 form the distribution spec describes (token/oauth): a refresh token for an access token. */
  const refresh = (form: URLSearchParams): Reply => {
    if (form.get("grant_type") !== "refresh_token")
      return { status: 400, body: { error: "unsupported_grant_type" } };
    const user = opts.refreshTokens?.[form.get("refresh_token") ?? ""];
    if (user === undefined) return { status: 401, body: { error: "invalid_grant" } };
    if (form.get("service") !== opts.service) return { status: 400, body: { error: "invalid_request" } };
    const token = issue(user, (form.get("scope") ?? "").split(" ").filter(Boolean).flatMap(parseScopes));
    return { status: 200, body: { access_token: token, expires_in: TOKEN_TTL_S, scope: form.get("scope") } };
  };

  const answer = (req: IncomingMessage, received: string): Reply => {
    const url = new URL(req.url ?? "/", "http://token.invalid");
    if (url.pathname !== "/token") return { status: 404, body: { error: "not found" } };
    requests++;
    if (req.method === "POST") return refresh(new URLSearchParams(received));
    if (req.method !== "GET")
      return { status: 405, body: { error: "only GET and POST /token are supported" } };
    const user = authenticate(req.headers.authorization, opts.users);
    if (user === undefined) {
      const headers = { "WWW-Authenticate": 'Basic realm="token"' };
      return { status: 401, body: { error: "authentication required" }, headers };
    }
    const service = url.searchParams.get("service");
    if (service !== opts.service) return { status: 400, body: { error: `unknown service ${service}` } };
    const token = issue(user, url.searchParams.getAll("scope").flatMap(parseScopes));
    const body = { token, access_token: token, expires_in: TOKEN_TTL_S, issued_at: new Date().toISOString() };
    return { status: 200, body };
  };

  const server = createServer((req, res) => {
    let received = "";
    req.on("data", (chunk) => (received += chunk));
    req.on("end", () => {
      const { status, body, headers } = answer(req, received);
      res.writeHead(status, { "Content-Type": "application/json", ...headers });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;

  return {
    realm: `http://127.0.0.1:${port}/token`,
    rootCertBundlePath: cert.certPath,
    get requests() {
      return requests;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function authenticate(header: string | undefined, users: Record<string, string>): string | undefined {
  const match = /^Basic (.+)$/i.exec(header ?? "");
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  const user = decoded.slice(0, colon);
  return Object.hasOwn(users, user) && users[user] === decoded.slice(colon + 1) ? user : undefined;
}

/**
 * One `scope` parameter may hold several space-separated scopes. The name sits between the first and
 * the last colon because it may itself contain one (a registry host with a port).
 */
function parseScopes(param: string): Access[] {
  return param
    .split(" ")
    .filter(Boolean)
    .flatMap((scope) => {
      const first = scope.indexOf(":");
      const last = scope.lastIndexOf(":");
      if (first < 0 || last === first) return [];
      const actions = scope
        .slice(last + 1)
        .split(",")
        .filter(Boolean);
      return [{ type: scope.slice(0, first), name: scope.slice(first + 1, last), actions }];
    });
}

function b64url(text: string): string {
  return Buffer.from(text).toString("base64url");
}

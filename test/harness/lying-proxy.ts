import { createServer, type IncomingHttpHeaders, request } from "node:http";
import type { AddressInfo } from "node:net";

export interface Exchange {
  readonly method: string;
  /** Path and query, as the client sent it. */
  readonly url: string;
}

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/**
 * What the liar says instead: `before` answers without asking the registry (null: forward);
 * `after` sees the registry's real answer and may replace any part of it (null: relay it as is).
 */
export interface Lies {
  before?(req: Exchange): Partial<Answer> | null | Promise<Partial<Answer> | null>;
  after?(req: Exchange, real: Answer): Partial<Answer> | null | Promise<Partial<Answer> | null>;
}

export interface LyingProxy {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** 127.0.0.1:PORT */
  readonly host: string;
  /** Every request seen, in order. */
  readonly seen: readonly Exchange[];
  stop(): Promise<void>;
}

const DROP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length"]);

/**
 * A registry that lies: a buffering reverse proxy in front of a real registry whose answers a test
 * rewrites — a tag list that loops, a HEAD advertising a stale digest, a body under another
 * digest — or where it changes the registry behind regsweep's back (a hook may be async: push a
 * tag when the first DELETE arrives). regsweep must notice, or at least never delete because of it.
 */
export async function startLyingProxy(targetUrl: string, lies: Lies): Promise<LyingProxy> {
  const target = new URL(targetUrl);
  const seen: Exchange[] = [];
  let origin = "";
  const server = createServer((req, res) => {
    const exchange = { method: req.method ?? "GET", url: req.url ?? "/" };
    seen.push(exchange);
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const send = (a: Answer) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(a.headers)) if (!DROP.has(k.toLowerCase())) headers[k] = v;
        headers["content-length"] = String(
          exchange.method === "HEAD" ? (a.headers["content-length"] ?? 0) : a.body.length,
        );
        res.writeHead(a.status, headers);
        res.end(exchange.method === "HEAD" ? undefined : a.body);
      };
      const early = await lies.before?.(exchange);
      if (early) {
        send({
          status: 200,
          headers: { "content-type": "application/json" },
          body: Buffer.alloc(0),
          ...early,
        });
        return;
      }
      const headers: IncomingHttpHeaders = { ...req.headers, host: target.host };
      const up = request(
        {
          hostname: target.hostname,
          port: target.port,
          method: exchange.method,
          path: exchange.url,
          headers,
        },
        (upRes) => {
          const body: Buffer[] = [];
          upRes.on("data", (c: Buffer) => body.push(c));
          upRes.on("end", async () => {
            const real: Answer = {
              status: upRes.statusCode ?? 502,
              headers: flat(upRes.headers),
              body: Buffer.concat(body),
            };
            if (real.headers.location?.startsWith(target.origin)) {
              real.headers.location = origin + real.headers.location.slice(target.origin.length);
            }
            send({ ...real, ...((await lies.after?.(exchange, real)) ?? {}) });
          });
        },
      );
      up.on("error", (err) => {
        res.writeHead(502);
        res.end(`lying proxy: ${err.message}`);
      });
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;
  return {
    url: origin,
    host: `127.0.0.1:${port}`,
    seen,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function flat(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers))
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

import { Agent, createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders, request } from "node:http";
import type { AddressInfo } from "node:net";

export interface FaultRequest {
  method: string;
  url: string;
  /** 1-based count of requests seen by the proxy, injected ones included. */
  n: number;
  /** The request's headers, lowercase names (e.g. `range`). */
  headers: IncomingHttpHeaders;
}

/** An injected answer; `body` (JSON) replaces the default error body, e.g. to emulate an API the target lacks. */
export interface InjectedAnswer {
  status: number;
  retryAfter?: string;
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
}

/**
 * A broken connection instead of an answer: `reset` cuts it before forwarding anything;
 * `cutBodyAfter` forwards the request and relays the upstream's headers and that many body bytes,
 * then cuts (a transfer that breaks mid-way); `dropResponse` forwards the request, lets the
 * upstream answer, and cuts the connection instead of relaying it (the work was done, the client
 * never hears so).
 */
export type ConnectionFault = { reset: true } | { cutBodyAfter: number } | { dropResponse: true };

export type Fault = (req: FaultRequest) => null | InjectedAnswer | ConnectionFault;

export interface FaultProxy {
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT */
  host: string;
  readonly requests: number;
  readonly injected: number;
  stop(): Promise<void>;
}

const INJECTED_BODY = JSON.stringify({ errors: [{ code: "TOOMANYREQUESTS", message: "injected" }] });

// Hop-by-hop headers describe one connection and must not be forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/**
 * A reverse proxy in front of an http:// target that answers with `fault(...)` instead of forwarding
 * whenever it returns non-null, for exercising retry and back-off paths against a real registry;
 * a ConnectionFault breaks the connection at the chosen moment instead.
 */
export async function startFaultProxy(targetUrl: string, fault: Fault): Promise<FaultProxy> {
  const target = new URL(targetUrl);
  if (target.protocol !== "http:") throw new Error(`fault proxy only forwards to http targets: ${targetUrl}`);
  const agent = new Agent({ keepAlive: true });
  let requests = 0;
  let injected = 0;
  let proxyOrigin = "";

  const server = createServer((req, res) => {
    const n = ++requests;
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const injection = fault({ method, url: path, n, headers: req.headers });
    if (injection && "reset" in injection) {
      injected++;
      req.socket.destroy();
      return;
    }
    const broken = injection && !("status" in injection) ? injection : undefined;
    if (injection && "status" in injection) {
      injected++;
      req.resume();
      const headers: OutgoingHttpHeaders = { "Content-Type": injection.contentType ?? "application/json" };
      if (injection.retryAfter !== undefined) headers["Retry-After"] = injection.retryAfter;
      Object.assign(headers, injection.headers ?? {});
      res.writeHead(injection.status, headers);
      res.end(injection.body === undefined ? INJECTED_BODY : JSON.stringify(injection.body));
      return;
    }

    const headers = forwardable(req.headers);
    headers.host = target.host;
    const upstream = request(
      {
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port,
        method,
        path,
        headers,
        agent,
      },
      (up) => {
        if (broken) injected++;
        if (broken && "dropResponse" in broken) {
          up.resume();
          up.on("end", () => res.socket?.destroy());
          return;
        }
        const out = forwardable(up.headers);
        // The registry builds absolute upload URLs from the Host it saw, which is the target's.
        const location = up.headers.location;
        if (location?.startsWith(target.origin))
          out.location = proxyOrigin + location.slice(target.origin.length);
        res.writeHead(up.statusCode ?? 502, up.statusMessage, out);
        if (broken && "cutBodyAfter" in broken) {
          let left = broken.cutBodyAfter;
          if (left <= 0) {
            up.destroy();
            res.flushHeaders();
            res.socket?.end(() => res.socket?.destroy());
            return;
          }
          up.on("data", (chunk: Buffer) => {
            if (left <= 0) return;
            const part = chunk.subarray(0, left);
            left -= part.byteLength;
            res.write(part);
            if (left <= 0) {
              up.destroy();
              // Flush what was written, then cut: the client sees a body that stops short.
              res.socket?.end(() => res.socket?.destroy());
            }
          });
          up.on("end", () => res.end());
          return;
        }
        up.pipe(res);
      },
    );
    upstream.on("error", (err) => {
      if (res.headersSent) res.destroy(err);
      else {
        res.writeHead(502, { "Content-Type": "text/plain" });
        res.end(`fault proxy: upstream error: ${err.message}`);
      }
    });
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  proxyOrigin = `http://127.0.0.1:${port}`;

  return {
    url: proxyOrigin,
    host: `127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    get injected() {
      return injected;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        agent.destroy();
      }),
  };
}

function forwardable(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

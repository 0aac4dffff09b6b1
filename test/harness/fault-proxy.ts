import { Agent, createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders, request } from "node:http";
import type { AddressInfo } from "node:net";

export interface FaultRequest {
  method: string;
  url: string;
  /** 1-based count of requests seen by the proxy, injected ones included. */
  n: number;
}

/** An injected answer; `body` (JSON) replaces the default error body, e.g. to emulate an API the target lacks. */
export type Fault = (req: FaultRequest) => null | {
  status: number;
  retryAfter?: string;
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
};

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
 * whenever it returns non-null, for exercising retry and back-off paths against a real registry.
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
    const injection = fault({ method, url: path, n });
    if (injection) {
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
        const out = forwardable(up.headers);
        // The registry builds absolute upload URLs from the Host it saw, which is the target's.
        const location = up.headers.location;
        if (location?.startsWith(target.origin))
          out.location = proxyOrigin + location.slice(target.origin.length);
        res.writeHead(up.statusCode ?? 502, up.statusMessage, out);
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

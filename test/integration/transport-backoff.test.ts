import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it, onTestFinished } from "vitest";
import { HttpTransport } from "../../src/registry/transport.js";

interface Arrival {
  readonly path: string;
  readonly at: number;
}

/** A registry stand-in that throttles its first request with `Retry-After` and records when each request arrived. */
async function throttlingServer(retryAfterSeconds: number) {
  const arrivals: Arrival[] = [];
  let throttledAt: number | undefined;
  const server = createServer((req, res) => {
    arrivals.push({ path: req.url ?? "", at: performance.now() });
    req.resume();
    if (throttledAt === undefined) {
      throttledAt = performance.now();
      res.writeHead(429, { "Retry-After": String(retryAfterSeconds), "Content-Type": "application/json" });
      res.end('{"errors":[{"code":"TOOMANYREQUESTS"}]}');
      return;
    }
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end("{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    arrivals,
    throttledAt: () => throttledAt,
  };
}

describe("the shared 429 back-off", () => {
  it("holds every queued request until Retry-After has passed, not only the throttled one", async () => {
    const server = await throttlingServer(1);
    const transport = new HttpTransport({ concurrency: 2 });
    onTestFinished(() => transport.close());

    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => transport.send({ method: "GET", url: `${server.url}/r/${i}` })),
    );

    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(server.arrivals).toHaveLength(41); // 40 requests and the retry of the throttled one
    const pauseStart = server.throttledAt() ?? Number.NaN;
    // Timers may round the pause down by a millisecond or so; 50 ms below it is still inside.
    const pauseEnd = pauseStart + 1000 - 50;
    const duringPause = server.arrivals.filter((a) => a.at > pauseStart && a.at < pauseEnd);
    // Only the request sent beside the throttled one (concurrency 2) may arrive after the 429.
    expect(duringPause.length).toBeLessThanOrEqual(1);
    const retried = server.arrivals.filter((a) => a.path === server.arrivals[0]?.path);
    expect(retried).toHaveLength(2);
    expect(retried[1]?.at).toBeGreaterThanOrEqual(pauseEnd);
  });
});

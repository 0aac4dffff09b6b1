import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it, onTestFinished } from "vitest";
import { AbortedError } from "../../src/errors.js";
import { HttpTransport, TransportError } from "../../src/registry/transport.js";
import { startFaultProxy } from "../harness/fault-proxy.js";
import { startSilentServer } from "../harness/silent-server.js";
import { runCli } from "./helpers.js";

async function silentServer() {
  const server = await startSilentServer();
  onTestFinished(() => server.stop());
  return server;
}

function transport(options: ConstructorParameters<typeof HttpTransport>[0]) {
  const t = new HttpTransport({ concurrency: 8, ...options });
  onTestFinished(() => t.close());
  return t;
}

describe("a registry that accepts connections and never answers", () => {
  it("fails after one retry of the timeout, not retries x timeout, with one line naming request and registry", async () => {
    const server = await silentServer();
    const t = transport({ timeoutMs: 1000, retries: 4, sleep: async () => {} });
    const started = performance.now();
    const error = await t
      .send({ method: "GET", url: `${server.url}/v2/_catalog?n=1000` })
      .catch((e: unknown) => e);
    const elapsed = performance.now() - started;

    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).kind).toBe("timeout");
    expect((error as Error).message).toBe(
      `GET /v2/_catalog on ${server.host}: no answer within 1 s (--timeout) — check that the URL points at a registry and that it is up`,
    );
    expect(t.stats.requests).toBe(2); // the first attempt and one retry
    // undici checks its timers twice a second, so each attempt may take up to 1.5 s; five attempts (the old retries x timeout) take 5 s at least.
    expect(elapsed).toBeLessThan(5 * 1000);
  });

  it("regsweep scan --timeout 2s exits 1 within seconds with the one-line error", async () => {
    const server = await silentServer();
    const started = performance.now();
    const result = await runCli(["scan", "--registry", server.url, "--timeout", "2s", "--no-cache"]);
    const elapsed = performance.now() - started;

    expect(result.code).toBe(1);
    expect(elapsed).toBeLessThan(15_000);
    expect(result.stderr).toBe(
      `regsweep: GET /v2/_catalog on ${server.host}: no answer within 2 s (--timeout) — check that the URL points at a registry and that it is up\n`,
    );
  });

  it("a --timeout that is not a duration is bad usage (exit 2), named in one line", async () => {
    const result = await runCli(["scan", "--registry", "http://127.0.0.1:9", "--timeout", "soon"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'regsweep: --timeout "soon" is not a positive duration: use e.g. 30s, 2m, 1m30s or a number of seconds\n',
    );
  });
});

describe("a body that stops half-way", () => {
  it("fails the stream with the one-line stalled error, not undici's", async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { "Content-Length": "1000" });
      res.write("only the start");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    onTestFinished(() => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const t = transport({ timeoutMs: 1000 });
    const res = await t.sendStreaming({ method: "GET", url: `http://${host}/v2/r/blobs/sha256:ab` });
    if (!("stream" in res)) throw new Error("expected a streamed body");
    const read = async () => {
      for await (const _ of res.stream) {
      }
    };
    const error = await read().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect((error as Error).message).toBe(
      `GET /v2/r/blobs/sha256:ab on ${host}: the answer stalled for 1 s (--timeout) — check the registry and the network, or raise --timeout`,
    );
  });
});

describe("cancellation", () => {
  it("the run's signal aborts a hung request promptly, and queued requests never reach the server", async () => {
    const server = await silentServer();
    const run = new AbortController();
    const t = transport({ concurrency: 1, timeoutMs: 60_000, signal: run.signal });
    const sent = Array.from({ length: 5 }, (_, i) =>
      t.send({ method: "GET", url: `${server.url}/v2/r${i}/tags/list` }).catch((e: unknown) => e),
    );
    await server.requestsArrived(1);
    const abortedAt = performance.now();
    run.abort();
    const outcomes = await Promise.all(sent);

    expect(performance.now() - abortedAt).toBeLessThan(5_000); // not the 60 s timeout
    for (const outcome of outcomes) expect(outcome).toBeInstanceOf(AbortedError);
    expect((outcomes[0] as Error).message).toBe(`GET /v2/r0/tags/list on ${server.host}: cancelled`);
    expect(t.stats.requests).toBe(1); // the four queued ones were never sent
    expect(server.connections).toBe(1);
  });

  it("the run's signal ends a request still connecting (a TLS handshake that never completes), and close() is prompt", async () => {
    const server = await silentServer();
    const run = new AbortController();
    const t = new HttpTransport({ concurrency: 1, timeoutMs: 60_000, signal: run.signal, insecure: true });
    const https = server.url.replace("http://", "https://");
    const sent = t.send({ method: "GET", url: `${https}/v2/` }).catch((e: unknown) => e);
    await server.requestsArrived(1); // the ClientHello
    const abortedAt = performance.now();
    run.abort();
    expect(await sent).toBeInstanceOf(AbortedError);
    await t.close();
    expect(performance.now() - abortedAt).toBeLessThan(5_000); // not the 60 s connect timeout
  });

  it("a request's own signal cancels that request alone", async () => {
    const server = await silentServer();
    const t = transport({ concurrency: 1, timeoutMs: 60_000 });
    const mine = new AbortController();
    mine.abort();
    await expect(
      t.send({ method: "GET", url: `${server.url}/v2/`, signal: mine.signal }),
    ).rejects.toBeInstanceOf(AbortedError);
    expect(t.stats.requests).toBe(0);
  });

  it("a request's own signal ends it at once while it waits behind a hung one", async () => {
    const server = await silentServer();
    const t = transport({ concurrency: 1, timeoutMs: 60_000 });
    const hung = t.send({ method: "GET", url: `${server.url}/v2/hung` }).catch((e: unknown) => e);
    await server.requestsArrived(1);
    const mine = new AbortController();
    const queued = t
      .send({ method: "GET", url: `${server.url}/v2/mine`, signal: mine.signal })
      .catch((e: unknown) => e);
    const abortedAt = performance.now();
    mine.abort();
    expect(await queued).toBeInstanceOf(AbortedError);
    expect(performance.now() - abortedAt).toBeLessThan(5_000); // not the hung request's 60 s
    expect(t.stats.requests).toBe(1);
    await server.stop();
    expect(await hung).toBeInstanceOf(Error);
  });

  it("a back-off sleep ends at abort, and an aborted request is not retried", async () => {
    const proxy = await startFaultProxy("http://127.0.0.1:9", () => ({ status: 503 }));
    onTestFinished(() => proxy.stop());
    const run = new AbortController();
    let sleeping: () => void = () => {};
    const asleep = new Promise<void>((resolve) => {
      sleeping = resolve;
    });
    const t = transport({
      signal: run.signal,
      // A sleep that would never end by itself: only the abort can end the back-off.
      sleep: () => {
        sleeping();
        return new Promise<void>(() => {});
      },
    });
    const outcome = t.send({ method: "GET", url: `${proxy.url}/v2/` }).catch((e: unknown) => e);
    await asleep;
    run.abort();

    expect(await outcome).toBeInstanceOf(AbortedError);
    expect(proxy.requests).toBe(1);
  });

  it("close() cancels what is still queued or in flight", async () => {
    const server = await silentServer();
    const t = new HttpTransport({ concurrency: 1, timeoutMs: 60_000 });
    const sent = [0, 1, 2].map((i) =>
      t.send({ method: "GET", url: `${server.url}/v2/r${i}` }).catch((e: unknown) => e),
    );
    await server.requestsArrived(1);
    await t.close();
    for (const outcome of await Promise.all(sent)) expect(outcome).toBeInstanceOf(AbortedError);
    expect(t.stats.requests).toBe(1);
  });
});

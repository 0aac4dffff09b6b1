import { setMaxListeners } from "node:events";
import { Readable } from "node:stream";
import { setTimeout as delay } from "node:timers/promises";
import { rootCertificates } from "node:tls";
import fastq from "fastq";
import pThrottle from "p-throttle";
import { Agent, request } from "undici";
import { AbortedError, throwIfAborted } from "../errors.js";
import { log } from "../log.js";
import { bufferedRequest } from "./buffered-request.js";
import { readCaFile } from "./ca-file.js";

export interface TransportOptions {
  /** Accept self-signed or unverified TLS certificates. */
  readonly insecure?: boolean;
  /** Extra CA certificate file (PEM) trusted besides the system ones. */
  readonly caFile?: string;
  readonly concurrency?: number;
  /** Requests per second across the whole run; unlimited when absent. */
  readonly rps?: number;
  /** How long to wait for a connection, for the first byte of an answer, and between body chunks (default 30 s). */
  readonly timeoutMs?: number;
  readonly retries?: number;
  /** The run's signal: once it aborts, queued requests never start and those in flight are aborted. */
  readonly signal?: AbortSignal;
  /** Injected so tests need not wait real time; must end early (reject) when `signal` aborts. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly random?: () => number;
}

export interface HttpRequest {
  readonly method: "GET" | "HEAD" | "PUT" | "POST" | "DELETE" | "PATCH";
  readonly url: string;
  readonly headers?: Record<string, string>;
  /** A function is called once per attempt, so a streamed body can be sent again on retry. */
  readonly body?: Uint8Array | string | (() => Promise<AsyncIterable<Uint8Array>>);
  /** Cancels this request alone (the transport's own signal cancels every request). */
  readonly signal?: AbortSignal;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Record<string, string | undefined>;
  readonly body: Buffer;
}

/** A successful response whose body has not been read. */
export interface StreamingResponse {
  readonly status: number;
  readonly headers: Record<string, string | undefined>;
  readonly stream: AsyncIterable<Uint8Array>;
}

export interface TransportStats {
  requests: number;
  retries: number;
}

/**
 * A failure of the connection rather than an answer of the registry (timeout, TLS, wrong scheme),
 * with a one-line message that names the request or registry and says what to check.
 */
export class TransportError extends Error {
  override name = "TransportError";
  constructor(
    message: string,
    readonly kind: "timeout" | "tls" | "scheme",
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);
const MAX_BACKOFF_MS = 30_000;
/**
 * A registry that did not answer within the timeout gets one more chance, no more: a hung
 * registry costs about two timeouts, never retries x timeout of silence.
 */
const TIMEOUT_RETRIES = 1;

const realSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  // timers/promises clears its timer on abort, so a cancelled run does not linger for a back-off.
  delay(ms, undefined, signal ? { signal } : {});

/**
 * The one layer every registry request goes through: a global concurrency limit, an optional
 * rate limit, timeouts (connect, first byte, body), cancellation, and retries with exponential
 * backoff and full jitter on 429, 5xx and network errors. A 429 pauses the whole transport, not just
 * the request that got it, so a throttled registry sees the run slow down as a whole.
 */
export class HttpTransport {
  readonly stats: TransportStats = { requests: 0, retries: 0 };
  /** The request slots: fastq, as p-queue's events and bookkeeping were 3 µs of CPU per request. */
  private readonly slots: fastq.queueAsPromised<() => Promise<unknown>, unknown>;
  /** With a rate limit: resolves when one more request may start this second. */
  private readonly rateGate: (() => Promise<void>) | undefined;
  private readonly agent: Agent;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly random: () => number;
  /** Aborted by close(), and by the run's signal: every request listens to it. */
  private readonly stopped = new AbortController();
  private pausedUntil = 0;

  constructor(options: TransportOptions = {}) {
    // Every queued request listens to this signal; thousands of them are normal, not a leak.
    setMaxListeners(0, this.stopped.signal);
    const concurrency = options.concurrency ?? 8;
    this.slots = fastq.promise((task: () => Promise<unknown>) => task(), concurrency);
    // Taken inside a slot, so a request waiting for the rate holds one: the rate, not the
    // slots, is what limits such a run.
    this.rateGate = options.rps
      ? pThrottle({ limit: options.rps, interval: 1000, signal: this.stopped.signal })(async () => {})
      : undefined;
    const ca = options.caFile ? readCaFile(options.caFile) : undefined;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.agent = new Agent({
      connections: concurrency,
      connect: {
        rejectUnauthorized: !options.insecure,
        timeout: this.timeoutMs,
        // Node's `ca` replaces the default store, so keep the system roots beside the extra one.
        ...(ca ? { ca: [...rootCertificates, ca] } : {}),
      },
    });
    this.retries = options.retries ?? 4;
    this.sleep = options.sleep ?? realSleep;
    this.random = options.random ?? Math.random;
    const run = options.signal;
    if (run) {
      if (run.aborted) this.stopped.abort(run.reason);
      else run.addEventListener("abort", () => this.stopped.abort(run.reason), { once: true });
    }
  }

  send(req: HttpRequest): Promise<HttpResponse> {
    return this.sendWith(req, this.bufferedOnce) as Promise<HttpResponse>;
  }

  /** One attempt, the answer read whole: made once, not a closure per request. */
  private readonly bufferedOnce = (req: HttpRequest, signal: AbortSignal) => this.once(req, signal);

  /**
   * Like send, but a 2xx body is handed over as a stream instead of being read into memory
   * (layers can be gigabytes). Retries happen before any body byte is consumed.
   */
  async sendStreaming(req: HttpRequest): Promise<HttpResponse | StreamingResponse> {
    return this.sendWith(req, (r, signal) => this.once(r, signal, true));
  }

  private async sendWith(
    req: HttpRequest,
    attemptOnce: (req: HttpRequest, signal: AbortSignal) => Promise<HttpResponse | StreamingResponse>,
  ): Promise<HttpResponse | StreamingResponse> {
    const signal = req.signal ? AbortSignal.any([this.stopped.signal, req.signal]) : this.stopped.signal;
    // Named only when something is said about it (a URL parse per request shows in profiles).
    let named: string | undefined;
    const what = () => (named ??= describeRequest(req));
    let timeouts = 0;
    for (let attempt = 0; ; attempt++) {
      if (signal.aborted) throwIfAborted(signal, what());
      let outcome: HttpResponse | StreamingResponse | Error;
      let throttled: number | undefined;
      try {
        outcome = await this.inSlot(
          async () => {
            // Checked here, in the slot, right before sending: a pause that began while this
            // request waited in the queue holds it too.
            if (this.pausedUntil > Date.now()) await this.waitOutPause(signal);
            if (signal.aborted) throwIfAborted(signal, what());
            const response = await attemptOnce(req, signal);
            if (response.status === 429 && attempt < this.retries) {
              // Set while this slot is still held: the queue starts the next task in it
              // synchronously once this one returns, and that task must already see the pause.
              throttled = this.backoff(attempt, response);
              this.pausedUntil = Math.max(this.pausedUntil, Date.now() + throttled);
            }
            return response;
          },
          // The transport's own signal aborts what is in flight, which frees the slots, and what
          // was queued then fails at the check above without sending: an abort race per task (a
          // promise, a listener, a race) was a tenth of a scan's allocations. A request's own
          // signal must end it while it waits behind others, so that one is raced.
          req.signal ? signal : undefined,
        );
      } catch (error) {
        if (signal.aborted) {
          throw error instanceof AbortedError
            ? error
            : new AbortedError(`${what()}: cancelled`, { cause: error });
        }
        outcome = explainFailure(
          error instanceof Error ? error : new Error(String(error)),
          req,
          this.timeoutMs,
        );
      }
      if (outcome instanceof TransportError && outcome.kind === "timeout") timeouts++;
      const retryable =
        outcome instanceof Error
          ? !isPermanent(outcome) && timeouts <= TIMEOUT_RETRIES
          : RETRY_STATUS.has(outcome.status);
      if (!retryable || attempt >= this.retries) {
        if (outcome instanceof TransportError) throw outcome;
        if (outcome instanceof Error) {
          throw new Error(`${what()}: ${oneLine(outcome.message)}${hint(outcome)}`, { cause: outcome });
        }
        return outcome;
      }
      this.stats.retries++;
      const delay = throttled ?? this.backoff(attempt, outcome instanceof Error ? undefined : outcome);
      log.info(
        {
          method: req.method,
          url: redactUrl(req.url),
          attempt,
          delay,
          status: outcome instanceof Error ? outcome.message : outcome.status,
        },
        "retrying",
      );
      await this.sleepOrAbort(delay, signal, what());
    }
  }

  /**
   * Runs a call that is not one of this transport's HTTP requests (a cloud API's SDK call, e.g.
   * ECR's DescribeImages) under the same concurrency and rate limit, after any 429 pause: one
   * budget for the whole run, whichever API a request goes to. `task` gets the transport's signal
   * (the run's, and close()); its own timeout is its business, started once it holds a slot so
   * waiting for the budget never counts against it.
   */
  async schedule<T>(what: string, task: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const signal = this.stopped.signal;
    throwIfAborted(signal, what);
    try {
      return await this.inSlot(async () => {
        throwIfAborted(signal, what);
        await this.waitOutPause(signal);
        throwIfAborted(signal, what);
        return task(signal);
      });
    } catch (error) {
      if (signal.aborted && !(error instanceof AbortedError))
        throw new AbortedError(`${what}: cancelled`, { cause: error });
      throw error;
    }
  }

  /**
   * Runs `task` in one of the request slots, after the rate limit lets it start. With `signal`,
   * the caller is answered as soon as it aborts, even while the task still waits for a slot (it
   * then starts, sees the abort and returns at once).
   */
  private inSlot<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const gate = this.rateGate;
    const gated = gate
      ? async () => {
          await gate();
          return task();
        }
      : task;
    const queued = this.slots.push(gated) as Promise<T>;
    if (!signal) return queued;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
      queued.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  /** Holds the caller until the shared 429 pause is over, following it if it is extended meanwhile. */
  private async waitOutPause(signal: AbortSignal): Promise<void> {
    let until = this.pausedUntil;
    while (until > Date.now()) {
      await this.sleepOrAbort(until - Date.now(), signal, "waiting out a 429 pause");
      // An injected sleep may return at once; only a pause extended while we slept is waited again.
      if (this.pausedUntil === until) return;
      until = this.pausedUntil;
    }
  }

  private async sleepOrAbort(ms: number, signal: AbortSignal, what: string): Promise<void> {
    throwIfAborted(signal, what);
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new AbortedError(`${what}: cancelled`, { cause: signal.reason }));
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      // An injected sleep may ignore the signal; the race still ends the wait at abort.
      await Promise.race([this.sleep(ms, signal), aborted]);
    } catch (error) {
      if (signal.aborted) throw new AbortedError(`${what}: cancelled`, { cause: error });
      throw error;
    } finally {
      if (onAbort) signal.removeEventListener("abort", onAbort);
      aborted.catch(() => {});
    }
  }

  /** Ends the transport: queued requests never start, those in flight are aborted (AbortedError). */
  async close(): Promise<void> {
    this.stopped.abort(new AbortedError("the registry connection was closed"));
    // Destroyed, not closed gracefully: everything was just cancelled, and a graceful close would
    // wait for a connection attempt that hangs (a TLS handshake never answered) until its timeout.
    await this.agent.destroy();
  }

  private backoff(
    attempt: number,
    response: { readonly headers: Record<string, string | undefined> } | undefined,
  ): number {
    const retryAfter = response ? parseRetryAfter(response.headers["retry-after"]) : undefined;
    if (retryAfter !== undefined) return Math.min(retryAfter, MAX_BACKOFF_MS);
    const ceiling = Math.min(MAX_BACKOFF_MS, 200 * 2 ** attempt);
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  private async once(
    req: HttpRequest,
    signal: AbortSignal,
    streamSuccess = false,
  ): Promise<HttpResponse | StreamingResponse> {
    this.stats.requests++;
    const started = performance.now();
    // The common case (every scan request): no body to send, the whole answer wanted.
    if (
      !streamSuccess &&
      req.body === undefined &&
      (req.method === "GET" || req.method === "HEAD" || req.method === "DELETE")
    ) {
      const res = await bufferedRequest(this.agent, {
        method: req.method,
        url: req.url,
        ...(req.headers ? { headers: req.headers } : {}),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        signal,
      });
      return this.answered(req, res.statusCode, res.headers, res.body, started);
    }
    const res = await request(req.url, {
      method: req.method,
      headers: req.headers,
      body: typeof req.body === "function" ? Readable.from(await req.body()) : req.body,
      dispatcher: this.agent,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      signal,
      // undici closes the connection after a HEAD unless told otherwise; a warm scan is all HEADs.
      reset: false,
    });
    if (streamSuccess && res.statusCode >= 200 && res.statusCode < 300) {
      return {
        status: res.statusCode,
        headers: oneValueEach(res.headers),
        stream: this.explained(res.body, req, signal),
      };
    }
    const body = req.method === "HEAD" ? Buffer.alloc(0) : Buffer.from(await res.body.arrayBuffer());
    if (req.method === "HEAD") await res.body.dump();
    return this.answered(req, res.statusCode, res.headers, body, started);
  }

  private answered(
    req: HttpRequest,
    statusCode: number,
    rawHeaders: Record<string, string | string[] | undefined>,
    body: Buffer,
    started: number,
  ): HttpResponse {
    const headers = oneValueEach(rawHeaders);
    if (log.isLevelEnabled("debug")) {
      const ms = Math.round(performance.now() - started);
      log.debug({ method: req.method, url: redactUrl(req.url), status: statusCode, ms }, "http");
    }
    if (statusCode === 400 && speaksTls(req.url, body)) {
      const { host } = new URL(req.url);
      throw new TransportError(
        `${host} speaks TLS: use https://${host} (with --ca-file PEM or --insecure for a self-signed certificate)`,
        "scheme",
      );
    }
    return { status: statusCode, headers, body };
  }

  /**
   * A body that stalls or is cancelled mid-way fails with the same one-line errors as a request.
   * Delegates to the body's own iterator, so ending the loop early still releases the connection.
   */
  private explained(
    stream: AsyncIterable<Uint8Array>,
    req: HttpRequest,
    signal: AbortSignal,
  ): AsyncIterable<Uint8Array> {
    const explain = (error: unknown): Error => {
      const what = describeRequest(req);
      if (signal.aborted) return new AbortedError(`${what}: cancelled`, { cause: error });
      const e = explainFailure(
        error instanceof Error ? error : new Error(String(error)),
        req,
        this.timeoutMs,
      );
      return e instanceof TransportError ? e : new Error(`${what}: ${oneLine(e.message)}`, { cause: error });
    };
    return {
      [Symbol.asyncIterator]: () => {
        const inner = stream[Symbol.asyncIterator]();
        return {
          next: () =>
            inner.next().catch((error: unknown) => {
              throw explain(error);
            }),
          return: (value?: unknown) =>
            inner.return ? inner.return(value) : Promise.resolve({ done: true as const, value: undefined }),
        };
      },
    };
  }
}

/** `GET /v2/_catalog on 127.0.0.1:5000`: the path without its query, so no token can show. */
function describeRequest(req: HttpRequest): string {
  try {
    const u = new URL(req.url);
    return `${req.method} ${u.pathname} on ${u.host}`;
  } catch {
    return `${req.method} ${redactUrl(req.url)}`;
  }
}

function errorCode(error: Error): string {
  return (
    (error as NodeJS.ErrnoException).code ?? (error.cause as NodeJS.ErrnoException | undefined)?.code ?? ""
  );
}

const CERT_CODES =
  /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS_CERT_ALTNAME_INVALID|HOSTNAME_MISMATCH/;

/** Header names in lower case, a repeated header's values joined as HTTP allows. */
function oneValueEach(
  raw: Record<string, string | string[] | undefined>,
): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const key in raw) {
    const value = raw[key];
    headers[key.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  }
  return headers;
}

/** Turns the errors a user can act on (timeouts, TLS, wrong scheme) into one-line TransportErrors. */
function explainFailure(error: Error, req: HttpRequest, timeoutMs: number): Error {
  if (error instanceof TransportError || error instanceof AbortedError) return error;
  const code = errorCode(error);
  const what = describeRequest(req);
  const seconds = `${Math.round(timeoutMs / 100) / 10} s`;
  if (code === "UND_ERR_HEADERS_TIMEOUT") {
    return new TransportError(
      `${what}: no answer within ${seconds} (--timeout) — check that the URL points at a registry and that it is up`,
      "timeout",
      { cause: error },
    );
  }
  if (code === "UND_ERR_CONNECT_TIMEOUT") {
    return new TransportError(
      `${what}: could not connect within ${seconds} (--timeout) — check the host and port, and any firewall or proxy on the way`,
      "timeout",
      { cause: error },
    );
  }
  if (code === "UND_ERR_BODY_TIMEOUT") {
    return new TransportError(
      `${what}: the answer stalled for ${seconds} (--timeout) — check the registry and the network, or raise --timeout`,
      "timeout",
      { cause: error },
    );
  }
  let origin = "";
  try {
    origin = new URL(req.url).host;
  } catch {}
  if (
    /WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG/.test(code) ||
    /wrong version number/i.test(error.message)
  ) {
    return new TransportError(
      `https://${origin} answered plain HTTP, not TLS — use http://${origin} (add --insecure unless it is a loopback address)`,
      "scheme",
      { cause: error },
    );
  }
  if (CERT_CODES.test(code)) {
    return new TransportError(
      `https://${origin}: its TLS certificate is not trusted (${oneLine(error.message)}) — pass --ca-file PEM with the CA that signed it, or --insecure to skip verification`,
      "tls",
      { cause: error },
    );
  }
  return error;
}

/** Go's servers (distribution, Harbor, Zot) answer a plain-http request on a TLS port with this 400. */
function speaksTls(url: string, body: Buffer): boolean {
  return (
    url.startsWith("http:") && /HTTP request to an HTTPS server/i.test(body.subarray(0, 512).toString("utf8"))
  );
}

function hint(error: Error): string {
  const code = errorCode(error);
  if (code === "ECONNREFUSED") return " — check that the registry is running and the port is right";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return " — check the registry host name";
  return "";
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}

/** Certificate problems, bad URLs and the wrong scheme do not heal by retrying. */
function isPermanent(error: Error): boolean {
  if (error instanceof TransportError) return error.kind !== "timeout";
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|ERR_INVALID_URL|ENOTFOUND|EPROTO|EDIGEST/.test(
    errorCode(error),
  );
}

/** Retry-After is either seconds or an HTTP date; returns milliseconds. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** URLs never carry credentials in logs or errors. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    for (const key of [...u.searchParams.keys()]) {
      if (/token|password|secret|sig/i.test(key)) u.searchParams.set(key, "REDACTED");
    }
    return u.toString();
  } catch {
    return "<unparsable url>";
  }
}

import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { rootCertificates } from "node:tls";
import PQueue from "p-queue";
import { Agent, request } from "undici";
import { log } from "../log.js";

export interface TransportOptions {
  /** Accept self-signed or unverified TLS certificates. */
  readonly insecure?: boolean;
  /** Extra CA certificate file (PEM) trusted besides the system ones. */
  readonly caFile?: string;
  readonly concurrency?: number;
  /** Requests per second across the whole run; unlimited when absent. */
  readonly rps?: number;
  readonly timeoutMs?: number;
  readonly retries?: number;
  /** Injected so tests need not wait real time. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

export interface HttpRequest {
  readonly method: "GET" | "HEAD" | "PUT" | "POST" | "DELETE" | "PATCH";
  readonly url: string;
  readonly headers?: Record<string, string>;
  /** A function is called once per attempt, so a streamed body can be sent again on retry. */
  readonly body?: Uint8Array | string | (() => Promise<AsyncIterable<Uint8Array>>);
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

const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);
const MAX_BACKOFF_MS = 30_000;

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The one layer every registry request goes through: a global concurrency limit, an optional
 * rate limit, a timeout per request, and retries with exponential backoff and full jitter on
 * 429, 5xx and network errors. A 429 pauses the whole transport, not just the request that got
 * it, so a throttled registry sees the run slow down as a whole.
 */
export class HttpTransport {
  readonly stats: TransportStats = { requests: 0, retries: 0 };
  private readonly queue: PQueue;
  private readonly agent: Agent;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private pausedUntil = 0;

  constructor(options: TransportOptions = {}) {
    const concurrency = options.concurrency ?? 8;
    this.queue = new PQueue({
      concurrency,
      ...(options.rps ? { intervalCap: options.rps, interval: 1000 } : {}),
    });
    const ca = options.caFile ? readFileSync(options.caFile, "utf8") : undefined;
    this.agent = new Agent({
      connections: concurrency,
      connect: {
        rejectUnauthorized: !options.insecure,
        // Node's `ca` replaces the default store, so keep the system roots beside the extra one.
        ...(ca ? { ca: [...rootCertificates, ca] } : {}),
      },
    });
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retries = options.retries ?? 4;
    this.sleep = options.sleep ?? realSleep;
    this.random = options.random ?? Math.random;
  }

  async send(req: HttpRequest): Promise<HttpResponse> {
    return this.sendWith(req, (r) => this.once(r)) as Promise<HttpResponse>;
  }

  /**
   * Like send, but a 2xx body is handed over as a stream instead of being read into memory
   * (layers can be gigabytes). Retries happen before any body byte is consumed.
   */
  async sendStreaming(req: HttpRequest): Promise<HttpResponse | StreamingResponse> {
    return this.sendWith(req, (r) => this.once(r, true));
  }

  private async sendWith(
    req: HttpRequest,
    attemptOnce: (req: HttpRequest) => Promise<HttpResponse | StreamingResponse>,
  ): Promise<HttpResponse | StreamingResponse> {
    for (let attempt = 0; ; attempt++) {
      const wait = this.pausedUntil - Date.now();
      if (wait > 0) await this.sleep(wait);
      let outcome: HttpResponse | StreamingResponse | Error;
      try {
        outcome = await this.queue.add(() => attemptOnce(req));
      } catch (error) {
        outcome = error instanceof Error ? error : new Error(String(error));
      }
      const retryable = outcome instanceof Error ? !isPermanent(outcome) : RETRY_STATUS.has(outcome.status);
      if (!retryable || attempt >= this.retries) {
        if (outcome instanceof Error) {
          throw new Error(`${req.method} ${redactUrl(req.url)}: ${outcome.message}`, { cause: outcome });
        }
        return outcome;
      }
      this.stats.retries++;
      const delay = this.backoff(attempt, outcome instanceof Error ? undefined : outcome);
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
      if (!(outcome instanceof Error) && outcome.status === 429) {
        this.pausedUntil = Math.max(this.pausedUntil, Date.now() + delay);
      }
      await this.sleep(delay);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
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

  private async once(req: HttpRequest, streamSuccess = false): Promise<HttpResponse | StreamingResponse> {
    this.stats.requests++;
    const started = performance.now();
    const res = await request(req.url, {
      method: req.method,
      headers: req.headers,
      body: typeof req.body === "function" ? Readable.from(await req.body()) : req.body,
      dispatcher: this.agent,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      // undici closes the connection after a HEAD unless told otherwise; a warm scan is all HEADs.
      reset: false,
    });
    const headers: Record<string, string | undefined> = {};
    for (const [key, value] of Object.entries(res.headers)) {
      headers[key.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
    }
    if (streamSuccess && res.statusCode >= 200 && res.statusCode < 300) {
      return { status: res.statusCode, headers, stream: res.body };
    }
    const body = req.method === "HEAD" ? Buffer.alloc(0) : Buffer.from(await res.body.arrayBuffer());
    if (req.method === "HEAD") await res.body.dump();
    if (log.isLevelEnabled("debug")) {
      const ms = Math.round(performance.now() - started);
      log.debug({ method: req.method, url: redactUrl(req.url), status: res.statusCode, ms }, "http");
    }
    return { status: res.statusCode, headers, body };
  }
}

/** Certificate problems and bad URLs do not heal by retrying. */
function isPermanent(error: Error): boolean {
  const code =
    (error as NodeJS.ErrnoException).code ?? (error.cause as NodeJS.ErrnoException | undefined)?.code ?? "";
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_INVALID_URL|ENOTFOUND|EPROTO|EDIGEST/.test(code);
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

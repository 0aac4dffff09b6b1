import type { Dispatcher } from "undici";

export interface BufferedResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

export interface BufferedRequestOptions {
  readonly method: "GET" | "HEAD" | "DELETE";
  readonly url: string;
  readonly headers?: Record<string, string>;
  readonly headersTimeout: number;
  readonly bodyTimeout: number;
  readonly signal: AbortSignal;
}

/**
 * A request without a body whose answer is read whole: undici's dispatcher with a handler that
 * collects the chunks, instead of `request()`, which wraps every answer in a Node stream (a stream
 * object, its events and ticks per request were a fifth of a scan's allocations, for bodies of a
 * few KB). Same timeouts, keep-alive and errors as `request()`: the dispatcher raises them.
 */
export function bufferedRequest(
  dispatcher: Dispatcher,
  options: BufferedRequestOptions,
): Promise<BufferedResponse> {
  const { signal } = options;
  if (signal.aborted) return Promise.reject(signal.reason);
  const { origin, path } = splitUrl(options.url);
  return new Promise<BufferedResponse>((resolve, reject) => {
    let controller: Dispatcher.DispatchController | undefined;
    let statusCode = 0;
    let headers: Record<string, string | string[] | undefined> = {};
    const chunks: Buffer[] = [];
    let settled = false;
    const settle = () => {
      settled = true;
      signal.removeEventListener("abort", onAbort);
    };
    // Before the request starts (still connecting, or waiting for a connection) the dispatcher
    // offers no public way to take it back: the caller is answered now, and the request is
    // aborted when it starts (onRequestStart), or ends with the connection attempt.
    const onAbort = () => {
      if (controller) {
        controller.abort(signal.reason);
      } else if (!settled) {
        settle();
        reject(signal.reason);
      }
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        if (signal.aborted) c.abort(signal.reason);
      },
      onResponseStart(_c, status, responseHeaders) {
        // 1xx answers are followed by the real one.
        if (status < 200) return;
        statusCode = status;
        headers = responseHeaders as Record<string, string | string[] | undefined>;
      },
      onResponseData(_c, chunk) {
        chunks.push(chunk);
      },
      onResponseEnd() {
        if (settled) return;
        settle();
        resolve({
          statusCode,
          headers,
          // Always a copy: a chunk may be a view into the socket's read buffer, which a body kept
          // in a cache or a parsed manifest would otherwise hold on to whole.
          body: Buffer.concat(chunks),
        });
      },
      onResponseError(_c, error) {
        if (settled) return;
        settle();
        reject(signal.aborted ? signal.reason : error);
      },
    };
    try {
      dispatcher.dispatch(
        {
          origin,
          path,
          method: options.method,
          ...(options.headers ? { headers: options.headers } : {}),
          headersTimeout: options.headersTimeout,
          bodyTimeout: options.bodyTimeout,
          // undici closes the connection after a HEAD unless told otherwise.
          reset: false,
        },
        handler,
      );
    } catch (error) {
      settle();
      reject(error);
    }
  });
}

/** `scheme://authority` and the rest, as the dispatcher wants them (no URL object per request). */
function splitUrl(url: string): { origin: string; path: string } {
  const authority = url.indexOf("//");
  const slash = authority < 0 ? -1 : url.indexOf("/", authority + 2);
  if (authority < 0) {
    const parsed = new URL(url);
    return { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
  }
  return slash < 0 ? { origin: url, path: "/" } : { origin: url.slice(0, slash), path: url.slice(slash) };
}

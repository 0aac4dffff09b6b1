import {
  createDefaultHttpClient,
  type HttpClient,
  type PipelineRequest,
  type TlsSettings,
} from "@azure/core-rest-pipeline";

/**
 * An Azure SDK `HttpClient` that also trusts `caPem` (and only it: Node replaces its default roots
 * when `ca` is given). It is the SDK's own Node transport with `tlsSettings.ca` set on each request,
 * so retries, redirects, decompression and streaming behave exactly as in production.
 *
 * Equivalent without a custom client: pass `tlsOptions: { ca: caPem }` in the client options.
 */
export function trustingHttpClient(caPem: string): HttpClient {
  const inner = createDefaultHttpClient();
  const trusted: TlsSettings = { ca: caPem };
  // The Node client caches one https.Agent per tlsSettings object: reuse objects to keep connections alive.
  const merged = new WeakMap<TlsSettings, TlsSettings>();
  return {
    sendRequest(request: PipelineRequest) {
      const own = request.tlsSettings;
      if (own === undefined) {
        request.tlsSettings = trusted;
      } else if (own.ca === undefined) {
        let both = merged.get(own);
        if (both === undefined) {
          both = { ...own, ca: caPem };
          merged.set(own, both);
        }
        request.tlsSettings = both;
      }
      return inner.sendRequest(request);
    },
  };
}

import type { TokenCredential } from "@azure/core-auth";
import { LogsQueryClient, LogsQueryResultStatus, type LogsTable } from "@azure/monitor-query-logs";
import { UsageSourceError } from "../../errors.js";
import { InvalidReferenceError, parseReference } from "../../oci/reference.js";
import type { Usage, UsageSource } from "../usage.js";

/** The table an ACR diagnostic setting (category ContainerRegistryRepositoryEvents) fills. */
export const PULL_EVENTS_TABLE = "ContainerRegistryRepositoryEvents";
const DEFAULT_ENDPOINT = "https://api.loganalytics.io";
/** Per query; the source's own timeout (REGSWEEP_SOURCE_TIMEOUT_SECONDS) still bounds the whole read. */
const QUERY_TIMEOUT_MS = 120_000;

export interface AcrPullLogsOptions {
  readonly workspaceId: string;
  /** The registry's login server (myregistry.azurecr.io): only its pulls count, and references name it. */
  readonly loginServer: string;
  /** How far back a pull keeps an image (the policy's protectPulledWithin, or the source's own). */
  readonly withinMs: number;
  readonly credential: TokenCredential;
  /** The Logs query API, without /v1 (default the public cloud's). */
  readonly endpoint?: string;
  /** Extra CA certificates trusted for the API (azure.caFile). */
  readonly tlsOptions?: { readonly ca: string[] };
  readonly optional?: boolean;
}

/** A KQL string literal. */
function kqlString(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** The query: the newest pull of each repository, tag and digest within the window, and who pulled it. */
export function pullQuery(loginServer: string, withinMs: number): string {
  const seconds = Math.ceil(withinMs / 1000);
  return [
    PULL_EVENTS_TABLE,
    `| where TimeGenerated > ago(${seconds}s)`,
    `| where OperationName == "Pull" and LoginServer =~ ${kqlString(loginServer)}`,
    "| summarize arg_max(TimeGenerated, CallerIpAddress) by Repository, Tag, Digest",
  ].join("\n");
}

/**
 * What was pulled from an ACR registry recently, from its diagnostic logs in Log Analytics: ACR's
 * API keeps no pull time, its logs do. Every digest pulled within the window is kept; a pull by
 * tag alone keeps what the tag names now (the logs carry the digest where the registry logged one).
 */
export function acrPullLogsSource(options: AcrPullLogsOptions): UsageSource {
  const name = `acrPullLogs (workspace ${options.workspaceId})`;
  return {
    name,
    optional: options.optional ?? false,
    async load(signal) {
      const client = new LogsQueryClient(options.credential, {
        endpoint: `${(options.endpoint ?? DEFAULT_ENDPOINT).replace(/\/+$/, "")}/v1`,
        ...(options.tlsOptions ? { tlsOptions: options.tlsOptions } : {}),
      });
      // queryWorkspace (1.0.0) drops its options' abortSignal on the way to the request: the signal
      // is set on each request here, so a cancelled or timed-out run closes the socket.
      if (signal) {
        client.pipeline.addPolicy({
          name: "regsweepAbortSignal",
          sendRequest: (request, next) => {
            request.abortSignal = signal;
            return next(request);
          },
        });
      }
      let tables: LogsTable[];
      try {
        const result = await client.queryWorkspace(
          options.workspaceId,
          pullQuery(options.loginServer, options.withinMs),
          { duration: `PT${Math.ceil(options.withinMs / 1000)}S` },
          { requestOptions: { timeout: QUERY_TIMEOUT_MS } },
        );
        if (result.status !== LogsQueryResultStatus.Success) {
          throw new Error(
            `the query returned a partial result (${result.partialError?.message ?? "no reason given"}): a partial list of pulls cannot protect anything — retry, or narrow protectPulledWithin`,
          );
        }
        tables = result.tables;
      } catch (error) {
        signal?.throwIfAborted();
        throw new UsageSourceError(name, describe(error, options), { cause: error });
      }
      return usagesOfPulls(tables, options.loginServer);
    },
  };
}

/** One Usage per logged pull: `host/repo@digest` (or `:tag` when no digest was logged). */
export function usagesOfPulls(tables: readonly LogsTable[], loginServer: string): Usage[] {
  const usages: Usage[] = [];
  for (const table of tables) {
    const at = (column: string) => table.columnDescriptors.findIndex((c) => c.name === column);
    const [repo, tag, digest, time, ip] = [
      at("Repository"),
      at("Tag"),
      at("Digest"),
      at("TimeGenerated"),
      at("CallerIpAddress"),
    ];
    for (const row of table.rows) {
      const text = (i: number) => (i >= 0 && typeof row[i] === "string" ? (row[i] as string).trim() : "");
      const repository = text(repo);
      const target = text(digest) ? `@${text(digest)}` : text(tag) ? `:${text(tag)}` : "";
      if (!repository || !target) continue;
      const raw = `${loginServer}/${repository}${target}`;
      const when = time >= 0 ? row[time] : undefined;
      const day =
        when instanceof Date && !Number.isNaN(when.getTime()) ? when.toISOString().slice(0, 10) : "?";
      const by = text(ip) ? ` by ${text(ip)}` : "";
      try {
        usages.push({
          reference: parseReference(raw),
          raw,
          source: `pulled ${day}${by} (Log Analytics)`,
          pulledAt: day === "?" ? "unknown" : (when as Date).toISOString(),
        });
      } catch (error) {
        // A row the registry could not have served (a malformed name) keeps nothing.
        if (!(error instanceof InvalidReferenceError)) throw error;
      }
    }
  }
  return usages;
}

function describe(error: unknown, options: AcrPullLogsOptions): string {
  const e = error as { statusCode?: number; message?: string; details?: unknown };
  const text = `${e.message ?? ""} ${JSON.stringify(e.details ?? {})}`;
  if (
    text.includes(PULL_EVENTS_TABLE) &&
    /failed to resolve|could not be resolved|SemanticError/i.test(text)
  ) {
    return `workspace ${options.workspaceId} has no ${PULL_EVENTS_TABLE} table: add a diagnostic setting to registry ${options.loginServer} that sends the log category ${PULL_EVENTS_TABLE} to this workspace`;
  }
  if (e.statusCode === 401 || e.statusCode === 403) {
    return `HTTP ${e.statusCode} querying workspace ${options.workspaceId} — the identity needs the Log Analytics Reader role on the workspace`;
  }
  if (e.statusCode === 404) {
    return `workspace ${options.workspaceId} was not found — give its workspace (customer) id, not its name`;
  }
  return `querying workspace ${options.workspaceId}: ${e.message ?? String(error)}`;
}

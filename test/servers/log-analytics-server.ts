import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeSelfSignedCert } from "../harness/tls.js";

/**
 * A local Azure Monitor Logs query API (`POST /v1/workspaces/{id}/query` with `{query, timespan}`,
 * answering `{tables: [{name, columns: [{name, type}], rows}]}`), for the official
 * `@azure/monitor-query-logs` client. It does not evaluate KQL: each workspace names the tables it
 * holds, a query must name one of them (else the service's SemanticError answer), and the test
 * decides the rows. TLS, because the Azure SDK sends bearer tokens only over https.
 */

export interface LogColumn {
  name: string;
  /** Kusto types: string, datetime, long, dynamic … */
  type: string;
}

export interface LogWorkspace {
  /** Tables that exist in the workspace (a registry's diagnostic setting creates its table). */
  tables: string[];
  /** The answer to a query, given the query text and timespan. */
  answer?: (query: string, timespan: string | undefined) => { columns: LogColumn[]; rows: unknown[][] };
  /** Accept queries and never answer them (held until stop()). */
  hang?: boolean;
}

export interface LogQueryRequest {
  workspaceId: string;
  query: string;
  timespan?: string;
  authorization?: string;
  /** Resolves when the client's connection for this request closed (it gave up, or the answer was read). */
  closed: Promise<void>;
}

export interface LogAnalyticsServer {
  /** https://127.0.0.1:PORT (the client's endpoint is this plus /v1). */
  endpoint: string;
  caCertPem: string;
  caCertPath: string;
  queries: LogQueryRequest[];
  stop(): Promise<void>;
}

export interface LogAnalyticsServerOptions {
  /** The only bearer token accepted; default any. */
  token?: string;
  /** Answer every query with this status and an error body (403: no Log Analytics Reader role). */
  failWith?: number;
}

export async function startLogAnalyticsServer(
  workspaces: Record<string, LogWorkspace>,
  options: LogAnalyticsServerOptions = {},
): Promise<LogAnalyticsServer> {
  const dir = await mkdtemp(join(tmpdir(), "log-analytics-"));
  const cert = await makeSelfSignedCert(dir, "logs");
  const queries: LogQueryRequest[] = [];

  const reply = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      "Content-Type": "application/json; charset=utf-8",
      "Content-Length": Buffer.byteLength(text),
      "x-ms-request-id": randomUUID(),
    });
    res.end(text);
  };
  const error = (code: string, message: string, inner?: object) => ({
    error: { code, message, ...(inner ? { innererror: inner } : {}) },
  });

  const server: Server = createServer(
    { key: await readFile(cert.keyPath), cert: cert.certPem },
    (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const url = new URL(req.url ?? "/", "https://127.0.0.1");
        const m = /^\/v1\/workspaces\/([^/]+)\/query$/.exec(url.pathname);
        if (req.method !== "POST" || !m) {
          reply(res, 404, error("PathNotFoundError", `The requested path does not exist: ${url.pathname}`));
          return;
        }
        const workspaceId = decodeURIComponent(m[1] as string);
        let body: { query?: unknown; timespan?: unknown };
        try {
          body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        } catch {
          reply(res, 400, error("BadArgumentError", "The request had some invalid properties"));
          return;
        }
        const query = typeof body.query === "string" ? body.query : "";
        const timespan = typeof body.timespan === "string" ? body.timespan : undefined;
        const authorization = req.headers.authorization;
        queries.push({
          workspaceId,
          query,
          ...(timespan ? { timespan } : {}),
          ...(authorization ? { authorization } : {}),
          closed: new Promise((resolve) => res.on("close", () => resolve())),
        });
        const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? "")?.[1];
        if (!bearer || (options.token !== undefined && bearer !== options.token)) {
          reply(
            res,
            401,
            error("InvalidTokenError", "The provided authentication is not valid for this resource"),
          );
          return;
        }
        if (options.failWith) {
          reply(
            res,
            options.failWith,
            error(
              options.failWith === 403 ? "InsufficientAccessError" : "ServiceError",
              options.failWith === 403
                ? "The provided credentials have insufficient access to perform the requested operation"
                : "Injected failure",
            ),
          );
          return;
        }
        const workspace = workspaces[workspaceId];
        if (!workspace) {
          reply(res, 404, error("WorkspaceNotFoundError", `Workspace ${workspaceId} not found`));
          return;
        }
        if (workspace.hang) return;
        const table = /^\s*([A-Za-z_][A-Za-z0-9_]*)/.exec(query)?.[1];
        if (!table || !workspace.tables.includes(table)) {
          // The service's answer when a query names a table the workspace does not have.
          reply(
            res,
            400,
            error("BadArgumentError", "The request had some invalid properties", {
              code: "SemanticError",
              message: "A semantic error occurred.",
              innererror: {
                code: "SEM0100",
                message: `'where' operator: Failed to resolve table or column expression named '${table ?? ""}'`,
              },
            }),
          );
          return;
        }
        const answer = workspace.answer?.(query, timespan) ?? { columns: [], rows: [] };
        reply(res, 200, { tables: [{ name: "PrimaryResult", columns: answer.columns, rows: answer.rows }] });
      });
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    endpoint: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    caCertPem: cert.certPem,
    caCertPath: cert.certPath,
    queries,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

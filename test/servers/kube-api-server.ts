/**
 * A small, read-only Kubernetes API server for tests: it serves the workload lists image scanning
 * reads (core/v1, apps/v1, batch/v1), legacy discovery and /version, with bearer-token auth and
 * limit/continue pagination, in the JSON shapes the real API server answers with — so both
 * `@kubernetes/client-node` and `kubectl` can talk to it.
 *
 * It listens twice on 127.0.0.1: plain HTTP (`url`) and HTTPS with a self-signed certificate
 * (`httpsUrl`, `caPem`). kubeconfig() points at HTTPS by default because kubectl/client-go never
 * sends a bearer token to an http:// server (kubernetes/kubectl#744).
 *
 * Deliberately like a real server:
 * - list items carry no `apiVersion`/`kind` (the list has them); items are ordered by
 *   namespace/name, as etcd keys are;
 * - `continue` is an opaque base64 token; pages may hold fewer items than `limit` (`pageSize`);
 *   `remainingItemCount` is set on non-final pages; an unparsable token is a 400;
 * - failures are `Status` objects with the real messages and reasons;
 * - GET (and HEAD) everywhere; PATCH of one StatefulSet or Deployment with a JSON patch
 *   (`application/json-patch+json`, what @kubernetes/client-node sends by default) or a merge patch,
 *   `dryRun=All` honoured; a spec change bumps `generation` and the status rolls until the test's
 *   `onPatch` hook settles (at once without one); anything else is 405;
 * - equality `labelSelector`s on lists; pods/exec over WebSocket through the test's `exec` handler.
 * Not served: watch, Table output (a plain list is returned even when `as=Table` is asked for;
 * kubectl then prints NAME/AGE columns itself), OpenAPI (404), protobuf, field selectors (ignored).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { stringify } from "yaml";
import { makeSelfSignedCert } from "../harness/tls.js";
import {
  apiGroupDoc,
  apiGroupList,
  apiResourceList,
  apiVersions,
  type FixtureKey,
  findResource,
  groupVersion,
  RESOURCES,
  type ResourceInfo,
  versionInfo,
} from "./kube/discovery.js";
import { type ExecHandler, execUpgrader } from "./kube/exec.js";
import { applyJsonPatch, PatchError } from "./kube/json-patch.js";
import {
  type K8sObject,
  k8sTime,
  namespace as namespaceObject,
  newResourceVersion,
  revisionHash,
} from "./kube/objects.js";
import { FORBIDDEN_USER, failure, listFailure, PATH_NOT_FOUND, UNAUTHORIZED } from "./kube/status.js";

export type { ExecHandler, ExecResult } from "./kube/exec.js";

export {
  type ContainerInput,
  cronJob,
  daemonSet,
  deployment,
  job,
  type K8sObject,
  type MetaInput,
  namespace,
  type PodInput,
  pod,
  replicaSet,
  replicationController,
  statefulSet,
  type WorkloadInput,
} from "./kube/objects.js";
export { FORBIDDEN_USER } from "./kube/status.js";

/** What the cluster holds. Objects are copied; missing uid/resourceVersion/creationTimestamp are filled in. */
export interface KubeFixture {
  pods?: object[];
  deployments?: object[];
  replicaSets?: object[];
  statefulSets?: object[];
  daemonSets?: object[];
  jobs?: object[];
  cronJobs?: object[];
  replicationControllers?: object[];
}

/** URL plural of a served resource, e.g. "pods", "cronjobs", "namespaces". */
export type ResourceName =
  | "namespaces"
  | "pods"
  | "replicationcontrollers"
  | "deployments"
  | "replicasets"
  | "statefulsets"
  | "daemonsets"
  | "jobs"
  | "cronjobs";

export interface KubeApiServerOptions {
  /** The bearer token it accepts; default a random one (e.g. set the Entra token an AKS test hands out). */
  token?: string;
  /** Server-side cap on items per page (applies with or without ?limit); default: honour ?limit only. */
  pageSize?: number;
  /**
   * Answer lists with this HTTP status and a matching Status body (e.g. 403, 500): a number fails every
   * list (namespaced or not, namespaces included); a map fails only the resources it names.
   * Discovery, /version and single-object GETs still answer.
   */
  failWith?: number | Partial<Record<ResourceName, number>>;
  /**
   * Accept every request and never answer it (logged, then held open until stop()): an API server
   * behind a stuck load balancer, for timeout and cancellation tests.
   */
  hang?: boolean;
  /**
   * Called after a PATCH changed a StatefulSet's or Deployment's spec (the new object, generation
   * bumped); the workload's status says it is rolling until the returned promise resolves, then
   * ready. Without it the rollout completes at once. A rejection leaves it rolling.
   */
  onPatch?: (change: {
    resource: "statefulsets" | "deployments";
    namespace: string;
    name: string;
    object: K8sObject;
  }) => Promise<void> | void;
  /** Runs pods/exec commands; without it exec is 404. */
  exec?: ExecHandler;
  /** RBAC denials, as "verb resource": "get statefulsets", "patch deployments", "list pods", "create pods/exec". */
  forbid?: string[];
}

export interface LoggedRequest {
  method: string;
  /** Path without the query string, e.g. /api/v1/pods */
  path: string;
  query: Record<string, string>;
}

export interface KubeApiServer {
  /** http://127.0.0.1:PORT — plain HTTP, for raw requests and @kubernetes/client-node. */
  url: string;
  /** https://127.0.0.1:PORT2 — the same API over TLS (a different port); what kubeconfig() points at. */
  httpsUrl: string;
  /** PEM of the self-signed certificate httpsUrl serves (valid for 127.0.0.1 and localhost). */
  caPem: string;
  /** The only bearer token accepted; anything else gets a 401 Status. */
  token: string;
  /** Every request received, in order (including refused ones). */
  requests: LoggedRequest[];
  /** The stored object as a GET would return it, or undefined. */
  object(resource: ResourceName, namespace: string, name: string): K8sObject | undefined;
  /**
   * Kubeconfig YAML with one cluster, user (token auth) and context, current-context set.
   * Default: the HTTPS endpoint with `certificate-authority-data` — kubectl (client-go) sends tokens
   * only over TLS (kubernetes/kubectl#744), so a plain-HTTP kubeconfig gets kubectl nothing but 401s.
   * `plainHttp: true` points at `url` instead, with `insecure-skip-tls-verify: true`, without which
   * @kubernetes/client-node refuses http:// servers ("HTTP protocol is not allowed…").
   */
  kubeconfig(opts?: {
    contextName?: string;
    namespace?: string;
    token?: string;
    plainHttp?: boolean;
  }): string;
  stop(): Promise<void>;
}

interface Stored {
  /** etcd-style key under the resource prefix: "<ns>/<name>" or "<name>". */
  key: string;
  namespace: string | undefined;
  name: string;
  /** The object as a list item: no apiVersion/kind. */
  item: K8sObject;
}

const PATCHABLE = new Set(["statefulsets", "deployments"]);

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

const CONTINUE_VERSION = "meta.k8s.io/v1";

export async function startKubeApiServer(
  fixture: KubeFixture,
  opts: KubeApiServerOptions = {},
): Promise<KubeApiServer> {
  const token = opts.token ?? randomBytes(24).toString("base64url");
  const requests: LoggedRequest[] = [];
  const store = buildStore(fixture);
  const listResourceVersion = newResourceVersion();

  const failStatus = (resource: ResourceInfo): number | undefined => {
    const f = opts.failWith;
    if (f === undefined) return undefined;
    return typeof f === "number" ? f : f[resource.name as ResourceName];
  };

  const list = (resource: ResourceInfo, ns: string | undefined, query: URLSearchParams): Reply => {
    const failCode = failStatus(resource);
    if (failCode !== undefined) {
      return { status: failCode, body: listFailure(failCode, resource.group, resource.name, ns) };
    }
    let items = store.get(resource.name) ?? [];
    if (ns !== undefined) items = items.filter((s) => s.namespace === ns);
    const selector = query.get("labelSelector");
    if (selector) {
      const wanted = selector
        .split(",")
        .map((term) => term.split("=").map((t) => t.trim()) as [string, string]);
      items = items.filter((s) => {
        const labels = (s.item.metadata.labels ?? {}) as Record<string, string>;
        return wanted.every(([k, v]) => labels[k] === v);
      });
    }

    const token = query.get("continue");
    let start = "";
    if (token) {
      const decoded = decodeContinue(token);
      if (decoded === undefined) {
        return { status: 400, body: failure(400, `continue key is not valid: ${decodeError(token)}`) };
      }
      start = decoded.start;
    }
    const rest = items.filter((s) => s.key >= start);

    const limitParam = Number.parseInt(query.get("limit") ?? "", 10);
    let size = Number.isFinite(limitParam) && limitParam > 0 ? limitParam : Number.POSITIVE_INFINITY;
    if (opts.pageSize !== undefined && opts.pageSize > 0) size = Math.min(size, opts.pageSize);
    const page = rest.slice(0, size);
    const remaining = rest.length - page.length;

    const metadata: Record<string, unknown> = { resourceVersion: listResourceVersion };
    const last = page.at(-1);
    if (remaining > 0 && last) {
      metadata.continue = encodeContinue(Number(listResourceVersion), `${last.key}\u0000`);
      metadata.remainingItemCount = remaining;
    }
    return {
      status: 200,
      body: {
        kind: `${resource.kind}List`,
        apiVersion: groupVersion(resource.group, resource.version),
        metadata,
        items: page.map((s) => structuredClone(s.item)),
      },
    };
  };

  const get = (resource: ResourceInfo, ns: string | undefined, name: string): Reply => {
    const found = (store.get(resource.name) ?? []).find((s) => s.namespace === ns && s.name === name);
    if (!found) {
      const qualified = resource.group === "" ? resource.name : `${resource.name}.${resource.group}`;
      const details = {
        name,
        ...(resource.group === "" ? {} : { group: resource.group }),
        kind: resource.name,
      };
      return { status: 404, body: failure(404, `${qualified} "${name}" not found`, details) };
    }
    const apiVersion = groupVersion(resource.group, resource.version);
    return { status: 200, body: { kind: resource.kind, apiVersion, ...structuredClone(found.item) } };
  };

  const forbidden = (
    verb: string,
    resource: ResourceInfo,
    ns: string | undefined,
    name?: string,
  ): Reply | undefined => {
    if (!opts.forbid?.includes(`${verb} ${resource.name}`)) return undefined;
    const qualified = resource.group === "" ? resource.name : `${resource.name}.${resource.group}`;
    const scope = ns === undefined ? "at the cluster scope" : `in the namespace "${ns}"`;
    const message = `${qualified}${name ? ` "${name}"` : ""} is forbidden: User "${FORBIDDEN_USER}" cannot ${verb} resource "${resource.name}" in API group "${resource.group}" ${scope}`;
    return {
      status: 403,
      body: failure(403, message, {
        ...(name ? { name } : {}),
        ...(resource.group ? { group: resource.group } : {}),
        kind: resource.name,
      }),
    };
  };

  const markReady = (stored: Stored) => {
    const item = stored.item as K8sObject & {
      spec: Record<string, unknown>;
      status: Record<string, unknown>;
    };
    const replicas = (item.spec.replicas as number | undefined) ?? 1;
    const status = item.status;
    Object.assign(status, {
      observedGeneration: item.metadata.generation,
      replicas,
      updatedReplicas: replicas,
      readyReplicas: replicas,
      availableReplicas: replicas,
    });
    if ("updateRevision" in status)
      Object.assign(status, { currentRevision: status.updateRevision, currentReplicas: replicas });
    item.metadata.resourceVersion = newResourceVersion();
  };

  const patch = (
    resource: ResourceInfo,
    ns: string,
    name: string,
    contentType: string,
    body: string,
    query: URLSearchParams,
  ): Reply => {
    const found = (store.get(resource.name) ?? []).find((s) => s.namespace === ns && s.name === name);
    const refused = forbidden("patch", resource, ns, name);
    if (refused) return refused;
    if (!found) return get(resource, ns, name);
    let next: K8sObject;
    try {
      const parsed = JSON.parse(body) as unknown;
      if (contentType.startsWith("application/json-patch+json")) next = applyJsonPatch(found.item, parsed);
      else if (contentType.startsWith("application/merge-patch+json"))
        next = mergePatch(found.item, parsed) as K8sObject;
      else {
        return {
          status: 415,
          body: failure(
            415,
            `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json`,
          ),
        };
      }
    } catch (error) {
      if (error instanceof PatchError || error instanceof SyntaxError)
        return { status: 422, body: failure(422, error.message) };
      throw error;
    }
    const apiVersion = groupVersion(resource.group, resource.version);
    const changed = JSON.stringify(next.spec) !== JSON.stringify(found.item.spec);
    if (changed) {
      const generation = ((found.item.metadata.generation as number | undefined) ?? 1) + 1;
      next.metadata.generation = generation;
      const status = next.status as Record<string, unknown>;
      delete status.updatedReplicas;
      if ("updateRevision" in status) status.updateRevision = `${name}-${revisionHash(generation)}`;
    }
    next.metadata.resourceVersion = newResourceVersion();
    if (query.get("dryRun") === "All")
      return { status: 200, body: { kind: resource.kind, apiVersion, ...next } };
    found.item = next;
    if (changed) {
      const generation = next.metadata.generation;
      const settle = async () => {
        await opts.onPatch?.({
          resource: resource.name as "statefulsets" | "deployments",
          namespace: ns,
          name,
          object: { kind: resource.kind, apiVersion, ...structuredClone(next) },
        });
        // A later patch started another rollout: this one no longer decides the status.
        if (found.item.metadata.generation === generation) markReady(found);
      };
      setImmediate(() => settle().catch(() => {}));
    }
    return { status: 200, body: { kind: resource.kind, apiVersion, ...structuredClone(next) } };
  };

  const route = (
    method: string,
    path: string,
    query: URLSearchParams,
    hostPort: string,
    contentType = "",
    body = "",
  ): Reply => {
    if (path === "/version") return { status: 200, body: versionInfo() };
    if (path === "/api") return { status: 200, body: apiVersions(hostPort) };
    if (path === "/apis") return { status: 200, body: apiGroupList() };

    const parts = path.split("/").filter((p) => p !== "");
    let group: string;
    let version: string;
    let rest: string[];
    if (parts[0] === "api" && parts[1] !== undefined) {
      [group, version, rest] = ["", parts[1], parts.slice(2)];
    } else if (parts[0] === "apis" && parts[1] !== undefined) {
      if (parts.length === 2) {
        const doc = apiGroupDoc(parts[1]);
        return doc ? { status: 200, body: doc } : { status: 404, body: PATH_NOT_FOUND };
      }
      [group, version, rest] = [parts[1], parts[2] ?? "", parts.slice(3)];
    } else {
      return { status: 404, body: PATH_NOT_FOUND };
    }

    if (rest.length === 0) {
      const doc = apiResourceList(group, version);
      return doc ? { status: 200, body: doc } : { status: 404, body: PATH_NOT_FOUND };
    }

    // [res] | [res, name] (cluster-scoped) | ["namespaces", ns, res] | ["namespaces", ns, res, name]
    let ns: string | undefined;
    let resourceName: string;
    let name: string | undefined;
    if (rest[0] === "namespaces" && rest.length >= 3) {
      [ns, resourceName, name] = [rest[1], rest[2] ?? "", rest[3]];
      if (rest.length > 4) return { status: 404, body: PATH_NOT_FOUND };
    } else {
      [resourceName, name] = [rest[0] ?? "", rest[1]];
      if (rest.length > 2) return { status: 404, body: PATH_NOT_FOUND };
    }
    const resource = findResource(group, version, resourceName);
    if (!resource) return { status: 404, body: PATH_NOT_FOUND };
    // A namespaced resource is listed cluster-wide at /{res} but fetched by name only inside a namespace;
    // a cluster-scoped one never appears under /namespaces/{ns}/.
    if (resource.namespaced ? ns === undefined && name !== undefined : ns !== undefined) {
      return { status: 404, body: PATH_NOT_FOUND };
    }
    if (method === "PATCH" && PATCHABLE.has(resource.name) && ns !== undefined && name !== undefined) {
      return patch(resource, ns, name, contentType, body, query);
    }
    if (method !== "GET" && method !== "HEAD") {
      return {
        status: 405,
        body: failure(405, "the server does not allow this method on the requested resource", {}),
        headers: { Allow: "GET, HEAD" },
      };
    }
    if (query.get("watch") === "true" || query.get("watch") === "1") {
      return { status: 405, body: failure(405, "this test server does not support watch", {}) };
    }
    const refused = forbidden(name === undefined ? "list" : "get", resource, ns, name);
    if (refused) return refused;
    return name === undefined ? list(resource, ns, query) : get(resource, ns, name);
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    const url = new URL(req.url ?? "/", "http://kube.invalid");
    const method = req.method ?? "GET";
    requests.push({ method, path: url.pathname, query: Object.fromEntries(url.searchParams) });
    if (opts.hang) return;

    let reply: Reply;
    if (req.headers.authorization !== `Bearer ${token}`) reply = { status: 401, body: UNAUTHORIZED };
    else
      reply = route(
        method,
        url.pathname,
        url.searchParams,
        `127.0.0.1:${req.socket.localPort}`,
        req.headers["content-type"] ?? "",
        body,
      );

    const payload = JSON.stringify(reply.body);
    res.writeHead(reply.status, {
      "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(payload),
      "Cache-Control": "no-cache, private",
      "X-Kubernetes-Pf-Flowschema-Uid": "00000000-0000-0000-0000-000000000000",
      ...reply.headers,
    });
    res.end(method === "HEAD" ? undefined : payload);
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      try {
        handle(req, res, Buffer.concat(chunks).toString("utf8"));
      } catch (error) {
        const body = JSON.stringify(failure(500, `test server bug: ${(error as Error).message}`));
        res.writeHead(500, { "Content-Type": "application/json" }).end(body);
      }
    });
  };
  const exec = opts.exec ? execUpgrader(opts.exec) : undefined;
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): undefined => {
    const url = new URL(req.url ?? "/", "http://kube.invalid");
    requests.push({
      method: req.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
    });
    const refuse = (code: number, body: unknown): undefined => {
      const payload = JSON.stringify(body);
      socket.end(
        `HTTP/1.1 ${code} ${code === 403 ? "Forbidden" : code === 401 ? "Unauthorized" : "Not Found"}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\nConnection: close\r\n\r\n${payload}`,
      );
    };
    if (opts.hang) return;
    if (req.headers.authorization !== `Bearer ${token}`) return refuse(401, UNAUTHORIZED);
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/.exec(url.pathname);
    if (!m || !exec) return refuse(404, PATH_NOT_FOUND);
    const [, ns = "", podName = ""] = m;
    if (opts.forbid?.includes("create pods/exec")) {
      return refuse(
        403,
        failure(
          403,
          `pods "${podName}" is forbidden: User "${FORBIDDEN_USER}" cannot create resource "pods/exec" in API group "" in the namespace "${ns}"`,
        ),
      );
    }
    if (!(store.get("pods") ?? []).some((s) => s.namespace === ns && s.name === podName)) {
      return refuse(404, failure(404, `pods "${podName}" not found`, { name: podName, kind: "pods" }));
    }
    exec.upgrade(req, socket, head, ns, podName, url.searchParams);
  };
  const tls = await serverCert();
  const plain = createServer(onRequest);
  const secure = createHttpsServer({ key: tls.keyPem, cert: tls.certPem }, onRequest);
  plain.on("upgrade", onUpgrade);
  secure.on("upgrade", onUpgrade);
  const url = `http://127.0.0.1:${await listen(plain)}`;
  const httpsPort = await listen(secure);
  const httpsUrl = `https://127.0.0.1:${httpsPort}`;

  return {
    url,
    httpsUrl,
    caPem: tls.certPem,
    token,
    requests,
    object(resource, ns, name) {
      const found = (store.get(resource) ?? []).find((s) => s.namespace === ns && s.name === name);
      const info = RESOURCES.find((r) => r.name === resource);
      if (!found || !info) return undefined;
      return {
        kind: info.kind,
        apiVersion: groupVersion(info.group, info.version),
        ...structuredClone(found.item),
      };
    },
    kubeconfig(k = {}) {
      const contextName = k.contextName ?? "regsweep-test";
      const clusterName = `kube-api-server-${httpsPort}`;
      const userName = `${contextName}-user`;
      const cluster = k.plainHttp
        ? { server: url, "insecure-skip-tls-verify": true }
        : { server: httpsUrl, "certificate-authority-data": Buffer.from(tls.certPem).toString("base64") };
      return stringify({
        apiVersion: "v1",
        kind: "Config",
        preferences: {},
        clusters: [{ name: clusterName, cluster }],
        users: [{ name: userName, user: { token: k.token ?? token } }],
        contexts: [
          {
            name: contextName,
            context: {
              cluster: clusterName,
              user: userName,
              ...(k.namespace ? { namespace: k.namespace } : {}),
            },
          },
        ],
        "current-context": contextName,
      });
    },
    async stop() {
      exec?.close();
      await Promise.all([close(plain), close(secure)]);
    },
  };
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    // Clients keep connections alive (undici, client-go); close() alone would wait for them.
    server.closeAllConnections();
  });
}

let certPromise: Promise<{ certPem: string; keyPem: string }> | undefined;

/** One self-signed certificate per process (openssl takes tens of milliseconds). */
function serverCert(): Promise<{ certPem: string; keyPem: string }> {
  certPromise ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "kube-api-server-"));
    try {
      const cert = await makeSelfSignedCert(dir, "kube-api-server");
      return { certPem: cert.certPem, keyPem: await readFile(cert.keyPath, "utf8") };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
  certPromise.catch(() => {
    certPromise = undefined;
  });
  return certPromise;
}

const FIXTURE_RESOURCE: Record<FixtureKey, string> = {
  pods: "pods",
  deployments: "deployments",
  replicaSets: "replicasets",
  statefulSets: "statefulsets",
  daemonSets: "daemonsets",
  jobs: "jobs",
  cronJobs: "cronjobs",
  replicationControllers: "replicationcontrollers",
};

/** resource plural → items sorted by etcd key; namespaces derived from every namespaced object. */
function buildStore(fixture: KubeFixture): Map<string, Stored[]> {
  const store = new Map<string, Stored[]>();
  const namespaces = new Set<string>();
  for (const [key, resource] of Object.entries(FIXTURE_RESOURCE) as [FixtureKey, string][]) {
    const stored = (fixture[key] ?? []).map((o, i) => {
      const item = structuredClone(o) as Partial<K8sObject>;
      delete item.apiVersion;
      delete item.kind;
      const metadata = (item.metadata ?? {}) as Record<string, unknown>;
      item.metadata = metadata;
      const name = typeof metadata.name === "string" ? metadata.name : `${resource}-${i}`;
      const ns = typeof metadata.namespace === "string" ? metadata.namespace : "default";
      Object.assign(metadata, {
        name,
        namespace: ns,
        uid: metadata.uid ?? randomUUID(),
        resourceVersion: metadata.resourceVersion ?? newResourceVersion(),
        creationTimestamp: metadata.creationTimestamp ?? k8sTime(),
      });
      namespaces.add(ns);
      return { key: `${ns}/${name}`, namespace: ns, name, item: item as K8sObject };
    });
    store.set(resource, sortByKey(stored));
  }
  const nsItems = [...namespaces].map((name) => {
    const { apiVersion: _a, kind: _k, ...item } = namespaceObject(name);
    return { key: name, namespace: undefined, name, item: item as K8sObject };
  });
  store.set("namespaces", sortByKey(nsItems));
  for (const r of RESOURCES) if (!store.has(r.name)) store.set(r.name, []);
  return store;
}

function sortByKey(items: Stored[]): Stored[] {
  return items.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** The same shape as the real token: base64 of {"v":"meta.k8s.io/v1","rv":N,"start":"<key>\u0000"}. */
function encodeContinue(rv: number, start: string): string {
  return Buffer.from(JSON.stringify({ v: CONTINUE_VERSION, rv, start })).toString("base64url");
}

function decodeContinue(token: string): { rv: number; start: string } | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as Record<string, unknown>;
    if (parsed.v !== CONTINUE_VERSION || typeof parsed.rv !== "number" || typeof parsed.start !== "string") {
      return undefined;
    }
    return { rv: parsed.rv, start: parsed.start };
  } catch {
    return undefined;
  }
}

function decodeError(token: string): string {
  try {
    JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    return "continue key is not in a supported format";
  } catch {
    return "illegal base64 data or invalid JSON";
  }
}

/** RFC 7386: objects merge, null removes, anything else replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target && typeof target === "object" && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

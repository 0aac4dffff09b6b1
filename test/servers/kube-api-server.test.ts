import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { promisify } from "node:util";
import {
  ApiException,
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  Exec,
  KubeConfig,
  type V1Status,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  cronJob,
  daemonSet,
  deployment,
  job,
  type KubeApiServer,
  type KubeFixture,
  pod,
  replicaSet,
  replicationController,
  startKubeApiServer,
  statefulSet,
} from "./kube-api-server.js";

const run = promisify(execFile);
const digest = (c: string) => `sha256:${c.repeat(64)}`;

const fixture: KubeFixture = {
  pods: [
    pod("team-b", "api-0", {
      containers: [
        {
          name: "api",
          image: "registry.example.com/api:2",
          imageID: `registry.example.com/api@${digest("b")}`,
        },
      ],
      initContainers: [
        {
          name: "migrate",
          image: "registry.example.com/migrate:2",
          imageID: `registry.example.com/migrate@${digest("c")}`,
        },
      ],
    }),
    pod("default", "web-2", {
      containers: [{ name: "web", image: "nginx:1.25", imageID: `docker-pullable://nginx@${digest("a")}` }],
      ephemeralContainers: [{ name: "debugger", image: "busybox", targetContainerName: "web" }],
    }),
    pod("default", "web-1", {
      containers: [{ name: "web", image: "nginx:1.25", imageID: `docker.io/library/nginx@${digest("a")}` }],
    }),
    pod("default", "pending-1", { containers: [{ name: "app", image: "registry.example.com/new:1" }] }),
    pod("kube-system", "coredns-1", {
      containers: [
        {
          name: "coredns",
          image: "registry.k8s.io/coredns/coredns:v1.11.1",
          imageID: `registry.k8s.io/coredns/coredns@${digest("d")}`,
        },
      ],
    }),
  ],
  deployments: [
    deployment("default", "web", { containers: [{ name: "web", image: "nginx:1.25" }], replicas: 2 }),
  ],
  replicaSets: [
    replicaSet("default", "web-7d4b9c", { containers: [{ name: "web", image: "nginx:1.25" }], replicas: 2 }),
    replicaSet("default", "web-5f6a1b", { containers: [{ name: "web", image: "nginx:1.24" }], replicas: 0 }),
  ],
  statefulSets: [
    statefulSet("team-b", "db", {
      containers: [{ name: "db", image: "postgres:16" }],
      initContainers: [{ name: "init", image: "busybox:1.36" }],
    }),
  ],
  daemonSets: [
    daemonSet("kube-system", "agent", {
      containers: [{ name: "agent", image: "registry.example.com/agent:5" }],
    }),
  ],
  jobs: [
    job("team-b", "backfill", { containers: [{ name: "run", image: "registry.example.com/backfill:1" }] }),
  ],
  cronJobs: [
    cronJob("team-b", "nightly", { containers: [{ name: "run", image: "registry.example.com/report:3" }] }),
  ],
  replicationControllers: [
    replicationController("legacy", "old", {
      containers: [{ name: "old", image: "registry.example.com/old:0.9" }],
    }),
  ],
};

function clientFor(server: KubeApiServer, opts?: Parameters<KubeApiServer["kubeconfig"]>[0]) {
  const kc = new KubeConfig();
  kc.loadFromString(server.kubeconfig(opts));
  return {
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    batch: kc.makeApiClient(BatchV1Api),
  };
}

async function apiError(promise: Promise<unknown>): Promise<ApiException<unknown>> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiException);
  return error as ApiException<unknown>;
}

const names = (list: { items: { metadata?: { name?: string } }[] }) =>
  list.items.map((i) => i.metadata?.name);

describe("kube-api-server with @kubernetes/client-node", () => {
  let server: KubeApiServer;
  beforeAll(async () => {
    server = await startKubeApiServer(fixture);
  });
  afterAll(() => server.stop());

  it("pages pods across namespaces with limit and an opaque continue token", async () => {
    const { core } = clientFor(server);
    const before = server.requests.length;
    const pages: (string | undefined)[][] = [];
    let next: string | undefined;
    do {
      const page = await core.listPodForAllNamespaces({ limit: 2, ...(next ? { _continue: next } : {}) });
      expect(page.kind).toBe("PodList");
      expect(page.apiVersion).toBe("v1");
      expect(page.metadata?.resourceVersion).toMatch(/^\d+$/);
      pages.push(names(page));
      // the client renames ListMeta.continue to _continue
      next = page.metadata?._continue;
      if (next) expect(page.metadata?.remainingItemCount).toBeGreaterThan(0);
    } while (next);
    // etcd key order: namespace, then name
    expect(pages).toEqual([["pending-1", "web-1"], ["web-2", "coredns-1"], ["api-0"]]);
    const listCalls = server.requests.slice(before).filter((r) => r.path === "/api/v1/pods");
    expect(listCalls.map((r) => r.query.limit)).toEqual(["2", "2", "2"]);
    expect(listCalls[0]?.query.continue).toBeUndefined();
    expect(listCalls[1]?.query.continue).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it("returns pods with spec images and runtime imageIDs, items without kind/apiVersion", async () => {
    const { core } = clientFor(server);
    const list = await core.listNamespacedPod({ namespace: "default" });
    expect(names(list)).toEqual(["pending-1", "web-1", "web-2"]);
    const [pending, web1, web2] = list.items;
    expect(web1?.kind).toBeUndefined();
    expect(web1?.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(web1?.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(web1?.status?.phase).toBe("Running");
    expect(web1?.status?.containerStatuses?.[0]).toMatchObject({
      name: "web",
      image: "nginx:1.25",
      imageID: `docker.io/library/nginx@${digest("a")}`,
    });
    expect(pending?.status?.phase).toBe("Pending");
    expect(pending?.status?.containerStatuses?.[0]?.imageID).toBe("");
    expect(web2?.spec?.ephemeralContainers?.[0]).toMatchObject({ name: "debugger", image: "busybox" });
    expect(web2?.status?.ephemeralContainerStatuses?.[0]?.name).toBe("debugger");

    const teamB = await core.listNamespacedPod({ namespace: "team-b" });
    expect(teamB.items[0]?.spec?.initContainers?.[0]?.image).toBe("registry.example.com/migrate:2");
    expect(teamB.items[0]?.status?.initContainerStatuses?.[0]?.imageID).toBe(
      `registry.example.com/migrate@${digest("c")}`,
    );
    expect((await core.listNamespacedPod({ namespace: "nowhere" })).items).toEqual([]);
  });

  it("lists every workload kind through CoreV1Api, AppsV1Api and BatchV1Api", async () => {
    const { core, apps, batch } = clientFor(server);
    const rcs = await core.listReplicationControllerForAllNamespaces({});
    expect(rcs.kind).toBe("ReplicationControllerList");
    expect(rcs.items[0]?.spec?.template?.spec?.containers[0]?.image).toBe("registry.example.com/old:0.9");

    const deploys = await apps.listDeploymentForAllNamespaces({ limit: 10 });
    expect(deploys.apiVersion).toBe("apps/v1");
    expect(deploys.items[0]?.spec?.template.spec?.containers[0]?.image).toBe("nginx:1.25");
    const rss = await apps.listReplicaSetForAllNamespaces({});
    expect(rss.items.map((r) => [r.metadata?.name, r.spec?.replicas])).toEqual([
      ["web-5f6a1b", 0],
      ["web-7d4b9c", 2],
    ]);
    const sts = await apps.listStatefulSetForAllNamespaces({});
    expect(sts.items[0]?.spec?.template.spec?.initContainers?.[0]?.image).toBe("busybox:1.36");
    const ds = await apps.listNamespacedDaemonSet({ namespace: "kube-system" });
    expect(names(ds)).toEqual(["agent"]);

    const jobs = await batch.listJobForAllNamespaces({});
    expect(jobs.kind).toBe("JobList");
    expect(jobs.items[0]?.spec?.template.spec?.containers[0]?.image).toBe("registry.example.com/backfill:1");
    const cjs = await batch.listCronJobForAllNamespaces({ limit: 1 });
    expect(cjs.items[0]?.spec?.jobTemplate.spec?.template.spec?.containers[0]?.image).toBe(
      "registry.example.com/report:3",
    );
    expect(cjs.metadata?._continue).toBeUndefined();

    const nss = await core.listNamespace({});
    expect(nss.kind).toBe("NamespaceList");
    expect(names(nss)).toEqual(["default", "kube-system", "legacy", "team-b"]);
    expect(nss.items[0]?.status?.phase).toBe("Active");
  });

  it("works over plain HTTP too (the client insists on insecure-skip-tls-verify for http://)", async () => {
    const { apps } = clientFor(server, { plainHttp: true });
    expect(names(await apps.listDeploymentForAllNamespaces({}))).toEqual(["web"]);
    const kc = new KubeConfig();
    kc.loadFromString(server.kubeconfig({ plainHttp: true }).replace("insecure-skip-tls-verify: true", ""));
    const error = await kc
      .makeApiClient(CoreV1Api)
      .listPodForAllNamespaces({})
      .catch((e: Error) => e);
    expect(String(error)).toMatch(/HTTP protocol is not allowed/);
  });

  it("refuses a wrong token with 401 (the client drops the body of a 401)", async () => {
    const { core } = clientFor(server, { token: "not-the-token" });
    const error = await apiError(core.listPodForAllNamespaces({}));
    expect(error.code).toBe(401);
    expect(error.body).toBeUndefined();

    const raw = await fetch(`${server.url}/api/v1/pods`);
    expect(raw.status).toBe(401);
    expect(await raw.json()).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "Unauthorized",
      reason: "Unauthorized",
      code: 401,
    });
  });

  it("answers unknown paths, bad continue tokens and writes with Status objects", async () => {
    const get = (path: string, init: RequestInit = {}) =>
      fetch(`${server.url}${path}`, { ...init, headers: { Authorization: `Bearer ${server.token}` } });
    const notFound = await get("/apis/networking.k8s.io/v1/ingresses");
    expect(notFound.status).toBe(404);
    expect(await notFound.json()).toMatchObject({ kind: "Status", reason: "NotFound", code: 404 });
    const missing = await get("/apis/apps/v1/namespaces/default/deployments/nope");
    expect(await missing.json()).toMatchObject({ message: 'deployments.apps "nope" not found', code: 404 });
    const badContinue = await get("/api/v1/pods?limit=1&continue=garbage");
    expect(badContinue.status).toBe(400);
    expect(await badContinue.json()).toMatchObject({ reason: "BadRequest" });
    const del = await get("/api/v1/namespaces/default/pods/web-1", { method: "DELETE" });
    expect(del.status).toBe(405);

    const resources = (await (await get("/apis/batch/v1")).json()) as {
      groupVersion: string;
      resources: object[];
    };
    expect(resources.groupVersion).toBe("batch/v1");
    expect(resources.resources).toContainEqual(
      expect.objectContaining({
        name: "cronjobs",
        singularName: "cronjob",
        kind: "CronJob",
        namespaced: true,
        shortNames: ["cj"],
      }),
    );
    const single = (await (await get("/api/v1/namespaces/default/pods/web-1")).json()) as Record<
      string,
      unknown
    >;
    expect(single).toMatchObject({ kind: "Pod", apiVersion: "v1", metadata: { name: "web-1" } });
  });
});

describe("kube-api-server options", () => {
  it("caps pages at pageSize even when the client asks for more", async () => {
    const server = await startKubeApiServer(fixture, { pageSize: 2 });
    try {
      const { core } = clientFor(server);
      const seen: (string | undefined)[] = [];
      let next: string | undefined;
      do {
        const page = await core.listPodForAllNamespaces({ limit: 500, ...(next ? { _continue: next } : {}) });
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...names(page));
        next = page.metadata?._continue;
      } while (next);
      expect(seen).toEqual(["pending-1", "web-1", "web-2", "coredns-1", "api-0"]);
      expect(server.requests.filter((r) => r.path === "/api/v1/pods")).toHaveLength(3);
    } finally {
      await server.stop();
    }
  });

  it("fails every list with failWith, as a Status the client hands over as raw JSON text", async () => {
    const server = await startKubeApiServer(fixture, { failWith: 403 });
    try {
      const { core, apps } = clientFor(server);
      const error = await apiError(apps.listNamespacedDeployment({ namespace: "default" }));
      expect(error.code).toBe(403);
      expect(typeof error.body).toBe("string");
      expect(JSON.parse(error.body as string)).toMatchObject({
        kind: "Status",
        reason: "Forbidden",
        code: 403,
        message: expect.stringContaining(
          'cannot list resource "deployments" in API group "apps" in the namespace "default"',
        ),
      });
      expect((await apiError(core.listNamespace({}))).code).toBe(403);
    } finally {
      await server.stop();
    }
  });

  it("fails only the named resources when failWith is a map", async () => {
    const server = await startKubeApiServer(fixture, { failWith: { cronjobs: 500 } });
    try {
      const { core, batch } = clientFor(server);
      expect((await apiError(batch.listCronJobForAllNamespaces({}))).code).toBe(500);
      expect(names(await batch.listJobForAllNamespaces({}))).toEqual(["backfill"]);
      expect((await core.listPodForAllNamespaces({})).items).toHaveLength(5);
    } finally {
      await server.stop();
    }
  });
});

describe("kube-api-server with kubectl", () => {
  let server: KubeApiServer;
  let dir: string;
  let kubeconfig: string;
  const kubectl = (...args: string[]) =>
    run("kubectl", ["--kubeconfig", kubeconfig, "--cache-dir", join(dir, "cache"), ...args], {
      env: { ...process.env, HOME: dir },
      timeout: 20_000,
    });

  beforeAll(async () => {
    server = await startKubeApiServer(fixture);
    dir = await mkdtemp(join(tmpdir(), "kubectl-"));
    kubeconfig = join(dir, "config");
    await writeFile(kubeconfig, server.kubeconfig({ contextName: "test-cluster" }));
  });
  afterAll(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("get pods -A -o json", async () => {
    const { stdout } = await kubectl("get", "pods", "-A", "-o", "json");
    const list = JSON.parse(stdout) as { items: { kind: string; metadata: { name: string } }[] };
    expect(list.items.map((p) => p.metadata.name)).toEqual([
      "pending-1",
      "web-1",
      "web-2",
      "coredns-1",
      "api-0",
    ]);
    // kubectl puts back the kind the server leaves off list items
    expect(list.items[0]?.kind).toBe("Pod");
    const paths = server.requests.map((r) => r.path);
    expect(paths).toEqual(
      expect.arrayContaining(["/api", "/apis", "/api/v1", "/apis/apps/v1", "/apis/batch/v1"]),
    );
    expect(server.requests.filter((r) => r.path === "/api/v1/pods").at(-1)?.query.limit).toBe("500");
  });

  it("get pods -A as a table (the server answers a plain list; kubectl prints NAME/AGE)", async () => {
    const { stdout } = await kubectl("get", "pods", "-A");
    expect(stdout).toMatch(/^NAMESPACE\s+NAME\s+AGE/);
    for (const name of ["pending-1", "web-1", "web-2", "coredns-1", "api-0"]) expect(stdout).toContain(name);
  });

  it("follows continue tokens with --chunk-size and reads every workload kind", async () => {
    const before = server.requests.length;
    const { stdout } = await kubectl("get", "pods", "-A", "--chunk-size=2", "-o", "name");
    expect(stdout.trim().split("\n")).toHaveLength(5);
    expect(server.requests.slice(before).filter((r) => r.path === "/api/v1/pods")).toHaveLength(3);

    const all = await kubectl("get", "deploy,rs,sts,ds,job,cj,rc", "-A", "-o", "name");
    expect(all.stdout.trim().split("\n").sort()).toEqual([
      "cronjob.batch/nightly",
      "daemonset.apps/agent",
      "deployment.apps/web",
      "job.batch/backfill",
      "replicaset.apps/web-5f6a1b",
      "replicaset.apps/web-7d4b9c",
      "replicationcontroller/old",
      "statefulset.apps/db",
    ]);
  });

  it("uses the kubeconfig context's namespace", async () => {
    const config = join(dir, "team-b-config");
    await writeFile(config, server.kubeconfig({ contextName: "team-b", namespace: "team-b" }));
    const { stdout } = await run(
      "kubectl",
      ["--kubeconfig", config, "--cache-dir", join(dir, "cache"), "get", "pods", "-o", "name"],
      {
        env: { ...process.env, HOME: dir },
      },
    );
    expect(stdout.trim()).toBe("pod/api-0");
    expect(server.requests.at(-1)?.path).toBe("/api/v1/namespaces/team-b/pods");
  });

  it("reports a wrong token and a forbidden list as errors", async () => {
    const bad = join(dir, "bad-config");
    await writeFile(bad, server.kubeconfig({ token: "wrong" }));
    await expect(
      run("kubectl", ["--kubeconfig", bad, "--cache-dir", join(dir, "cache-bad"), "get", "pods", "-A"], {
        env: { ...process.env, HOME: dir },
      }),
    ).rejects.toMatchObject({
      stderr: expect.stringContaining("You must be logged in to the server"),
    });

    const forbidden = await startKubeApiServer(fixture, { failWith: { pods: 403 } });
    try {
      const config = join(dir, "forbidden-config");
      await writeFile(config, forbidden.kubeconfig());
      await expect(
        run("kubectl", ["--kubeconfig", config, "--cache-dir", join(dir, "cache-403"), "get", "pods", "-A"], {
          env: { ...process.env, HOME: dir },
        }),
      ).rejects.toMatchObject({
        stderr: expect.stringContaining('pods is forbidden: User "system:serviceaccount:regsweep:scanner"'),
      });
    } finally {
      await forbidden.stop();
    }
  });
});

describe("kube-api-server: patch, rollout status, selectors and exec", () => {
  const registryFixture = (): KubeFixture => ({
    statefulSets: [
      statefulSet("default", "reg", { containers: [{ name: "registry", image: "registry:2" }] }),
    ],
    deployments: [deployment("default", "web", { containers: [{ name: "web", image: "nginx:1.25" }] })],
    pods: [
      pod("default", "reg-0", {
        labels: { app: "reg" },
        containers: [{ name: "registry", image: "registry:2", imageID: `registry@${digest("e")}` }],
      }),
      pod("default", "web-1", {
        labels: { app: "web" },
        containers: [{ name: "web", image: "nginx:1.25", imageID: `nginx@${digest("a")}` }],
      }),
    ],
  });
  const clients = (server: KubeApiServer) => {
    const kc = new KubeConfig();
    kc.loadFromString(server.kubeconfig({ plainHttp: true }));
    return { kc, apps: kc.makeApiClient(AppsV1Api), core: kc.makeApiClient(CoreV1Api) };
  };
  const addEnv = [
    { op: "add", path: "/spec/template/spec/containers/0/env", value: [{ name: "A", value: "1" }] },
  ];

  it("a JSON patch (the client's default content type) bumps generation; the status rolls until onPatch settles", async () => {
    let settle = () => {};
    const seen: string[] = [];
    const server = await startKubeApiServer(registryFixture(), {
      onPatch: ({ resource, name, object }) => {
        seen.push(`${resource}/${name} generation ${(object.metadata as { generation: number }).generation}`);
        return new Promise<void>((r) => (settle = r));
      },
    });
    try {
      const { apps } = clients(server);
      const patched = await apps.patchNamespacedStatefulSet({
        name: "reg",
        namespace: "default",
        body: addEnv,
      });
      expect(patched.metadata?.generation).toBe(2);
      expect(patched.spec?.template.spec?.containers[0]?.env).toEqual([{ name: "A", value: "1" }]);
      await vi.waitFor(() => expect(seen).toEqual(["statefulsets/reg generation 2"]));
      const rolling = await apps.readNamespacedStatefulSet({ name: "reg", namespace: "default" });
      expect(rolling.status?.observedGeneration).toBe(1);
      expect(rolling.status?.updateRevision).not.toBe(rolling.status?.currentRevision);
      settle();
      await vi.waitFor(async () => {
        const ready = await apps.readNamespacedStatefulSet({ name: "reg", namespace: "default" });
        expect(ready.status).toMatchObject({ observedGeneration: 2, updatedReplicas: 1, readyReplicas: 1 });
        expect(ready.status?.currentRevision).toBe(ready.status?.updateRevision);
      });
      // A failing test op rejects the whole patch, as the API server does.
      const failed = await apps
        .patchNamespacedStatefulSet({
          name: "reg",
          namespace: "default",
          body: [{ op: "test", path: "/spec/template/spec/containers/0/name", value: "other" }],
        })
        .catch((e: ApiException<unknown>) => e);
      expect((failed as ApiException<unknown>).code).toBe(422);
    } finally {
      await server.stop();
    }
  });

  it("dryRun=All answers with the patched object and stores nothing; forbidden verbs are 403", async () => {
    const server = await startKubeApiServer(registryFixture(), { forbid: ["patch deployments"] });
    try {
      const { apps } = clients(server);
      const dry = await apps.patchNamespacedStatefulSet({
        name: "reg",
        namespace: "default",
        body: addEnv,
        dryRun: "All",
      });
      expect(dry.spec?.template.spec?.containers[0]?.env).toHaveLength(1);
      const stored = await apps.readNamespacedStatefulSet({ name: "reg", namespace: "default" });
      expect(stored.spec?.template.spec?.containers[0]?.env).toBeUndefined();
      expect(stored.metadata?.generation).toBe(1);
      const refused = await apps
        .patchNamespacedDeployment({ name: "web", namespace: "default", body: addEnv })
        .catch((e: ApiException<string>) => e);
      expect((refused as ApiException<string>).code).toBe(403);
      expect(String((refused as ApiException<string>).body)).toMatch(
        /cannot patch resource \\"deployments\\"/,
      );
    } finally {
      await server.stop();
    }
  });

  it("lists pods by an equality label selector", async () => {
    const server = await startKubeApiServer(registryFixture());
    try {
      const { core } = clients(server);
      const pods = await core.listNamespacedPod({ namespace: "default", labelSelector: "app=reg" });
      expect(pods.items.map((p) => p.metadata?.name)).toEqual(["reg-0"]);
    } finally {
      await server.stop();
    }
  });

  it("exec speaks the channel protocol: stdout, stderr and the exit status of the test's handler", async () => {
    const calls: string[][] = [];
    const server = await startKubeApiServer(registryFixture(), {
      exec: async (ns, podName, container, command) => {
        calls.push([ns, podName, container, ...command]);
        return { stdout: "out\n", stderr: "err\n", exitCode: 3 };
      },
    });
    try {
      const { kc } = clients(server);
      let stdout = "";
      let stderr = "";
      const sink = (append: (s: string) => void) =>
        new Writable({
          write(chunk: Buffer, _e, done) {
            append(chunk.toString());
            done();
          },
        });
      const status = await new Promise<V1Status>((resolve, reject) => {
        new Exec(kc)
          .exec(
            "default",
            "reg-0",
            "registry",
            ["registry", "garbage-collect", "/etc/docker/registry/config.yml"],
            sink((s) => (stdout += s)),
            sink((s) => (stderr += s)),
            null,
            false,
            resolve,
          )
          .catch(reject);
      });
      expect(calls).toEqual([
        ["default", "reg-0", "registry", "registry", "garbage-collect", "/etc/docker/registry/config.yml"],
      ]);
      expect({ stdout, stderr }).toEqual({ stdout: "out\n", stderr: "err\n" });
      expect(status).toMatchObject({
        status: "Failure",
        details: { causes: [{ reason: "ExitCode", message: "3" }] },
      });
      // A pod that does not exist is refused before the upgrade.
      await expect(
        new Exec(kc).exec("default", "nope", "c", ["true"], null, null, null, false),
      ).rejects.toBeDefined();
    } finally {
      await server.stop();
    }
  });
});

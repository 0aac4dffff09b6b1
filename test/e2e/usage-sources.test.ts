import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parse, stringify } from "yaml";
import {
  type BuiltManifest,
  buildImage,
  buildIndex,
  pushManifest,
} from "../../src/fixtures/image-factory.js";
import { type Plan, planSchema } from "../../src/plan/plan-schema.js";
import { connect, runCli, tempDir, uniqueRepo } from "../integration/helpers.js";
import { type ArmServer, startArmServer } from "../servers/arm/arm-server.js";
import {
  cronJob,
  deployment,
  type KubeApiServer,
  pod,
  replicaSet,
  startKubeApiServer,
} from "../servers/kube-api-server.js";

const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY);
const SUB = "00000000-0000-0000-0000-00000000aaaa";
const AZURE_TOKEN = "static-azure-token-for-tests";

/** Two kubeconfigs as one file with both contexts, as `az aks get-credentials` leaves it. */
function mergeKubeconfigs(...texts: string[]): string {
  const docs = texts.map((t) => parse(t) as Record<string, unknown[]>);
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: docs.flatMap((d) => d.clusters ?? []),
    users: docs.flatMap((d) => d.users ?? []),
    contexts: docs.flatMap((d) => d.contexts ?? []),
    "current-context": (parse(texts[0] ?? "") as Record<string, string>)["current-context"],
  });
}

describe("plan --config with every usage source (end to end)", () => {
  const url = inject("registryUrl");
  const host = inject("registryHost");
  const { registry } = connect(url);
  const p = uniqueRepo("usage");
  const img = (name: string, days = 100) => buildImage({ seed: `${p} ${name}`, created: ago(days) });
  const images: Record<string, BuiltManifest> = {};
  const used: [string, string][] = []; // [repo, name] that must stay
  const unused: [string, string][] = []; // [repo, name] that must go
  const ref = (repo: string, name: string) => `${host}/${p}/${repo}:${name}`;
  let prod: KubeApiServer;
  let staging: KubeApiServer;
  let aksCluster: KubeApiServer;
  let arm: ArmServer;
  let dir: string;

  beforeAll(async () => {
    const push = async (repo: string, name: string, keep: boolean, built = img(`${repo} ${name}`)) => {
      images[`${repo}:${name}`] = built;
      await pushManifest(registry, `${p}/${repo}`, built, [name]);
      (keep ? used : unused).push([repo, name]);
    };
    for (const [repo, name] of [
      ["k8s", "rollback"],
      ["k8s", "cron"],
      ["k8s", "staging-only"],
      ["web", "staging-slot"],
      ["web", "compose-db"],
      ["web", "sidecar"],
      ["web", "legacy"],
      ["web", "function"],
      ["apps", "inactive-revision"],
      ["apps", "job"],
      ["aci", "init"],
      ["aks", "aks-deploy"],
    ] as const) {
      await push(repo, name, true);
    }
    for (const [repo, name] of [
      ["k8s", "old"],
      ["web", "old"],
      ["apps", "old"],
      ["aci", "old"],
      ["aks", "old"],
    ] as const) {
      await push(repo, name, false);
    }
    const multi = buildIndex([img("k8s multi amd64"), img("k8s multi arm64")]);
    await push("k8s", "multi", true, multi);

    prod = await startKubeApiServer(
      {
        pods: [
          pod("kube-system", "coredns-1", {
            containers: [{ name: "coredns", image: "registry.k8s.io/coredns/coredns:v1.11.1" }],
          }),
          pod("payments", "api-1", {
            // containerd reports the platform child's digest, under an index tag it never names
            containers: [
              {
                name: "api",
                image: `${host}/${p}/k8s:latest-moved`,
                imageID: `${host}/${p}/k8s@${multi.children[1]?.digest}`,
              },
            ],
          }),
        ],
        replicaSets: [
          replicaSet("payments", "api-7d9f", {
            replicas: 0,
            containers: [{ name: "api", image: ref("k8s", "rollback") }],
          }),
        ],
        cronJobs: [cronJob("ops", "nightly", { containers: [{ name: "job", image: ref("k8s", "cron") }] })],
      },
      { pageSize: 1 },
    );
    staging = await startKubeApiServer({
      deployments: [
        deployment("web", "front", {
          replicas: 0,
          containers: [{ name: "front", image: ref("k8s", "staging-only") }],
        }),
      ],
    });
    aksCluster = await startKubeApiServer(
      {
        deployments: [
          deployment("default", "svc", { containers: [{ name: "svc", image: ref("aks", "aks-deploy") }] }),
        ],
      },
      { token: AZURE_TOKEN },
    );
    const compose = Buffer.from(
      `services:\n  app:\n    image: docker.io/library/nginx:1.27\n  db:\n    image: ${ref("web", "compose-db")}\n`,
    ).toString("base64");
    // The AKS credentials use kubelogin (exec); regsweep swaps in its own Entra token.
    const aksKubeconfig = parse(aksCluster.kubeconfig({ contextName: "aks-prod" })) as {
      users: { user: unknown }[];
    };
    for (const u of aksKubeconfig.users)
      u.user = {
        exec: {
          apiVersion: "client.authentication.k8s.io/v1beta1",
          command: "kubelogin",
          args: ["get-token"],
        },
      };
    arm = await startArmServer(
      {
        subscriptions: {
          [SUB]: {
            webApps: [
              {
                resourceGroup: "rg-web",
                name: "web1",
                kind: "app,linux,container",
                listSiteConfigNull: true,
                siteConfig: { linuxFxVersion: "DOCKER|docker.io/library/redis:7" },
                slots: [
                  { name: "staging", siteConfig: { linuxFxVersion: `DOCKER|${ref("web", "staging-slot")}` } },
                ],
              },
              { resourceGroup: "rg-web", name: "web2", siteConfig: { linuxFxVersion: `COMPOSE|${compose}` } },
              {
                resourceGroup: "rg-web",
                name: "web3",
                siteConfig: { linuxFxVersion: "sitecontainers" },
                siteContainers: [
                  { name: "main", image: "docker.io/library/nginx:1.27", isMain: true },
                  { name: "otel", image: ref("web", "sidecar") },
                ],
              },
              {
                resourceGroup: "rg-old",
                name: "legacy",
                kind: "app,linux,container",
                siteConfig: {},
                appSettings: { DOCKER_CUSTOM_IMAGE_NAME: `DOCKER|${ref("web", "legacy")}` },
              },
              {
                resourceGroup: "rg-fn",
                name: "fn1",
                kind: "functionapp,linux,container",
                siteConfig: { linuxFxVersion: `DOCKER|${ref("web", "function")}` },
              },
            ],
            containerApps: [
              {
                resourceGroup: "rg-apps",
                name: "orders",
                containers: [{ name: "orders", image: "docker.io/library/busybox:1" }],
                revisions: [
                  {
                    name: "orders--1",
                    active: false,
                    containers: [{ name: "orders", image: ref("apps", "inactive-revision") }],
                  },
                  {
                    name: "orders--2",
                    active: true,
                    containers: [{ name: "orders", image: "docker.io/library/busybox:1" }],
                  },
                ],
              },
            ],
            containerAppJobs: [
              {
                resourceGroup: "rg-apps",
                name: "reindex",
                containers: [{ name: "job", image: ref("apps", "job") }],
              },
            ],
            containerGroups: [
              {
                resourceGroup: "rg-aci",
                name: "batch",
                containers: [{ name: "main", image: "docker.io/library/alpine:3" }],
                initContainers: [{ name: "init", image: ref("aci", "init") }],
              },
            ],
            managedClusters: [
              {
                resourceGroup: "rg-aks",
                name: "aks-prod",
                kubeconfig: stringify(aksKubeconfig),
                aadProfile: { managed: true },
              },
            ],
          },
        },
      },
      { token: AZURE_TOKEN },
    );
    dir = await tempDir();
    await writeFile(
      join(dir, "kubeconfig"),
      mergeKubeconfigs(
        prod.kubeconfig({ contextName: "prod" }),
        staging.kubeconfig({ contextName: "staging" }),
      ),
    );
  });

  afterAll(async () => {
    await Promise.all([prod?.stop(), staging?.stop(), aksCluster?.stop(), arm?.stop()]);
  });

  const config = (extra: { usage?: unknown[] } = {}) => ({
    registry: { url },
    policy: { filters: [`${p}/.*:.*`], ago: "30d" },
    azure: { subscriptions: [SUB], resourceManagerEndpoint: arm.endpoint, caFile: arm.caCertPath },
    usage: extra.usage ?? [
      { type: "kubernetes", kubeconfig: join(dir, "kubeconfig"), contexts: ["prod", "staging"] },
      { type: "appservice" },
      { type: "containerapps" },
      { type: "containerinstances" },
      { type: "aks" },
    ],
    audit: { dir: join(dir, "audits") },
  });

  const plan = async (cfg: object, ...extra: string[]) => {
    const file = join(dir, `cfg-${Math.random().toString(36).slice(2)}.yaml`);
    await writeFile(file, stringify(cfg));
    // The AKS cluster accepts the token our Azure credential hands out, as Entra would make it.
    const res = await runCli(["plan", "--config", file, "--no-cache", "--format", "json", ...extra], {
      env: { REGSWEEP_AZURE_TOKEN: AZURE_TOKEN },
    });
    return { ...res, plan: res.code === 0 ? planSchema.parse(JSON.parse(res.stdout)) : undefined };
  };

  const reasonsOf = (plan: Plan, key: string) => {
    const digest = images[key]?.digest;
    return plan.keep.find((k) => k.digest === digest)?.reasons ?? [];
  };

  it("keeps every image some workload runs, could roll back to, or will start next, and says who uses it", async () => {
    // The AKS cluster's token is the one our credential returns for the AKS server app.
    const res = await plan(config());
    expect(res.stderr).not.toMatch(/regsweep:/);
    expect(res.code).toBe(0);
    const result = res.plan as Plan;
    const deleted = new Set(result.delete.map((d) => d.digest));
    for (const [repo, name] of unused)
      expect(deleted.has(images[`${repo}:${name}`]?.digest as never), `${repo}:${name} goes`).toBe(true);
    for (const [repo, name] of used)
      expect(deleted.has(images[`${repo}:${name}`]?.digest as never), `${repo}:${name} stays`).toBe(false);
    const sources = (key: string) =>
      reasonsOf(result, key)
        .map((r) => r.source ?? "")
        .join("\n");
    expect(sources("k8s:rollback")).toMatch(/^kubernetes prod\/payments\/replicaset\/api-7d9f/m);
    expect(sources("k8s:cron")).toMatch(/kubernetes prod\/ops\/cronjob\/nightly/);
    expect(sources("k8s:staging-only")).toMatch(/kubernetes staging\/web\/deployment\/front/);
    expect(reasonsOf(result, "k8s:multi").map((r) => r.rule)).toContain("index-of-in-use-child");
    expect(sources("web:staging-slot")).toMatch(
      new RegExp(`appservice ${SUB}/rg-web/web1 \\(slot staging\\)`),
    );
    expect(sources("web:compose-db")).toMatch(/appservice .*web2/);
    expect(sources("web:sidecar")).toMatch(/web3 sitecontainer otel/);
    expect(sources("web:legacy")).toMatch(/DOCKER_CUSTOM_IMAGE_NAME/);
    expect(sources("web:function")).toMatch(/fn1/);
    expect(sources("apps:inactive-revision")).toMatch(
      /containerapps .*orders \(revision orders--1, inactive\)/,
    );
    expect(sources("apps:job")).toMatch(/reindex \(job\)/);
    expect(sources("aci:init")).toMatch(/containerinstances .*batch init container init/);
    expect(sources("aks:aks-deploy")).toMatch(/^aks aks-prod\/default\/deployment\/svc/m);
    // Kubernetes lists were paged (the prod server returns one item per page).
    expect(prod.requests.some((r) => r.query.continue)).toBe(true);
  });

  it("the text plan lists old images still in use with who uses them", async () => {
    const res = await plan(
      config({ usage: [{ type: "kubernetes", kubeconfig: join(dir, "kubeconfig"), contexts: ["prod"] }] }),
    );
    expect(res.code).toBe(0);
    const text = await runCli([
      "plan",
      "--registry",
      url,
      "--filter",
      `${p}/k8s:.*`,
      "--ago",
      "30d",
      "--kubeconfig",
      join(dir, "kubeconfig"),
      "--context",
      "prod",
      "--no-cache",
      "--audit-dir",
      join(dir, "audits"),
    ]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/Old images still in use/);
    expect(text.stdout).toMatch(/rollback.*\n.*kubernetes prod\/payments\/replicaset\/api-7d9f/);
  });

  it("scan shows, per in-use digest, who uses it", async () => {
    const res = await runCli([
      "scan",
      "--registry",
      url,
      "--filter",
      `${p}/k8s:.*`,
      "--kubeconfig",
      join(dir, "kubeconfig"),
      "--context",
      "prod",
      "--context",
      "staging",
      "--no-cache",
      "--format",
      "json",
    ]);
    expect(res.code).toBe(0);
    const inUse = JSON.parse(res.stdout).inUse as { digest: string; usedBy: string[] }[];
    const usedBy = (key: string) => inUse.find((u) => u.digest === images[key]?.digest)?.usedBy ?? [];
    expect(usedBy("k8s:rollback")).toEqual(["kubernetes prod/payments/replicaset/api-7d9f (container api)"]);
    expect(usedBy("k8s:staging-only")[0]).toMatch(/^kubernetes staging\/web\/deployment\/front/);
    expect(usedBy("k8s:old")).toEqual([]);
  });

  it("scope used-repositories deletes only in repositories some source references", async () => {
    const unusedRepo = uniqueRepo("unused-repo");
    await pushManifest(registry, `${p}/${unusedRepo}`, img("nobody uses this repo"), ["x"]);
    const res = await plan({
      ...config({ usage: [{ type: "kubernetes", kubeconfig: join(dir, "kubeconfig"), contexts: ["prod"] }] }),
      policy: { filters: [`${p}/.*:.*`], ago: "30d", scope: "used-repositories" },
    });
    expect(res.code).toBe(0);
    const result = res.plan as Plan;
    expect(result.delete.some((d) => d.repository === `${p}/${unusedRepo}`)).toBe(false);
    expect(result.keep.find((k) => k.repository === `${p}/${unusedRepo}`)?.reasons[0]?.rule).toBe(
      "repository-not-used",
    );
    expect(result.delete.some((d) => d.digest === images["k8s:old"]?.digest)).toBe(true);
  });

  it("fails closed (exit 3) when any required source fails, naming it; optional sources only warn", async () => {
    const broken = await startKubeApiServer({}, { failWith: 403 });
    try {
      const kc = join(dir, "broken-kubeconfig");
      await writeFile(kc, broken.kubeconfig({ contextName: "broken" }));
      const failing = await plan(
        config({ usage: [{ type: "kubernetes", kubeconfig: kc }, { type: "containerinstances" }] }),
      );
      expect(failing.code).toBe(3);
      expect(failing.stderr).toMatch(/kubernetes broken.*403/s);
      expect(failing.stderr).toMatch(/Nothing was deleted/);

      const optional = await plan(
        config({
          usage: [{ type: "kubernetes", kubeconfig: kc, optional: true }, { type: "containerinstances" }],
        }),
      );
      expect(optional.code).toBe(0);
      expect(optional.stderr).toMatch(/optional usage source kubernetes .* failed/);
    } finally {
      await broken.stop();
    }
    const armDown = await startArmServer(
      { subscriptions: { [SUB]: {} } },
      { token: AZURE_TOKEN, failWith: { pathIncludes: "Microsoft.Web/sites", status: 403 } },
    );
    try {
      const res = await plan({
        ...config({ usage: [{ type: "appservice" }] }),
        azure: {
          subscriptions: [SUB],
          resourceManagerEndpoint: armDown.endpoint,
          caFile: armDown.caCertPath,
        },
      });
      expect(res.code).toBe(3);
      expect(res.stderr).toMatch(new RegExp(`appservice ${SUB}.*403.*Reader`, "s"));
    } finally {
      await armDown.stop();
    }
    const wrongToken = await runCli([
      "plan",
      "--registry",
      url,
      "--filter",
      `${p}/.*:.*`,
      "--kubeconfig",
      join(dir, "kubeconfig"),
      "--context",
      "nope",
      "--no-cache",
    ]);
    expect(wrongToken.code).toBe(3);
    expect(wrongToken.stderr).toMatch(/no context named 'nope'/);
  });

  it.each([
    ["appservice", "Microsoft.Web/sites"],
    ["containerapps", "Microsoft.App/"],
    ["containerinstances", "Microsoft.ContainerInstance"],
    ["aks", "Microsoft.ContainerService"],
  ])("fails closed when the %s source is refused (exit 3)", async (type, path) => {
    const down = await startArmServer(
      { subscriptions: { [SUB]: {} } },
      { token: AZURE_TOKEN, failWith: { pathIncludes: path, status: 403 } },
    );
    try {
      const res = await plan({
        ...config({ usage: [{ type }] }),
        azure: { subscriptions: [SUB], resourceManagerEndpoint: down.endpoint, caFile: down.caCertPath },
      });
      expect(res.code).toBe(3);
      expect(res.stderr).toMatch(new RegExp(`usage source ${type} ${SUB}.*403`, "s"));
    } finally {
      await down.stop();
    }
  });

  it("reports config errors with the key and the line (exit 2)", async () => {
    const file = join(dir, "bad.yaml");
    await writeFile(
      file,
      `registry:\n  url: ${url}\npolicy:\n  keep: three\nusage:\n  - type: kubernetes\n    contexts: prod\n`,
    );
    const res = await runCli(["plan", "--config", file, "--no-cache"]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/line 4: policy\.keep/);
    expect(res.stderr).toMatch(/line 7: usage\.0\.contexts/);
  });
});

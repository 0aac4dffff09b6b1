import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import { type BuiltManifest, buildImage, pushManifest } from "../../src/fixtures/image-factory.js";
import { type Plan, planSchema } from "../../src/plan/plan-schema.js";
import { freePort } from "../harness/free-port.js";
import { connect, runCli, tempDir, uniqueRepo } from "../integration/helpers.js";
import { type ArmManagedCluster, type ArmServer, startArmServer } from "../servers/arm/arm-server.js";
import { kubectlRunCommand } from "../servers/arm/kubectl-run-command.js";
import { deployment, type KubeApiServer, pod, startKubeApiServer } from "../servers/kube-api-server.js";

const DAY = 86_400_000;
const SUB = "00000000-0000-0000-0000-00000000bbbb";
const AZURE_TOKEN = "static-azure-token-for-run-command";

describe("aks access: run-command and auto (private clusters, end to end)", () => {
  const url = inject("registryUrl");
  const host = inject("registryHost");
  const { registry } = connect(url);
  const p = uniqueRepo("aks-rc");
  const images: Record<string, BuiltManifest> = {};
  const ref = (name: string) => `${host}/${p}/app:${name}`;
  let cluster: KubeApiServer;
  let forbidding: KubeApiServer;
  let dir: string;
  const servers: ArmServer[] = [];

  beforeAll(async () => {
    for (const name of ["private-deploy", "private-pod", "old"]) {
      images[name] = buildImage({ seed: `${p} ${name}`, created: new Date(Date.now() - 100 * DAY) });
      await pushManifest(registry, `${p}/app`, images[name] as BuiltManifest, [name]);
    }
    // The cluster accepts only the token our credential hands out for the AKS server app.
    cluster = await startKubeApiServer(
      {
        deployments: [
          deployment("shop", "api", { containers: [{ name: "api", image: ref("private-deploy") }] }),
        ],
        pods: [pod("batch", "worker-1", { containers: [{ name: "worker", image: ref("private-pod") }] })],
      },
      { token: AZURE_TOKEN },
    );
    forbidding = await startKubeApiServer({}, { token: AZURE_TOKEN, failWith: { pods: 403 } });
    dir = await tempDir();
    await writeFile(join(dir, "cluster.kubeconfig"), cluster.kubeconfig({ contextName: "inside" }));
    await writeFile(join(dir, "forbidding.kubeconfig"), forbidding.kubeconfig({ contextName: "inside" }));
  });

  afterAll(async () => {
    await Promise.all([cluster?.stop(), forbidding?.stop(), ...servers.map((s) => s.stop())]);
  });

  const arm = async (clusters: ArmManagedCluster[]) => {
    const server = await startArmServer(
      { subscriptions: { [SUB]: { managedClusters: clusters } } },
      { token: AZURE_TOKEN },
    );
    servers.push(server);
    return server;
  };

  const plan = async (server: ArmServer, aks: Record<string, unknown>) => {
    const file = join(dir, `cfg-${Math.random().toString(36).slice(2)}.yaml`);
    await writeFile(
      file,
      stringify({
        registry: { url },
        policy: { filters: [`${p}/.*:.*`], ago: "30d" },
        azure: { subscriptions: [SUB], resourceManagerEndpoint: server.endpoint, caFile: server.caCertPath },
        usage: [{ type: "aks", ...aks }],
        audit: { dir: join(dir, "audits") },
      }),
    );
    const res = await runCli(["plan", "--config", file, "--no-cache", "--format", "json"], {
      env: { REGSWEEP_AZURE_TOKEN: AZURE_TOKEN },
    });
    return { ...res, plan: res.code === 0 ? planSchema.parse(JSON.parse(res.stdout)) : undefined };
  };

  const sourcesOf = (plan: Plan, name: string) =>
    (plan.keep.find((k) => k.digest === images[name]?.digest)?.reasons ?? []).map((r) => r.source ?? "");
  const deletes = (plan: Plan, name: string) => plan.delete.some((d) => d.digest === images[name]?.digest);

  it("auto reads a private cluster through run-command, and protects what it runs", async () => {
    const server = await arm([
      {
        resourceGroup: "rg-private",
        name: "aks-private",
        kubeconfig: "not used: the API server is private",
        aadProfile: { managed: true },
        properties: {
          apiServerAccessProfile: { enablePrivateCluster: true },
          privateFQDN: "aks-private-abcd.privatelink.westeurope.azmk8s.io",
        },
        runCommand: kubectlRunCommand(join(dir, "cluster.kubeconfig")),
      },
    ]);
    const res = await plan(server, { access: "auto" });
    expect(res.stderr).not.toMatch(/regsweep:/);
    expect(res.code).toBe(0);
    const result = res.plan as Plan;
    expect(deletes(result, "private-deploy")).toBe(false);
    expect(deletes(result, "private-pod")).toBe(false);
    expect(deletes(result, "old")).toBe(true);
    expect(sourcesOf(result, "private-deploy")).toContain(
      "aks aks-private/shop/deployment/api (container api) (via run-command)",
    );
    expect(sourcesOf(result, "private-pod")[0]).toMatch(
      /^aks aks-private\/batch\/pod\/worker-1 .*via run-command/,
    );
    // A private API server is never tried; one small command per kind, each with the cluster token.
    expect(server.requests.some((r) => /listClusterUserCredential/i.test(r.path))).toBe(false);
    expect(server.runCommands.map((c) => c.command)).toEqual(
      expect.arrayContaining(["kubectl get pods -A -o json", "kubectl get cronjobs -A -o json"]),
    );
    expect(server.runCommands).toHaveLength(8);
    expect(server.runCommands.every((c) => c.clusterToken === AZURE_TOKEN)).toBe(true);
  });

  it("auto falls back to run-command when a public cluster's API server does not answer", async () => {
    const closed = await freePort();
    const unreachable = cluster
      .kubeconfig({ contextName: "outside" })
      .replace(/https:\/\/127\.0\.0\.1:\d+/, `https://127.0.0.1:${closed}`);
    const server = await arm([
      {
        resourceGroup: "rg-public",
        name: "aks-fenced",
        kubeconfig: unreachable,
        runCommand: kubectlRunCommand(join(dir, "cluster.kubeconfig")),
      },
    ]);
    const res = await plan(server, { access: "auto" });
    expect(res.code).toBe(0);
    expect(server.requests.some((r) => /listClusterUserCredential/i.test(r.path))).toBe(true);
    expect(sourcesOf(res.plan as Plan, "private-deploy")).toContain(
      "aks aks-fenced/shop/deployment/api (container api) (via run-command)",
    );
  });

  it("auto does not fall back when the API server refuses (403): it fails closed", async () => {
    const server = await arm([
      {
        resourceGroup: "rg-public",
        name: "aks-refusing",
        kubeconfig: forbidding.kubeconfig({ contextName: "aks-refusing" }),
        runCommand: kubectlRunCommand(join(dir, "cluster.kubeconfig")),
      },
    ]);
    const res = await plan(server, { access: "auto" });
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/aks-refusing.*403/s);
    expect(server.runCommands).toHaveLength(0);
  });

  it("fails closed (exit 3) when a run-command fails, naming the cluster and the command", async () => {
    const server = await arm([
      {
        resourceGroup: "rg-private",
        name: "aks-locked",
        kubeconfig: "unused",
        runCommand: kubectlRunCommand(join(dir, "forbidding.kubeconfig")),
      },
    ]);
    const res = await plan(server, { access: "run-command" });
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(
      /usage source aks aks-locked .*rg-private\/aks-locked.*kubectl get pods -A -o json.*exited 1/,
    );
    expect(res.stderr).toMatch(/Nothing was deleted/);
  });

  it("fails closed when run-command's output is cut short", async () => {
    const server = await arm([
      {
        resourceGroup: "rg-private",
        name: "aks-big",
        kubeconfig: "unused",
        runCommand: async (request) => {
          const whole = await kubectlRunCommand(join(dir, "cluster.kubeconfig"))(request);
          return { ...whole, logs: (whole.logs ?? "").slice(0, 40) };
        },
      },
    ]);
    const res = await plan(server, { access: "run-command" });
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/aks-big.*not whole JSON/s);
  });

  it("fails closed when the run-command operation itself fails (provisioningState Failed)", async () => {
    const server = await arm([
      {
        resourceGroup: "rg-private",
        name: "aks-stopped",
        kubeconfig: "unused",
        runCommand: () => ({ provisioningState: "Failed", reason: "the cluster is stopped" }),
      },
    ]);
    const res = await plan(server, { access: "run-command" });
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/aks-stopped.*ended Failed: the cluster is stopped/s);
  });
});

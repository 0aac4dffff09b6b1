import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { loadConfig } from "../../src/config/load-config.js";
import { tempDir } from "../integration/helpers.js";
import { unknownFlags } from "./cli-invocations.js";

const ROOT = resolve(import.meta.dirname, "../..");
const DEPLOY = join(ROOT, "deploy/kubernetes");

// biome-ignore lint/suspicious/noExplicitAny: rendered Kubernetes objects, each validated against its schema below
type K8sObject = Record<string, any>;

/** The objects `kubectl kustomize` renders (offline; kubectl 1.20's kustomize 2.0 and 1.3x's 5.x alike). */
async function render(dir: string): Promise<K8sObject[]> {
  const { stdout } = await promisify(execFile)(
    process.env.KUBECTL ?? "kubectl",
    ["kustomize", join(DEPLOY, dir)],
    {
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  return parseAllDocuments(stdout)
    .map((d) => d.toJSON() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

/** Validates an object against the Kubernetes OpenAPI schema of its kind (kubernetes-models). */
async function validate(object: K8sObject): Promise<void> {
  const module = (await import(`kubernetes-models/${object.apiVersion}/${object.kind}`)) as Record<
    string,
    new (
      data: K8sObject,
    ) => { validate(): void }
  >;
  const Model = module[object.kind as string];
  if (!Model) throw new Error(`no model for ${object.apiVersion} ${object.kind}`);
  new Model(object).validate();
}

const byKind = (objects: K8sObject[], kind: string) => {
  const found = objects.filter((o) => o.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0] as K8sObject;
};
const podOf = (cronJob: K8sObject) => cronJob.spec.jobTemplate.spec.template;
const containerOf = (cronJob: K8sObject) => podOf(cronJob).spec.containers[0];

async function configOf(objects: K8sObject[], cronJob: K8sObject) {
  const volume = podOf(cronJob).spec.volumes.find((v: K8sObject) => v.configMap);
  const map = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === volume.configMap.name);
  expect(map, "the ConfigMap the CronJob mounts").toBeDefined();
  const file = join(await tempDir("regsweep-k8s-"), "regsweep.yaml");
  await writeFile(file, map?.data["regsweep.yaml"]);
  return loadConfig(file);
}

describe("the schema check itself", () => {
  it("rejects an object that breaks its kind's schema", async () => {
    const bad = { apiVersion: "batch/v1", kind: "CronJob", metadata: { name: "x" }, spec: { schedule: 5 } };
    await expect(validate(bad)).rejects.toThrow();
  });
});

describe.each(["base", "overlays/in-cluster", "overlays/sharded"])("deploy/kubernetes/%s", (dir) => {
  it("renders offline, and every object is valid for its Kubernetes schema", async () => {
    const objects = await render(dir);
    expect(objects.map((o) => o.kind).sort()).toEqual([
      "ClusterRole",
      "ClusterRoleBinding",
      "ConfigMap",
      "CronJob",
      "Namespace",
      "PersistentVolumeClaim",
      "ServiceAccount",
    ]);
    for (const object of objects) await validate(object);
  });

  it("runs one cleanup at a time, with resource requests, the config and a data volume, and flags the CLI has", async () => {
    const objects = await render(dir);
    const cronJob = byKind(objects, "CronJob");
    expect(cronJob.spec.concurrencyPolicy).toBe("Forbid");
    const container = containerOf(cronJob);
    expect(container.resources.requests).toMatchObject({
      cpu: expect.any(String),
      memory: expect.any(String),
    });
    const args = container.args as string[];
    expect(
      await unknownFlags([
        { command: args[0] as string, flags: args.filter((a) => a.startsWith("-")), line: dir },
      ]),
    ).toEqual([]);
    // Journal, plans and audits, and the cache, live on the persistent volume.
    const claim = byKind(objects, "PersistentVolumeClaim").metadata.name;
    const dataVolume = podOf(cronJob).spec.volumes.find(
      (v: K8sObject) => v.persistentVolumeClaim?.claimName === claim,
    );
    const mount = container.volumeMounts.find((m: K8sObject) => m.name === dataVolume.name)
      .mountPath as string;
    expect(args[args.indexOf("--audit-dir") + 1]).toMatch(new RegExp(`^${mount}/`));
    expect(args[args.indexOf("--cache-dir") + 1]).toMatch(new RegExp(`^${mount}/`));
    const config = await configOf(objects, cronJob);
    expect(config.usage.length).toBeGreaterThan(0);
    expect(args[args.indexOf("--config") + 1]).toMatch(/\/regsweep\.yaml$/);
  });

  it("signs in with Azure workload identity through its service account", async () => {
    const objects = await render(dir);
    const account = byKind(objects, "ServiceAccount");
    expect(account.metadata.annotations["azure.workload.identity/client-id"]).toBeTruthy();
    const pod = podOf(byKind(objects, "CronJob"));
    expect(pod.spec.serviceAccountName).toBe(account.metadata.name);
    expect(pod.metadata.labels["azure.workload.identity/use"]).toBe("true");
    const binding = byKind(objects, "ClusterRoleBinding");
    expect(binding.subjects).toEqual([
      { kind: "ServiceAccount", name: account.metadata.name, namespace: account.metadata.namespace },
    ]);
    expect(binding.roleRef.name).toBe(byKind(objects, "ClusterRole").metadata.name);
  });
});

describe("the ClusterRole", () => {
  it("lists exactly the workload kinds the kubernetes source reads, and can do nothing else", async () => {
    const source = await readFile(join(ROOT, "src/usage/kubernetes-source.ts"), "utf8");
    const groups: Record<string, string> = { core: "", apps: "apps", batch: "batch" };
    const read = [...source.matchAll(/\b(core|apps|batch)\.list(\w+)ForAllNamespaces\(/g)].map(
      (m) => `${groups[m[1] as string]}/${(m[2] as string).toLowerCase()}s`,
    );
    expect(read.length).toBeGreaterThanOrEqual(8);
    const role = byKind(await render("base"), "ClusterRole");
    const granted = (role.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[]).flatMap(
      (r) => {
        expect(r.verbs).toEqual(["list"]);
        return r.apiGroups.flatMap((g) => r.resources.map((res) => `${g}/${res}`));
      },
    );
    expect(granted.sort()).toEqual([...new Set(read)].sort());
  });
});

describe("overlays", () => {
  it("in-cluster protects the cluster's own workloads through in-cluster config, with no kubeconfig", async () => {
    const objects = await render("overlays/in-cluster");
    const cronJob = byKind(objects, "CronJob");
    const config = await configOf(objects, cronJob);
    const kube = config.usage.filter((u) => u.type === "kubernetes");
    expect(kube).toHaveLength(1);
    expect(kube[0]).not.toHaveProperty("kubeconfig");
    expect(kube[0]).not.toHaveProperty("contexts");
    const container = containerOf(cronJob);
    expect((container.env ?? []).map((e: K8sObject) => e.name)).not.toContain("KUBECONFIG");
    expect(container.args).not.toContain("--kubeconfig");
    expect(podOf(cronJob).spec.automountServiceAccountToken).not.toBe(false);
  });

  it("sharded runs an Indexed Job whose pod I plans shard I of N, on a volume every pod can mount", async () => {
    const objects = await render("overlays/sharded");
    const cronJob = byKind(objects, "CronJob");
    const job = cronJob.spec.jobTemplate.spec;
    expect(job.completionMode).toBe("Indexed");
    expect(job.parallelism).toBe(job.completions);
    const args = containerOf(cronJob).args as string[];
    expect(args[args.indexOf("--shard") + 1]).toBe(`auto/${job.completions}`);
    // Each shard keeps its own cache (they write at once); the index comes from the pod's env.
    expect(args[args.indexOf("--cache-dir") + 1]).toContain("$(JOB_COMPLETION_INDEX)");
    expect(byKind(objects, "PersistentVolumeClaim").spec.accessModes).toEqual(["ReadWriteMany"]);
  });
});

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { openInClusterRegistry } from "../../src/apply/in-cluster-kube.js";
import { readJournal } from "../../src/apply/journal.js";
import { AbortedError } from "../../src/errors.js";
import { type BuiltManifest, buildImage, pushManifest } from "../../src/fixtures/image-factory.js";
import { apply } from "../../src/pipeline/apply.js";
import { openRegistry } from "../../src/pipeline/open-registry.js";
import { readPlan } from "../../src/pipeline/plan-file.js";
import { type RunningRegistry, startRegistry } from "../harness/registry-process.js";
import { connect, readAudits, runCli, tempDir, uniqueRepo } from "../integration/helpers.js";
import {
  type ExecResult,
  type K8sObject,
  type KubeApiServer,
  pod,
  startKubeApiServer,
  statefulSet,
} from "../servers/kube-api-server.js";

const run = promisify(execFile);
const BIN = resolve(import.meta.dirname, "../../bin/regsweep.js");
const VAR = "REGISTRY_STORAGE_DELETE_ENABLED";
const ago = (days: number) => new Date(Date.now() - days * 86_400_000);

interface Cluster {
  registry: RunningRegistry;
  kube: KubeApiServer;
  dir: string;
  config: string;
  planFile: string;
  audits: string;
  repo: string;
  images: BuiltManifest[];
  execs: { pod: string; container: string; command: string[] }[];
  patches: K8sObject[];
  /** What the next patch does before the rollout completes; default: restart the registry as patched. */
  onPatch: (object: K8sObject) => Promise<void>;
  /** The exec handler's answer; default: really run docker-registry garbage-collect. */
  gc: (command: string[]) => Promise<ExecResult>;
  envOf(): { name: string; value?: string }[] | undefined;
}

const envOfObject = (o: K8sObject | undefined) => {
  const spec = o?.spec as
    | { template: { spec: { containers: { env?: { name: string; value?: string }[] }[] } } }
    | undefined;
  return spec?.template.spec.containers[0]?.env;
};
const deleteSettingOf = (o: K8sObject) => envOfObject(o)?.find((e) => e.name === VAR)?.value;

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

/**
 * A real registry with deletes disabled, as an in-cluster one usually is, behind a fake StatefulSet
 * whose patches restart that registry with the patched REGISTRY_STORAGE_DELETE_ENABLED; exec runs
 * the real `docker-registry garbage-collect` on its storage.
 */
async function cluster(opts: { env?: { name: string; value: string }[]; forbid?: string[] } = {}) {
  const startsEnabled = opts.env?.some((e) => e.name === VAR && e.value === "true") ?? false;
  const registry = await startRegistry({ deleteEnabled: startsEnabled });
  stops.push(registry.stop);
  let restarts = Promise.resolve();
  const c = {} as Cluster;
  c.execs = [];
  c.patches = [];
  c.onPatch = async (object) => {
    // One restart at a time, as pods roll one after another.
    restarts = restarts.then(() => registry.restart({ deleteEnabled: deleteSettingOf(object) === "true" }));
    await restarts;
  };
  c.gc = async (command) => {
    const [bin, ...args] = command;
    expect(bin).toBe("registry");
    try {
      const { stdout, stderr } = await run("docker-registry", args);
      return { stdout, stderr, exitCode: 0 };
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; code?: number };
      return { stdout: e.stdout ?? "", stderr: e.stderr ?? "", exitCode: e.code ?? 1 };
    }
  };
  const labels = { app: "docker-registry" };
  const kube = await startKubeApiServer(
    {
      statefulSets: [
        statefulSet("default", "docker-registry", {
          labels,
          containers: [{ name: "registry", image: "registry:2.8", ...(opts.env ? { env: opts.env } : {}) }],
        }),
      ],
      pods: [
        pod("default", "docker-registry-0", {
          labels,
          containers: [
            { name: "registry", image: "registry:2.8", imageID: `registry@sha256:${"a".repeat(64)}` },
          ],
        }),
        pod("default", "unrelated-0", {
          containers: [{ name: "x", image: "x:1", imageID: `x@sha256:${"b".repeat(64)}` }],
        }),
      ],
    },
    {
      ...(opts.forbid ? { forbid: opts.forbid } : {}),
      onPatch: async ({ object }) => {
        c.patches.push(object);
        await c.onPatch(object);
      },
      exec: async (_ns, podName, container, command) => {
        c.execs.push({ pod: podName, container, command });
        return c.gc(command);
      },
    },
  );
  stops.push(kube.stop);
  const dir = await tempDir();
  const kubeconfig = join(dir, "kubeconfig");
  await writeFile(kubeconfig, kube.kubeconfig({ plainHttp: true }));
  const config = join(dir, "regsweep.yaml");
  await writeFile(
    config,
    stringify({
      registry: {
        url: registry.url,
        insecure: true,
        kubernetes: { kubeconfig, configPath: registry.configPath, readyTimeoutSeconds: 20 },
      },
    }),
  );
  const repo = uniqueRepo("incluster");
  const { registry: client } = connect(registry.url);
  const images: BuiltManifest[] = [];
  for (let i = 0; i < 2; i++) {
    const image = buildImage({ seed: `${repo} ${i}`, created: ago(90), layers: [`layer of ${repo} ${i}`] });
    await pushManifest(client, repo, image, [`v${i}`]);
    images.push(image);
  }
  const planFile = join(dir, "plan.json");
  const audits = join(dir, "audits");
  const planned = await runCli([
    "plan",
    "--config",
    config,
    "--filter",
    `${repo}:.*`,
    "-o",
    planFile,
    "--no-cache",
    "--audit-dir",
    audits,
  ]);
  expect(planned.code, planned.stderr).toBe(0);
  return Object.assign(c, {
    registry,
    kube,
    dir,
    config,
    planFile,
    audits,
    repo,
    images,
    envOf: () => envOfObject(kube.object("statefulsets", "default", "docker-registry")),
  });
}

const applyArgs = (c: Cluster, ...extra: string[]) => [
  "apply",
  c.planFile,
  "--config",
  c.config,
  "--yes",
  "--no-usage-sources",
  "--no-cache",
  "--audit-dir",
  c.audits,
  ...extra,
];

const blobPath = (c: Cluster, digest: string) => {
  const hex = digest.replace("sha256:", "");
  return join(c.registry.dataDir, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data");
};
const layerOf = (image: BuiltManifest) => {
  const manifest = JSON.parse(image.body.toString("utf8")) as { layers: { digest: string }[] };
  return manifest.layers[0]?.digest as string;
};

describe("in-cluster registry: deletes on only while needed, then garbage-collect", () => {
  it("enables deletes, waits, deletes, garbage-collects without --delete-untagged, and removes the env entry again", async () => {
    const c = await cluster();
    const layers = c.images.map(layerOf);
    for (const l of layers) expect(existsSync(blobPath(c, l))).toBe(true);

    const res = await runCli(applyArgs(c));
    expect(res.code, res.stderr).toBe(0);
    const { registry } = connect(c.registry.url);
    for (const image of c.images) expect(await registry.headManifest(c.repo, image.digest)).toBeUndefined();
    // The patches: deletes on, then the env entry removed again (it was absent).
    expect(c.patches.map(deleteSettingOf)).toEqual(["true", undefined]);
    expect(c.envOf() ?? []).toEqual([]);
    expect(c.execs).toEqual([
      {
        pod: "docker-registry-0",
        container: "registry",
        command: ["registry", "garbage-collect", c.registry.configPath],
      },
    ]);
    expect(c.execs.flatMap((e) => e.command)).not.toContain("--delete-untagged");
    // Garbage collection really freed the layers' disk.
    for (const l of layers) expect(existsSync(blobPath(c, l))).toBe(false);
    expect(readJournal(`${c.planFile}.journal`).map((s) => s.step)).toEqual([
      "start",
      "registry-deletes-enabled",
      "deleted",
      "deleted",
      "garbage-collected",
      "registry-deletes-restored",
      "end",
    ]);
    expect(res.stderr).toMatch(
      /garbage-collect in pod docker-registry-0 of statefulset default\/docker-registry: done/,
    );
    const [audit] = (await readAudits(c.audits)).filter((a) => a.name.includes("_apply_"));
    expect(audit?.json.inClusterRegistry).toMatchObject({
      workload: "statefulset default/docker-registry",
      previous: null,
      enabled: true,
      restored: true,
      garbageCollection: { pod: "docker-registry-0", exitCode: 0, ok: true },
    });
    // The registry runs with deletes disabled again.
    await expect(registry.deleteManifest(c.repo, c.images[0]?.digest as never)).rejects.toThrow();
  });

  it("a failing garbage-collect is reported (exit 1), keeps the deletions and still restores", async () => {
    const c = await cluster({ env: [{ name: VAR, value: "false" }] });
    c.gc = async () => ({ stdout: "", stderr: "failed to mark: filesystem: permission denied", exitCode: 1 });
    const res = await runCli(applyArgs(c));
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(
      /garbage-collect in pod docker-registry-0 of statefulset default\/docker-registry exited 1 \(failed to mark: filesystem: permission denied\); the deletions stand/,
    );
    const { registry } = connect(c.registry.url);
    for (const image of c.images) expect(await registry.headManifest(c.repo, image.digest)).toBeUndefined();
    expect(c.patches.map(deleteSettingOf)).toEqual(["true", "false"]);
    expect(c.envOf()).toEqual([{ name: VAR, value: "false" }]);
  });

  it("deletes the registry still refuses (the pods never picked the change up) fail the run, and it still restores", async () => {
    const c = await cluster();
    c.onPatch = async () => {}; // rolled, but the registry was not restarted: deletes stay off
    const res = await runCli(applyArgs(c));
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/refuses deletes \(HTTP 405\)/);
    const { registry } = connect(c.registry.url);
    for (const image of c.images) expect(await registry.headManifest(c.repo, image.digest)).toBeDefined();
    expect(c.patches.map(deleteSettingOf)).toEqual(["true", undefined]);
    expect(c.envOf() ?? []).toEqual([]);
    expect(c.execs).toEqual([]);
    expect(readJournal(`${c.planFile}.journal`).map((s) => s.step)).toContain("registry-deletes-restored");
  });

  it("a library apply aborted while the pods roll restores the setting with its own timeout, and rejects as cancelled", async () => {
    const c = await cluster();
    const stop = new AbortController();
    let release = () => {};
    const held = new Promise<void>((r) => (release = r));
    stops.push(async () => release());
    c.onPatch = async (object) => {
      if (deleteSettingOf(object) === "true") {
        stop.abort(); // Ctrl+C while the registry's pods roll
        await held;
      }
    };
    const opened = await openRegistry(c.registry.url, { insecure: true });
    stops.push(() => opened.close());
    const plan = await readPlan(c.planFile);
    const cluster_ = openInClusterRegistry({
      kubeconfig: join(c.dir, "kubeconfig"),
      namespace: "default",
      kind: "statefulset",
      name: "docker-registry",
      configPath: c.registry.configPath,
      garbageCollect: true,
      readyTimeoutMs: 20_000,
    });
    const events: string[] = [];
    await expect(
      apply(plan, {
        registry: opened,
        journalPath: `${c.planFile}.journal`,
        inClusterRegistry: cluster_,
        signal: stop.signal,
        onEvent: (e) => e.type === "in-cluster-registry" && events.push(e.message),
      }),
    ).rejects.toBeInstanceOf(AbortedError);
    expect(c.envOf() ?? []).toEqual([]);
    expect(events.at(-1)).toMatch(/REGISTRY_STORAGE_DELETE_ENABLED removed again/);
    expect(c.execs).toEqual([]);
    const steps = readJournal(`${c.planFile}.journal`).map((s) => s.step);
    expect(steps).toEqual(["start", "registry-deletes-enabled", "registry-deletes-restored", "interrupted"]);
  });

  it("SIGINT to the CLI while the pods roll still restores", async () => {
    const c = await cluster();
    let child: ChildProcess | undefined;
    let release = () => {};
    const held = new Promise<void>((r) => (release = r));
    stops.push(async () => release());
    c.onPatch = async (object) => {
      if (deleteSettingOf(object) === "true") {
        child?.kill("SIGINT");
        await held;
      }
    };
    const res = await startCli(applyArgs(c), (p) => (child = p));
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`Stopped early. Continue with: regsweep apply ${c.planFile} --resume`);
    expect(c.envOf() ?? []).toEqual([]);
    expect(readJournal(`${c.planFile}.journal`).map((s) => s.step)).toContain("registry-deletes-restored");
  });

  it("killed (-9) right after enabling: apply --resume deletes, garbage-collects and restores what the journal recorded", async () => {
    const c = await cluster({ env: [{ name: "OTHER", value: "1" }] });
    let child: ChildProcess | undefined;
    const restartAsPatched = c.onPatch;
    c.onPatch = async (object) => {
      if (deleteSettingOf(object) === "true") child?.kill("SIGKILL");
      await restartAsPatched(object);
    };
    const killed = await startCli(applyArgs(c), (p) => (child = p));
    expect(killed.signal).toBe("SIGKILL");
    expect(c.envOf()).toEqual([
      { name: "OTHER", value: "1" },
      { name: VAR, value: "true" },
    ]);
    c.onPatch = restartAsPatched;

    const resumed = await runCli(applyArgs(c, "--resume"));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(c.envOf()).toEqual([{ name: "OTHER", value: "1" }]);
    const { registry } = connect(c.registry.url);
    for (const image of c.images) expect(await registry.headManifest(c.repo, image.digest)).toBeUndefined();
    expect(c.execs).toHaveLength(1);
    const steps = readJournal(`${c.planFile}.journal`).map((s) => s.step);
    expect(steps.filter((s) => s === "registry-deletes-enabled")).toHaveLength(1);
    expect(steps.slice(-3)).toEqual(["garbage-collected", "registry-deletes-restored", "end"]);
  });

  it("a resume with nothing left to delete still restores what the journal recorded", async () => {
    // As a run leaves it that enabled deletes (previously "false"), deleted everything and died.
    const c = await cluster({ env: [{ name: VAR, value: "true" }] });
    const first = await runCli(applyArgs(c));
    expect(first.code, first.stderr).toBe(0);
    const journal = `${c.planFile}.journal`;
    const [start, ...rest] = (await readFile(journal, "utf8")).trimEnd().split("\n");
    const enabled = JSON.stringify({
      at: new Date().toISOString(),
      step: "registry-deletes-enabled",
      previous: "false",
    });
    await writeFile(journal, `${[start, enabled, ...rest.filter((l) => !l.includes('"end"'))].join("\n")}\n`);

    const resumed = await runCli(applyArgs(c, "--resume"));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(c.patches.map(deleteSettingOf)).toEqual(["false"]);
    expect(c.envOf()).toEqual([{ name: VAR, value: "false" }]);
    expect(c.execs).toHaveLength(1); // only the first run's
    expect(
      readJournal(journal)
        .map((s) => s.step)
        .slice(-2),
    ).toEqual(["registry-deletes-restored", "end"]);
  });

  it("a workload that already enables deletes is not patched, and still garbage-collected", async () => {
    const c = await cluster({ env: [{ name: VAR, value: "true" }] });
    const res = await runCli(applyArgs(c));
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/deletes already enabled/);
    expect(c.kube.requests.filter((r) => r.method === "PATCH")).toEqual([]);
    expect(c.envOf()).toEqual([{ name: VAR, value: "true" }]);
    expect(c.execs).toHaveLength(1);
    expect(readJournal(`${c.planFile}.journal`).map((s) => s.step)).not.toContain("registry-deletes-enabled");
  });

  it("doctor names the workload, its container and setting, and checks the patch with a dry run", async () => {
    const c = await cluster();
    const res = await runCli(["doctor", "--config", c.config, "--no-cache"]);
    expect(res.stdout).toMatch(
      /ok {4}in-cluster registry: statefulset default\/docker-registry, container registry: REGISTRY_STORAGE_DELETE_ENABLED absent; may patch it \(dry run\)/,
    );
    expect(c.kube.requests.filter((r) => r.method === "PATCH").map((r) => r.query.dryRun)).toEqual(["All"]);
    expect(c.envOf() ?? []).toEqual([]);
    expect(c.patches).toEqual([]);
  });

  it("doctor fails, saying which RBAC verbs are needed, when the patch is forbidden; and names a missing workload", async () => {
    const c = await cluster({ forbid: ["patch statefulsets"] });
    const res = await runCli(["doctor", "--config", c.config, "--no-cache"]);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(
      /FAIL {2}in-cluster registry: patch statefulset default\/docker-registry \(http:\/\/127\.0\.0\.1:\d+\): forbidden — grant get and patch on statefulsets, list on pods and create on pods\/exec in namespace default/,
    );
    const config = await readFile(c.config, "utf8");
    await writeFile(c.config, config.replace("kubernetes:", "kubernetes:\n    statefulset: registry-gone"));
    const missing = await runCli(["doctor", "--config", c.config, "--no-cache"]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(
      /FAIL {2}in-cluster registry: get statefulset default\/registry-gone .*not found — check registry.kubernetes/,
    );
  });
});

/** The CLI as a child the test can signal; resolves with its exit code or the signal that ended it. */
function startCli(
  args: string[],
  onStart: (child: ChildProcess) => void,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    onStart(child);
    let stderr = "";
    child.stdout?.resume();
    child.stderr?.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => resolvePromise({ code, signal, stderr }));
    child.stdin?.end("");
  });
}

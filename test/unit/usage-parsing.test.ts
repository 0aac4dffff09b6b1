import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load-config.js";
import { AbortedError } from "../../src/errors.js";
import { imageOfCustomImageSetting, imagesOfFxVersion } from "../../src/usage/azure/fx-version.js";
import { referenceOfImageId } from "../../src/usage/image-id.js";
import { imagesOf } from "../../src/usage/kubernetes-images.js";

const D = `sha256:${"a".repeat(64)}`;

describe("container runtime imageID", () => {
  it.each([
    [`docker-pullable://nginx@${D}`, `nginx@${D}`],
    [`docker.io/library/nginx@${D}`, `docker.io/library/nginx@${D}`],
    [`myacr.azurecr.io/team/app@${D}`, `myacr.azurecr.io/team/app@${D}`],
    [`docker://${D}`, undefined],
    [D, undefined],
    ["", undefined],
    [undefined, undefined],
  ])("%s -> %s", (id, expected) => {
    expect(referenceOfImageId(id)).toBe(expected);
  });
});

describe("App Service fx versions", () => {
  it("reads DOCKER|, COMPOSE| (every service), KUBE|, sitecontainers in any case, and ignores code stacks", () => {
    expect(imagesOfFxVersion("DOCKER|myacr.azurecr.io/app:1")).toEqual({
      kind: "images",
      images: ["myacr.azurecr.io/app:1"],
    });
    const compose = Buffer.from("services:\n  a:\n    image: x.io/a:1\n  b:\n    image: x.io/b:2\n").toString(
      "base64",
    );
    expect(imagesOfFxVersion(`COMPOSE|${compose}`)).toEqual({
      kind: "images",
      images: ["x.io/a:1", "x.io/b:2"],
    });
    const kube = Buffer.from(
      "spec:\n  containers:\n    - image: x.io/k:1\n---\nspec:\n  containers:\n    - image: x.io/k:2\n",
    ).toString("base64");
    expect(imagesOfFxVersion(`KUBE|${kube}`)).toEqual({ kind: "images", images: ["x.io/k:1", "x.io/k:2"] });
    expect(imagesOfFxVersion("sitecontainers")).toEqual({ kind: "sitecontainers" });
    expect(imagesOfFxVersion("SITECONTAINERS")).toEqual({ kind: "sitecontainers" });
    expect(imagesOfFxVersion("NODE|18-lts")).toEqual({ kind: "none" });
    expect(imagesOfFxVersion("")).toEqual({ kind: "none" });
    expect(imagesOfFxVersion(null)).toEqual({ kind: "none" });
  });

  it("reads DOCKER_CUSTOM_IMAGE_NAME with or without the DOCKER| prefix", () => {
    expect(imageOfCustomImageSetting("DOCKER|x.io/a:1")).toBe("x.io/a:1");
    expect(imageOfCustomImageSetting("x.io/a:1")).toBe("x.io/a:1");
    expect(imageOfCustomImageSetting("  ")).toBeUndefined();
  });
});

describe("Kubernetes workload images", () => {
  const containers = [{ name: "c", image: "x.io/c:1" }];
  it("reads containers, init and ephemeral containers, and pod status digests", () => {
    const found = imagesOf("pod", {
      metadata: { name: "p", namespace: "ns" },
      spec: {
        containers,
        initContainers: [{ name: "i", image: "x.io/i:1" }],
        ephemeralContainers: [{ name: "e", image: "x.io/e:1" }],
      },
      status: {
        containerStatuses: [{ name: "c", image: "x.io/c:1", imageID: `x.io/c@${D}` }],
        initContainerStatuses: [{ name: "i", imageID: D }],
      },
    });
    expect(found.map((f) => f.image)).toEqual(["x.io/c:1", "x.io/i:1", "x.io/e:1", `x.io/c@${D}`]);
    expect(found[0]?.where).toBe("ns/pod/p (container c)");
  });
  it("reads pod templates of controllers and the job template of CronJobs", () => {
    expect(
      imagesOf("deployment", { metadata: { name: "d" }, spec: { template: { spec: { containers } } } })[0]
        ?.where,
    ).toBe("default/deployment/d (container c)");
    expect(
      imagesOf("cronjob", {
        metadata: { name: "j", namespace: "n" },
        spec: { jobTemplate: { spec: { template: { spec: { containers } } } } },
      }),
    ).toHaveLength(1);
  });
});

describe("configuration precedence", () => {
  it("defaults < file < environment", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cfg-"));
    const file = join(dir, "regsweep.yaml");
    await writeFile(
      file,
      "registry:\n  url: https://file.example.com\npolicy:\n  ago: 10d\n  keep: 2\nazure:\n  subscriptions: [a, b]\n",
    );
    const fromFile = await loadConfig(file, {});
    expect(fromFile.registry.url).toBe("https://file.example.com");
    expect(fromFile.policy.keep).toBe(2);
    expect(fromFile.registry.concurrency).toBe(8);
    const withEnv = await loadConfig(file, {
      AZURE_ACR_NAME: "MyAcr",
      AZURE_SUBSCRIPTION_ID: "s1",
      AZURE_ACR_RESOURCE_GROUP: "rg-acr",
      REGSWEEP_AGO: "5d",
    });
    expect(withEnv.registry.url).toBe("https://myacr.azurecr.io");
    expect(withEnv.azure.subscriptions).toEqual(["s1"]);
    // The third variable of the App Service script: the registry's resource group.
    expect(withEnv.azure.registryResourceGroup).toBe("rg-acr");
    expect(fromFile.azure.registryResourceGroup).toBeUndefined();
    expect(withEnv.policy.ago).toBe("5d");
    const gov = await loadConfig(undefined, { AZURE_ACR_NAME: "gov", AZURE_CLOUD: "AzureUSGovernment" });
    expect(gov.registry.url).toBe("https://gov.azurecr.us");
    expect(
      (await loadConfig(file, { AZURE_ACR_NAME: "x", REGSWEEP_REGISTRY: "http://127.0.0.1:5000" })).registry
        .url,
    ).toBe("http://127.0.0.1:5000");
  });

  it("accepts JSON, and rejects unknown keys naming them", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cfg-"));
    const json = join(dir, "c.json");
    await writeFile(json, JSON.stringify({ usage: [{ type: "file", path: "in-use.txt" }] }));
    expect((await loadConfig(json, {})).usage).toEqual([
      { type: "file", path: "in-use.txt", optional: false },
    ]);
    const bad = join(dir, "bad.yaml");
    await writeFile(bad, "registry:\n  urll: x\n");
    await expect(loadConfig(bad, {})).rejects.toThrow(/line 2: registry.*urll/);
  });
});

describe("loading usage sources", () => {
  it("a source that never answers fails closed after the timeout; an optional one is only a warning", async () => {
    const { loadUsages } = await import("../../src/usage/load-usages.js");
    const hung = { name: "kubernetes hung", optional: false, load: () => new Promise<never>(() => {}) };
    await expect(loadUsages([hung], { warn: () => {}, timeoutMs: 20 })).rejects.toThrow(
      /kubernetes hung.*no answer within 0.02 s/,
    );
    const warnings: string[] = [];
    await expect(
      loadUsages([{ ...hung, optional: true }], { warn: (w) => warnings.push(w), timeoutMs: 20 }),
    ).resolves.toEqual([]);
    expect(warnings[0]).toMatch(/optional usage source kubernetes hung failed/);
  });

  /** A source that runs until its signal aborts, and records that it was aborted. */
  const cancellable = (name: string) => {
    const seen: { signal?: AbortSignal; aborted: boolean } = { aborted: false };
    const source = {
      name,
      optional: false,
      load: (signal?: AbortSignal) =>
        new Promise<never>((_, reject) => {
          seen.signal = signal;
          signal?.addEventListener("abort", () => {
            seen.aborted = true;
            reject(signal.reason);
          });
        }),
    };
    return { source, seen };
  };

  it("a timed-out source has its own signal aborted, so its requests stop; the others are not", async () => {
    const { loadUsages } = await import("../../src/usage/load-usages.js");
    const hung = cancellable("kubernetes hung");
    const quick = {
      name: "in-use-file quick",
      optional: false,
      signal: undefined as AbortSignal | undefined,
      async load(signal?: AbortSignal) {
        this.signal = signal;
        return [];
      },
    };
    await expect(loadUsages([quick, hung.source], { timeoutMs: 20 })).rejects.toThrow(/kubernetes hung/);
    expect(hung.seen.aborted).toBe(true);
    expect(quick.signal).toBeInstanceOf(AbortSignal);
    expect(quick.signal).not.toBe(hung.seen.signal);
    expect(quick.signal?.aborted).toBe(false);
  });

  it("aborting the run's signal aborts every source still loading and fails the run", async () => {
    const { loadUsages } = await import("../../src/usage/load-usages.js");
    const a = cancellable("kubernetes a");
    const b = cancellable("aks");
    const run = new AbortController();
    const loading = loadUsages([a.source, b.source], { signal: run.signal, timeoutMs: 60_000 });
    run.abort();
    await expect(loading).rejects.toThrow(/usage source kubernetes a: the run was cancelled/);
    await expect(loading).rejects.toBeInstanceOf(AbortedError);
    expect(a.seen.aborted && b.seen.aborted).toBe(true);
  });
});

describe("ACR detection", () => {
  it("recognises ACR login servers in every cloud, and nothing that merely contains the name", async () => {
    const { looksLikeAcr } = await import("../../src/registry/acr-auth.js");
    expect(looksLikeAcr("myacr.azurecr.io")).toBe(true);
    expect(looksLikeAcr("MyAcr.azurecr.us")).toBe(true);
    expect(looksLikeAcr("gov.azurecr.cn:443")).toBe(true);
    expect(looksLikeAcr("azurecr.io.evil.example")).toBe(false);
    expect(looksLikeAcr("127.0.0.1:5000")).toBe(false);
  });
});

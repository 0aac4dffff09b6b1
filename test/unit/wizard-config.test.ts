import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import {
  parseAgeAnswer,
  preselected,
  registryUrlOf,
  registryUrlOfAnswer,
  repeatCommand,
  type WizardAnswers,
  wizardConfig,
} from "../../src/cli/wizard-config.js";
import { loadConfig } from "../../src/config/load-config.js";
import { tempDir } from "../integration/helpers.js";

const answers: WizardAnswers = {
  subscriptionId: "sub-1",
  registryUrl: "https://myacr.azurecr.io",
  resourceGroup: "rg-acr",
  sources: ["appservice", "containerapps"],
  filters: [".*:.*"],
  ago: "30d",
  keep: 3,
  untagged: true,
};

describe("the configuration the wizard writes", () => {
  it("holds every answer, and loads back as regsweep plan --config reads it", async () => {
    const written = wizardConfig(answers);
    expect(written).toEqual({
      registry: { url: "https://myacr.azurecr.io" },
      policy: { filters: [".*:.*"], untagged: true, ago: "30d", keep: 3 },
      azure: { subscriptions: ["sub-1"], registryResourceGroup: "rg-acr" },
      usage: [{ type: "appservice" }, { type: "containerapps" }],
    });
    const dir = await tempDir();
    const file = join(dir, "regsweep.yaml");
    await writeFile(file, stringify(written));
    const loaded = await loadConfig(file, {});
    expect(loaded.registry.url).toBe("https://myacr.azurecr.io");
    expect(loaded.policy).toMatchObject({ filters: [".*:.*"], ago: "30d", keep: 3, untagged: true });
    expect(loaded.azure).toMatchObject({ subscriptions: ["sub-1"], registryResourceGroup: "rg-acr" });
    expect(loaded.usage.map((s) => s.type)).toEqual(["appservice", "containerapps"]);
  });

  it("leaves out what was not asked for: no age, no keep, no resource group", () => {
    const { resourceGroup: _, ...rest } = answers;
    const written = wizardConfig({ ...rest, keep: 0, sources: [], untagged: false, ago: undefined });
    expect(written.policy).toEqual({ filters: [".*:.*"], untagged: false });
    expect(written.azure).toEqual({ subscriptions: ["sub-1"] });
    expect(written.usage).toEqual([]);
  });

  it("starts from the given configuration: other sources and settings stay, unchosen Azure kinds go", () => {
    const base = {
      registry: { url: "https://old.azurecr.io", concurrency: 4 },
      policy: { ago: "90d", keep: 9, protectPulledWithin: "7d" },
      azure: { resourceManagerEndpoint: "https://arm.example", caFile: "/ca.pem", subscriptions: ["old"] },
      usage: [
        { type: "kubernetes", contexts: ["prod"] },
        { type: "appservice", resourceGroups: ["rg-web"] },
        { type: "aks" },
      ],
      audit: { dir: "/var/audits" },
    };
    const written = wizardConfig({ ...answers, keep: 0 }, base);
    expect(written.registry).toEqual({ url: "https://myacr.azurecr.io", concurrency: 4 });
    expect(written.policy).toEqual({
      filters: [".*:.*"],
      untagged: true,
      ago: "30d",
      protectPulledWithin: "7d",
    });
    expect(written.azure).toEqual({
      resourceManagerEndpoint: "https://arm.example",
      caFile: "/ca.pem",
      subscriptions: ["sub-1"],
      registryResourceGroup: "rg-acr",
    });
    expect(written.usage).toEqual([
      { type: "kubernetes", contexts: ["prod"] },
      { type: "appservice", resourceGroups: ["rg-web"] },
      { type: "containerapps" },
    ]);
    expect(written.audit).toEqual({ dir: "/var/audits" });
    expect(base.usage).toHaveLength(3); // the starting configuration is not changed
  });

  it("refuses answers that would not load (a bad filter list is our bug, not a file to write)", () => {
    expect(() => wizardConfig({ ...answers, keep: -1 })).toThrow();
  });
});

describe("the command that repeats the run", () => {
  const config = { usage: [{ type: "appservice" as const, optional: false }] };
  it("dry run: plan --config; delete: run --config with the strict confirmation", () => {
    expect(repeatCommand("dry-run", "regsweep.yaml", config)).toBe("regsweep plan --config regsweep.yaml");
    expect(repeatCommand("delete", "regsweep.yaml", config)).toBe(
      "regsweep run --config regsweep.yaml --confirm strict",
    );
  });
  it("names --no-usage-sources when nothing protects, and quotes paths a shell would split", () => {
    expect(repeatCommand("delete", "my dir/it's.yaml", { usage: [] })).toBe(
      "regsweep run --config 'my dir/it'\\''s.yaml' --confirm strict --no-usage-sources",
    );
  });
});

describe("answers as typed", () => {
  it("ages: durations, plain days, or none", () => {
    expect(parseAgeAnswer("30d")).toEqual({ ago: "30d" });
    expect(parseAgeAnswer(" 45 ")).toEqual({ ago: "45d" });
    expect(parseAgeAnswer("1d12h")).toEqual({ ago: "1d12h" });
    expect(parseAgeAnswer("0")).toEqual({});
    expect(parseAgeAnswer("")).toEqual({});
    expect(parseAgeAnswer("soon")).toMatchObject({ error: expect.stringMatching(/soon is not an age/) });
  });
  it("registries: ACR login servers over https, loopback over http, ACR names get the cloud's suffix", () => {
    expect(registryUrlOf("MyAcr.azurecr.io")).toBe("https://myacr.azurecr.io");
    expect(registryUrlOf("127.0.0.1:5000")).toBe("http://127.0.0.1:5000");
    expect(registryUrlOf("https://reg.example.com")).toBe("https://reg.example.com");
    expect(registryUrlOfAnswer("MyAcr", "azurecr.us")).toBe("https://myacr.azurecr.us");
    expect(registryUrlOfAnswer("reg.example.com:8443", "azurecr.io")).toBe("https://reg.example.com:8443");
  });
});

describe("which workloads start ticked", () => {
  it("those found, those configured, and those that could not be checked; not those known absent", () => {
    expect(preselected(true, false)).toBe(true);
    expect(preselected(false, true)).toBe(true);
    expect(preselected("HTTP 403 AuthorizationFailed", false)).toBe(true);
    expect(preselected(false, false)).toBe(false);
  });
});

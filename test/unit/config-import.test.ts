import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { configSchema } from "../../src/config/config-schema.js";
import { ShellWordsError, splitShellWords } from "../../src/config/shell-words.js";
import { UsageError } from "../../src/errors.js";
import { importAcrPurge } from "../../src/pipeline/import-acr-purge.js";
import { importAksCleanup } from "../../src/pipeline/import-aks-cleanup.js";
import { importedYaml } from "../../src/pipeline/imported-config.js";

/** The AKS cleanup script's sample configuration, as its README describes it. */
const AKS_SAMPLE = {
  kubernetes_clusters: {
    prod: { name: "aks-prod", subscription_id: "sub-prod", resource_group: "rg-prod" },
    dev: { name: "aks-dev", subscription_id: "sub-dev", resource_group: "rg-dev" },
  },
  container_registry: { url: "contoso.azurecr.io", subscription_id: "sub-shared", resource_group: "rg-acr" },
};

/** What a caller reads back: the YAML text, parsed. */
const written = (r: ReturnType<typeof importAcrPurge>) => parse(importedYaml(r));

describe("splitShellWords", () => {
  it("splits as a POSIX shell does, without expanding", () => {
    expect(splitShellWords(`acr purge --filter 'app:.*'  --ago 7d`)).toEqual([
      "acr",
      "purge",
      "--filter",
      "app:.*",
      "--ago",
      "7d",
    ]);
    expect(splitShellWords(`a "b \\"c\\" \\$d" e\\ f ''`)).toEqual(["a", 'b "c" $d', "e f", ""]);
    expect(splitShellWords(`--filter '$repository:.*'`)).toEqual(["--filter", "$repository:.*"]);
    expect(splitShellWords(`x"y"'z'`)).toEqual(["xyz"]);
    expect(splitShellWords(`"a\\b"`)).toEqual(["a\\b"]);
  });

  it("refuses an unterminated quote and a trailing backslash", () => {
    expect(() => splitShellWords(`acr purge --filter 'app:.*`)).toThrow(ShellWordsError);
    expect(() => splitShellWords(`acr "purge`)).toThrow(/unterminated "/);
    expect(() => splitShellWords(`acr purge \\`)).toThrow(/trailing backslash/);
  });
});

describe("importAcrPurge", () => {
  it("the issue's line: filter, ago (by update time), keep, untagged", () => {
    const r = importAcrPurge(`acr purge --filter 'app:.*' --ago 7d --keep 3 --untagged`);
    expect(written(r)).toEqual({
      policy: { filters: ["app:.*"], ago: "7d", ageFrom: "updated", keep: 3, untagged: true },
    });
    const text = r.notes.map((n) => `${n.kind}: ${n.text}`).join("\n");
    expect(text).toMatch(/differs: --keep 3 .*counts images \(distinct digests\), not tags/);
    expect(text).toMatch(/no-equivalent: no --registry/);
    expect(text).toMatch(/this command line deleted/);
  });

  it("seed 003's az acr run wrapper: the task's registry, several filters, --dry-run, --untagged-only", () => {
    const r = importAcrPurge(
      `az acr run --registry acrbiotrackrdev --cmd "acr purge --filter 'auth-svc:.*' -f 'web:^v[[:digit:]]+' --ago=1d12h --dry-run --concurrency 12" /dev/null`,
    );
    expect(written(r)).toEqual({
      registry: { url: "https://acrbiotrackrdev.azurecr.io", concurrency: 12 },
      policy: { filters: ["auth-svc:.*", "web:^v[[:digit:]]+"], ago: "1d12h", ageFrom: "updated" },
    });
    expect(r.notes.find((n) => n.text.startsWith("--dry-run"))?.kind).toBe("differs");
    const only = importAcrPurge(`acr purge --untagged-only --registry myacr.azurecr.io --keep 2`);
    expect(written(only)).toEqual({
      registry: { url: "https://myacr.azurecr.io" },
      policy: { ageFrom: "updated", keep: 2, untaggedOnly: true },
    });
  });

  it("warns about what regsweep does not do: --include-locked, credentials, the task's time-out", () => {
    const r = importAcrPurge(
      `az acr run --timeout 3600 --cmd "acr purge --filter 'a:.*' --ago 0d --include-locked -u bot -p hunter2" -r myacr /dev/null`,
    );
    const noEquivalent = r.notes.filter((n) => n.kind === "no-equivalent").map((n) => n.text);
    expect(noEquivalent.some((t) => t.startsWith("--include-locked: regsweep never deletes locked"))).toBe(
      true,
    );
    expect(noEquivalent.some((t) => t.startsWith("az acr run --timeout 3600"))).toBe(true);
    expect(noEquivalent.some((t) => t.startsWith("--password: never written"))).toBe(true);
    // A credential never reaches the configuration, nor its header naming the line it came from.
    const yaml = importedYaml(r);
    expect(yaml).not.toContain("hunter2");
    expect(yaml).not.toMatch(/\bbot\b/);
    expect(yaml.split("\n")[0]).toBe(
      "# regsweep.yaml written by regsweep config import from acr purge --filter 'a:.*' --ago 0d --include-locked -u *** -p ***",
    );
  });

  it("an ACR task's registry template is not taken for a host", () => {
    const r = importAcrPurge(`acr purge --registry {{.Run.Registry}} --filter 'a:.*' --ago 1d`);
    expect(written(r).registry).toBeUndefined();
    expect(r.notes.some((n) => n.kind === "no-equivalent" && n.text.includes("{{.Run.Registry}}"))).toBe(
      true,
    );
  });

  it("an alternation in the repository part is flagged: regsweep anchors the whole regex", () => {
    const r = importAcrPurge(`acr purge --filter 'a|b:.*' --ago 1d`);
    expect(r.notes.find((n) => n.text.startsWith("--filter"))?.kind).toBe("differs");
  });

  it("refuses what it cannot map faithfully (bad usage naming the input)", () => {
    const refused = (line: string) => {
      try {
        importAcrPurge(line);
      } catch (error) {
        expect(error).toBeInstanceOf(UsageError);
        return (error as Error).message;
      }
      throw new Error(`accepted: ${line}`);
    };
    expect(refused(`acr purge --filter 'a:.*' --frobnicate`)).toMatch(/--frobnicate is not a flag/);
    expect(refused(`acr purge --ago 1d`)).toMatch(/needs --filter/);
    expect(refused(`acr purge --filter 'a:b:c' --ago 1d`)).toMatch(/more than one ':'/);
    expect(refused(`acr purge --filter 'a:.*' --ago 7x`)).toMatch(/--ago "7x" is not a duration/);
    expect(refused(`acr purge --filter 'a:.*' --untagged --untagged-only`)).toMatch(/contradict/);
    expect(refused(`acr purge --filter 'a:.*' --keep many`)).toMatch(/--keep "many"/);
    expect(refused(`docker image prune`)).toMatch(/not an acr purge command line/);
    expect(refused(`az acr run --registry r /dev/null`)).toMatch(/no --cmd/);
    expect(refused(`acr purge --filter 'a:.*`)).toMatch(/unterminated/);
  });

  it("everything it writes loads with the configuration schema", () => {
    for (const line of [
      `acr purge --filter 'app:.*' --ago 7d --keep 3 --untagged`,
      `acr purge --untagged-only`,
      `az acr run --cmd "acr purge --filter 'x:.*' --ago -1d" --registry r /dev/null`,
    ]) {
      expect(() => configSchema.parse(written(importAcrPurge(line)))).not.toThrow();
    }
  });
});

describe("importAksCleanup (seed 001's JSON file)", () => {
  it("writes an aks source with the clusters, used repositories only, the day threshold, latest protected", () => {
    const r = importAksCleanup(AKS_SAMPLE);
    expect(written(r)).toEqual({
      registry: { url: "https://contoso.azurecr.io" },
      azure: { subscriptions: ["sub-shared"], registryResourceGroup: "rg-acr" },
      usage: [
        {
          type: "aks",
          access: "auto",
          clusters: {
            prod: { name: "aks-prod", subscriptionId: "sub-prod", resourceGroup: "rg-prod" },
            dev: { name: "aks-dev", subscriptionId: "sub-dev", resourceGroup: "rg-dev" },
          },
        },
      ],
      policy: {
        filters: [".*:.*"],
        ago: "7d",
        scope: "used-repositories",
        protectTags: ["latest"],
        untagged: false,
      },
    });
    expect(r.notes.some((n) => n.text.includes("access: auto"))).toBe(true);
  });

  it("--days sets the threshold; a US Government registry sets the cloud; unknown keys are reported", () => {
    const r = importAksCleanup(
      {
        ...AKS_SAMPLE,
        notify: "ops@example.com",
        container_registry: { url: "https://gov.azurecr.us/", extra: 1 },
      },
      { days: 30 },
    );
    const w = written(r);
    expect(w.policy.ago).toBe("30d");
    expect(w.registry).toEqual({ url: "https://gov.azurecr.us" });
    expect(w.azure).toEqual({ cloud: "AzureUSGovernment" });
    const dropped = r.notes.filter((n) => n.kind === "no-equivalent").map((n) => n.text.split(":")[0]);
    expect(dropped).toEqual(["notify", "container_registry.extra"]);
  });

  it("a file of another shape is bad usage naming the key", () => {
    expect(() => importAksCleanup({ container_registry: { url: "x.azurecr.io" } })).toThrow(
      /kubernetes_clusters/,
    );
    expect(() =>
      importAksCleanup({
        ...AKS_SAMPLE,
        kubernetes_clusters: { prod: { name: "aks-prod", subscription_id: "s" } },
      }),
    ).toThrow(/kubernetes_clusters\.prod\.resource_group/);
    expect(() => importAksCleanup({ ...AKS_SAMPLE, kubernetes_clusters: {} })).toThrow(UsageError);
  });
});

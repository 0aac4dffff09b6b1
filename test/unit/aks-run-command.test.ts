import { describe, expect, it } from "vitest";
import { pullQuery, usagesOfPulls } from "../../src/usage/azure/acr-pull-logs-source.js";
import { parseRunCommandOutput, runCommandLines } from "../../src/usage/azure/aks-run-command.js";
import { isUnreachable } from "../../src/usage/azure/aks-source.js";

const list = JSON.stringify({
  apiVersion: "v1",
  kind: "List",
  items: [
    { metadata: { name: "api", namespace: "shop" }, spec: { containers: [{ name: "a", image: "x/y:1" }] } },
  ],
  metadata: { resourceVersion: "" },
});
const ok = (logs: string) => ({ provisioningState: "Succeeded", exitCode: 0, logs });

describe("AKS run-command output", () => {
  it("reads a kubectl List, after any warnings kubectl printed first", () => {
    expect(parseRunCommandOutput(ok(list), "kubectl get pods -A -o json")).toHaveLength(1);
    const warned = `Warning: batch/v1beta1 CronJob is deprecated\n${list}\n`;
    expect(parseRunCommandOutput(ok(warned), "kubectl get cronjobs -A -o json")).toHaveLength(1);
  });

  it("refuses output cut short, a failed command and a failed operation", () => {
    expect(() =>
      parseRunCommandOutput(ok(list.slice(0, list.length - 5)), "kubectl get pods -A -o json"),
    ).toThrow(/`kubectl get pods -A -o json` returned \d+ characters that are not whole JSON/);
    expect(() =>
      parseRunCommandOutput(
        {
          provisioningState: "Succeeded",
          exitCode: 1,
          logs: 'Error from server (Forbidden): pods is forbidden: User "x"\n',
        },
        "kubectl get pods -A -o json",
      ),
    ).toThrow(/exited 1: Error from server \(Forbidden\)/);
    expect(() =>
      parseRunCommandOutput(
        { provisioningState: "Failed", reason: "cluster stopped" },
        "kubectl get pods -A -o json",
      ),
    ).toThrow(/ended Failed: cluster stopped/);
    expect(() => parseRunCommandOutput(ok('{"kind":"Status"}'), "kubectl get pods -A -o json")).toThrow(
      /not a kubectl List/,
    );
  });

  it("runs one command per kind, per included namespace", () => {
    expect(runCommandLines(undefined)).toHaveLength(8);
    const lines = runCommandLines(["shop", "Odd Name"]).map((l) => l.command);
    expect(lines).toContain("kubectl get deployments -n shop -o json");
    expect(lines).toContain("kubectl get deployments -n 'Odd Name' -o json");
    expect(lines).toHaveLength(16);
  });

  it("takes connection failures as unreachable, HTTP answers as not", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    expect(isUnreachable(new Error("fetch failed", { cause: refused }))).toBe(true);
    // Node reports a host with several addresses as an AggregateError of each attempt.
    expect(isUnreachable(new Error("wrapped", { cause: new AggregateError([refused]) }))).toBe(true);
    expect(isUnreachable(Object.assign(new Error("HTTP 403"), { code: 403 }))).toBe(false);
  });
});

describe("ACR pull logs", () => {
  it("queries one registry's pulls within the window, quoting the login server", () => {
    const q = pullQuery('my"reg.azurecr.io', 30 * 86_400_000);
    expect(q).toMatch(/^ContainerRegistryRepositoryEvents\n/);
    expect(q).toContain("ago(2592000s)");
    expect(q).toContain('LoginServer =~ "my\\"reg.azurecr.io"');
  });

  it("keeps the logged digest, else the tag, and says when and by whom", () => {
    const columns = ["Repository", "Tag", "Digest", "TimeGenerated", "CallerIpAddress"].map((name) => ({
      name,
      type: name === "TimeGenerated" ? "datetime" : "string",
    }));
    const digest = `sha256:${"a".repeat(64)}`;
    const usages = usagesOfPulls(
      [
        {
          name: "PrimaryResult",
          columnDescriptors: columns,
          rows: [
            ["team/api", "1.0", digest, new Date("2026-11-30T08:00:00Z"), "10.1.2.3"],
            ["team/api", "2.0", "", new Date("2026-11-29T08:00:00Z"), ""],
            ["", "x", digest, new Date(), "10.0.0.1"],
          ],
        },
      ] as never,
      "myreg.azurecr.io",
    );
    expect(usages.map((u) => [u.raw, u.source])).toEqual([
      [`myreg.azurecr.io/team/api@${digest}`, "pulled 2026-11-30 by 10.1.2.3 (Log Analytics)"],
      ["myreg.azurecr.io/team/api:2.0", "pulled 2026-11-29 (Log Analytics)"],
    ]);
  });
});

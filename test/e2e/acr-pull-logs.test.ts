import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import { type BuiltManifest, buildImage, pushManifest } from "../../src/fixtures/image-factory.js";
import { type Plan, planSchema } from "../../src/plan/plan-schema.js";
import { acrPullLogsSource } from "../../src/usage/azure/acr-pull-logs-source.js";
import { StaticTokenCredential } from "../../src/usage/azure/azure-context.js";
import { connect, runCli, tempDir, uniqueRepo } from "../integration/helpers.js";
import { type LogAnalyticsServer, startLogAnalyticsServer } from "../servers/log-analytics-server.js";

const DAY = 86_400_000;
const TOKEN = "static-azure-token-for-logs";
const COLUMNS = [
  { name: "Repository", type: "string" },
  { name: "Tag", type: "string" },
  { name: "Digest", type: "string" },
  { name: "TimeGenerated", type: "datetime" },
  { name: "CallerIpAddress", type: "string" },
];

describe("acrPullLogs: keep what was pulled recently (Log Analytics, end to end)", () => {
  const url = inject("registryUrl");
  const host = inject("registryHost");
  const { registry } = connect(url);
  const p = uniqueRepo("pulls");
  const images: Record<string, BuiltManifest> = {};
  let logs: LogAnalyticsServer;
  let dir: string;

  beforeAll(async () => {
    for (const name of ["pulled-by-digest", "pulled-by-tag", "pulled-long-ago", "never-pulled"]) {
      images[name] = buildImage({ seed: `${p} ${name}`, created: new Date(Date.now() - 100 * DAY) });
      await pushManifest(registry, `${p}/app`, images[name] as BuiltManifest, [name]);
    }
    const at = (days: number) => new Date(Date.now() - days * DAY).toISOString();
    const pulls: [string, string, string, string, string][] = [
      [`${host}`, "", images["pulled-by-digest"]?.digest ?? "", at(2), "10.1.2.3"],
      [`${host}`, "pulled-by-tag", "", at(5), "10.9.9.9"],
      [`${host}`, "pulled-long-ago", images["pulled-long-ago"]?.digest ?? "", at(60), "10.4.4.4"],
      ["other.azurecr.io", "never-pulled", images["never-pulled"]?.digest ?? "", at(1), "10.5.5.5"],
    ];
    logs = await startLogAnalyticsServer(
      {
        "ws-with-logs": {
          tables: ["ContainerRegistryRepositoryEvents"],
          // The service filters by the timespan and the query's login server; the test does the same.
          answer: (query, timespan) => {
            const seconds = Number(/^PT(\d+)S$/.exec(timespan ?? "")?.[1] ?? Number.NaN);
            const server = /LoginServer =~ "([^"]+)"/.exec(query)?.[1];
            return {
              columns: COLUMNS,
              rows: pulls
                .filter(
                  ([login, , , time]) => login === server && Date.parse(time) > Date.now() - seconds * 1000,
                )
                .map(([, tag, digest, time, ip]) => [`${p}/app`, tag, digest, time, ip]),
            };
          },
        },
        "ws-without-logs": { tables: ["AzureActivity"] },
        "ws-hanging": { tables: ["ContainerRegistryRepositoryEvents"], hang: true },
      },
      { token: TOKEN },
    );
    dir = await tempDir();
  });

  afterAll(async () => {
    await logs?.stop();
  });

  const plan = async (source: Record<string, unknown>, policy: Record<string, unknown> = {}) => {
    const file = join(dir, `cfg-${Math.random().toString(36).slice(2)}.yaml`);
    await writeFile(
      file,
      stringify({
        registry: { url },
        policy: { filters: [`${p}/.*:.*`], ago: "30d", ...policy },
        azure: { caFile: logs.caCertPath },
        usage: [{ type: "acrPullLogs", endpoint: logs.endpoint, ...source }],
        audit: { dir: join(dir, "audits") },
      }),
    );
    const res = await runCli(["plan", "--config", file, "--no-cache", "--format", "json"], {
      env: { REGSWEEP_AZURE_TOKEN: TOKEN },
    });
    return { ...res, plan: res.code === 0 ? planSchema.parse(JSON.parse(res.stdout)) : undefined };
  };
  const deletes = (plan: Plan, name: string) => plan.delete.some((d) => d.digest === images[name]?.digest);
  const sourcesOf = (plan: Plan, name: string) =>
    (plan.keep.find((k) => k.digest === images[name]?.digest)?.reasons ?? []).map((r) => r.source ?? "");

  it("keeps digests pulled within protectPulledWithin, and not those pulled before it", async () => {
    const res = await plan({ workspaceId: "ws-with-logs" }, { protectPulledWithin: "30d" });
    expect(res.stderr).not.toMatch(/regsweep:/);
    expect(res.code).toBe(0);
    const result = res.plan as Plan;
    expect(deletes(result, "pulled-by-digest")).toBe(false);
    expect(deletes(result, "pulled-by-tag")).toBe(false);
    expect(deletes(result, "pulled-long-ago")).toBe(true);
    expect(deletes(result, "never-pulled")).toBe(true); // pulled from another registry only
    const day = new Date(Date.now() - 2 * DAY).toISOString().slice(0, 10);
    expect(sourcesOf(result, "pulled-by-digest")).toContain(`pulled ${day} by 10.1.2.3 (Log Analytics)`);
    expect(sourcesOf(result, "pulled-by-tag")[0]).toMatch(
      /^pulled \d{4}-\d\d-\d\d by 10\.9\.9\.9 \(Log Analytics\)$/,
    );
    // The pulls came from the logs: no warning that nothing recorded pull times.
    expect(result.warnings ?? []).not.toContainEqual(expect.stringMatching(/recorded no pull times/));
    const query = logs.queries.at(-1);
    expect(query?.workspaceId).toBe("ws-with-logs");
    expect(query?.query).toMatch(/^ContainerRegistryRepositoryEvents\n/);
    expect(query?.query).toMatch(/OperationName == "Pull"/);
    expect(query?.timespan).toBe(`PT${30 * 86_400}S`);
    expect(query?.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it("the source's own within overrides the policy window", async () => {
    const res = await plan({ workspaceId: "ws-with-logs", within: "90d" });
    expect(res.code).toBe(0);
    expect(deletes(res.plan as Plan, "pulled-long-ago")).toBe(false);
  });

  it("without any window it is a configuration error (exit 2)", async () => {
    const res = await plan({ workspaceId: "ws-with-logs" });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/acrPullLogs .*protectPulledWithin/);
  });

  it("a workspace without the registry's logs fails closed (exit 3), naming the diagnostic setting", async () => {
    const res = await plan({ workspaceId: "ws-without-logs" }, { protectPulledWithin: "30d" });
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(
      new RegExp(
        `acrPullLogs \\(workspace ws-without-logs\\).*diagnostic setting to registry ${host.replace(/\./g, "\\.")} .*ContainerRegistryRepositoryEvents`,
      ),
    );
    expect(res.stderr).toMatch(/Nothing was deleted/);
  });

  it("optional: a workspace without the logs is a warning, and the run goes on", async () => {
    const res = await plan(
      { workspaceId: "ws-without-logs", optional: true },
      { protectPulledWithin: "30d" },
    );
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(
      /optional usage source acrPullLogs .*failed and is ignored: .*diagnostic setting/,
    );
  });

  it("an aborted read closes its request (the client's own options would drop the signal)", async () => {
    const source = acrPullLogsSource({
      workspaceId: "ws-hanging",
      loginServer: host,
      withinMs: DAY,
      credential: new StaticTokenCredential(TOKEN),
      endpoint: logs.endpoint,
      tlsOptions: { ca: [logs.caCertPem] },
    });
    const controller = new AbortController();
    const before = logs.queries.length;
    const loading = source.load(controller.signal);
    const settled = loading.then(
      () => "resolved",
      () => "rejected",
    );
    while (logs.queries.length === before) await new Promise((r) => setImmediate(r));
    controller.abort(new Error("the run was cancelled"));
    expect(await settled).toBe("rejected");
    await logs.queries.at(-1)?.closed;
  });
});

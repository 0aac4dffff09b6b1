import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import { tempDir } from "../integration/helpers.js";
import { type ArmServer, startArmServer } from "../servers/arm/arm-server.js";
import { type KubeApiServer, startKubeApiServer } from "../servers/kube-api-server.js";

const BIN = resolve(import.meta.dirname, "../../bin/regsweep.js");

/**
 * Runs the CLI and measures how long the process lives. A process still alive after `killAfterMs`
 * is killed and reported as hung, so a regression fails the test instead of hanging the suite.
 */
function runTimed(
  args: readonly string[],
  env: Record<string, string>,
  killAfterMs = 25_000,
): Promise<{ code: number; stdout: string; stderr: string; elapsedMs: number; hung: boolean }> {
  return new Promise((done, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let hung = false;
    const killer = setTimeout(() => {
      hung = true;
      child.kill("SIGKILL");
    }, killAfterMs);
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(killer);
      done({ code: code ?? -1, stdout, stderr, elapsedMs: performance.now() - started, hung });
    });
  });
}

describe("a usage source that never answers", () => {
  const url = inject("registryUrl");
  let hanging: KubeApiServer;
  let dir: string;

  beforeAll(async () => {
    hanging = await startKubeApiServer({}, { hang: true });
    dir = await tempDir();
  });
  afterAll(async () => {
    await hanging?.stop();
  });

  it("fails the run with exit 3 naming the source, and the process ends within seconds", async () => {
    const kubeconfig = join(dir, "hung-kubeconfig");
    await writeFile(kubeconfig, hanging.kubeconfig({ contextName: "stuck", plainHttp: true }));
    const res = await runTimed(
      [
        "plan",
        "--registry",
        url,
        "--kubeconfig",
        kubeconfig,
        "--no-cache",
        "--audit-dir",
        join(dir, "audits"),
      ],
      { REGSWEEP_SOURCE_TIMEOUT_SECONDS: "5" },
    );
    expect(hanging.requests.length).toBeGreaterThan(0);
    expect(res.hung, `still alive after 25 s; stderr: ${res.stderr}`).toBe(false);
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(
      /usage source kubernetes \(current context of .*hung-kubeconfig\) failed: no answer within 5 s/,
    );
    expect(res.elapsedMs).toBeLessThan(15_000);
  });

  it("doctor reports the hung source as failed, and ends within seconds", async () => {
    const kubeconfig = join(dir, "hung-kubeconfig-doctor");
    await writeFile(kubeconfig, hanging.kubeconfig({ contextName: "stuck", plainHttp: true }));
    const res = await runTimed(["doctor", "--registry", url, "--kubeconfig", kubeconfig, "--no-cache"], {
      REGSWEEP_SOURCE_TIMEOUT_SECONDS: "2",
    });
    expect(res.hung, `still alive after 25 s; stderr: ${res.stderr}`).toBe(false);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(
      /FAIL {2}usage source kubernetes .*hung-kubeconfig-doctor.*no answer within 2 s/,
    );
    expect(res.elapsedMs).toBeLessThan(10_000);
  });
});

describe("an Azure usage source that never answers", () => {
  const url = inject("registryUrl");
  const SUB = "00000000-0000-0000-0000-00000000bbbb";
  const TOKEN = "static-azure-token-for-hang-tests";
  let arm: ArmServer;
  let dir: string;

  beforeAll(async () => {
    arm = await startArmServer(
      { subscriptions: { [SUB]: {} } },
      { token: TOKEN, hangOn: "Microsoft.Web/sites" },
    );
    dir = await tempDir();
  });
  afterAll(async () => {
    await arm?.stop();
  });

  it("appservice: exit 3 naming the source, and the process ends within seconds", async () => {
    const config = join(dir, "regsweep.yaml");
    await writeFile(
      config,
      stringify({
        registry: { url },
        azure: { subscriptions: [SUB], resourceManagerEndpoint: arm.endpoint, caFile: arm.caCertPath },
        usage: [{ type: "appservice" }],
        audit: { dir: join(dir, "audits") },
      }),
    );
    const res = await runTimed(["plan", "--config", config, "--no-cache"], {
      REGSWEEP_SOURCE_TIMEOUT_SECONDS: "2",
      REGSWEEP_AZURE_TOKEN: TOKEN,
    });
    expect(res.hung, `still alive after 25 s; stderr: ${res.stderr}`).toBe(false);
    expect(res.code, res.stderr).toBe(3);
    expect(res.stderr).toMatch(/usage source appservice failed: no answer within 2 s/);
    expect(res.elapsedMs).toBeLessThan(10_000);
  });
});

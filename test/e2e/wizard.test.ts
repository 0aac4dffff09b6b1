import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parse, stringify } from "yaml";
import { loadConfig } from "../../src/config/load-config.js";
import { type BuiltManifest, buildImage, pushManifest } from "../../src/fixtures/image-factory.js";
import { type Plan, planSchema } from "../../src/plan/plan-schema.js";
import { connect, runCli, tempDir, uniqueRepo } from "../integration/helpers.js";
import { type ArmServer, startArmServer } from "../servers/arm/arm-server.js";

const BIN = resolve(import.meta.dirname, "../../bin/regsweep.js");
const DAY = 86_400_000;
const SUB = "00000000-0000-0000-0000-0000000000w1";
const OTHER_SUB = "00000000-0000-0000-0000-0000000000w2";
const AZURE_TOKEN = "static-azure-token-for-the-wizard";
const KEY = { enter: "\r", down: "\x1b[B", ctrlC: "\x03" };

// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escape sequences are what we strip
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r/g;

/**
 * The CLI on a real pseudo-terminal (util-linux `script`): the test waits for a prompt's text in
 * what the terminal shows, then types as a person would. A prompt that never comes fails the wait
 * with the screen so far, instead of hanging the test.
 */
function onTty(args: string[], options: { cwd: string; env: Record<string, string | undefined> }) {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const env = { ...process.env, ...options.env };
  for (const [k, v] of Object.entries(options.env)) if (v === undefined) delete env[k];
  const child = spawn("script", ["-qfec", quoted, "/dev/null"], {
    cwd: options.cwd,
    env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let screen = "";
  let seen = 0;
  let waiter: (() => void) | undefined;
  const onData = (d: Buffer) => {
    screen += d.toString("utf8");
    waiter?.();
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const exited = new Promise<{ code: number; screen: string }>((done, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      waiter?.();
      done({ code: code ?? -1, screen: screen.replace(ANSI, "") });
    });
  });
  return {
    exited,
    /** Resolves once `text` shows after what earlier waits consumed. */
    waitFor(text: RegExp, ms = 20_000): Promise<void> {
      return new Promise((done, reject) => {
        const timer = setTimeout(() => {
          waiter = undefined;
          reject(
            new Error(`no ${text} on the terminal within ${ms} ms; it shows:\n${screen.replace(ANSI, "")}`),
          );
        }, ms);
        const check = () => {
          const rest = screen.slice(seen).replace(ANSI, "");
          const m = text.exec(rest);
          if (m) {
            // Consume up to the match in the raw text: find its end by re-scanning prefixes.
            let end = seen;
            while (end < screen.length && !text.test(screen.slice(seen, end).replace(ANSI, ""))) end++;
            seen = end;
            clearTimeout(timer);
            waiter = undefined;
            done();
          } else if (child.exitCode !== null) {
            clearTimeout(timer);
            reject(new Error(`exited before ${text}; it shows:\n${screen.replace(ANSI, "")}`));
          }
        };
        waiter = check;
        check();
      });
    },
    type(keys: string): void {
      child.stdin.write(keys);
    },
    end(): void {
      child.stdin.end();
    },
  };
}

describe("regsweep wizard at a terminal (ARM server, real registry)", () => {
  const url = inject("registryUrl");
  const host = inject("registryHost");
  const { registry } = connect(url);
  const p = uniqueRepo("wizard");
  const images: Record<string, BuiltManifest> = {};
  let arm: ArmServer;
  let dir: string;
  let base: string;
  const env = () => ({
    REGSWEEP_AZURE_TOKEN: AZURE_TOKEN,
    AZURE_SUBSCRIPTION_ID: undefined,
    AZURE_ACR_NAME: undefined,
    AZURE_ACR_RESOURCE_GROUP: undefined,
    REGSWEEP_REGISTRY: undefined,
  });
  const present = async (name: string) =>
    (await registry.headManifest(`${p}/web`, images[name]?.digest ?? "")) !== undefined;

  beforeAll(async () => {
    for (const [name, days] of [
      ["used", 100],
      ["old", 100],
      ["new", 1],
    ] as const) {
      images[name] = buildImage({ seed: `${p} ${name}`, created: new Date(Date.now() - days * DAY) });
      await pushManifest(registry, `${p}/web`, images[name], [name]);
    }
    arm = await startArmServer(
      {
        subscriptions: {
          [OTHER_SUB]: { displayName: "Sandbox" },
          [SUB]: {
            displayName: "Production",
            registries: [
              { resourceGroup: "rg-elsewhere", name: "notthisone" },
              { resourceGroup: "rg-acr", name: "testacr", loginServer: host },
            ],
            webApps: [
              {
                resourceGroup: "rg-web",
                name: "web1",
                kind: "app,linux,container",
                siteConfig: { linuxFxVersion: "DOCKER|docker.io/library/nginx:1.27" },
                slots: [{ name: "staging", siteConfig: { linuxFxVersion: `DOCKER|${host}/${p}/web:used` } }],
              },
            ],
          },
        },
      },
      { token: AZURE_TOKEN },
    );
    dir = await tempDir();
    base = join(dir, "base.yaml");
    await writeFile(
      base,
      stringify({
        registry: { cacheDir: join(dir, "cache") },
        policy: { filters: [`${p}/.*:.*`] },
        azure: { resourceManagerEndpoint: arm.endpoint, caFile: arm.caCertPath },
        audit: { dir: join(dir, "audits") },
      }),
    );
  });
  afterAll(async () => {
    await arm?.stop();
  });

  it("answers typed, plan shown, dry run chosen: nothing deleted, configuration written, same plan from plan --config", async () => {
    const tty = onTty(["wizard", "--config", base, "-o", "out/regsweep.yaml"], { cwd: dir, env: env() });
    await tty.waitFor(/Subscription:[\s\S]*Production \([0-]+w1\)/);
    tty.type(KEY.down + KEY.enter); // the second subscription: Production
    await tty.waitFor(/Registry:[\s\S]*testacr/);
    tty.type(KEY.down + KEY.enter);
    // App Service is pre-selected because the subscription has web apps; nothing else is.
    await tty.waitFor(/App Service and slots[^\n]*found in the subscription[\s\S]*Container Instances/);
    tty.type(KEY.enter);
    await tty.waitFor(/Repositories and tags/);
    tty.type(KEY.enter);
    await tty.waitFor(/older than/);
    tty.type(KEY.enter);
    await tty.waitFor(/Keep the newest/);
    tty.type(KEY.enter);
    await tty.waitFor(/untagged/);
    tty.type(KEY.enter);
    await tty.waitFor(/What now\?[\s\S]*2\. delete/);
    tty.type(KEY.enter);
    const { code, screen } = await tty.exited;
    tty.end();
    expect(code, screen).toBe(0);
    expect(screen).toMatch(new RegExp(`${p}/web[\\s\\S]*old`));
    expect(screen).toMatch(/Dry run: nothing was deleted/);
    expect(screen).toMatch(/regsweep plan --config out\/regsweep\.yaml/);
    for (const name of ["used", "old", "new"]) expect(await present(name)).toBe(true);

    const file = join(dir, "out", "regsweep.yaml");
    const text = await readFile(file, "utf8");
    expect(text).not.toContain(AZURE_TOKEN);
    expect(parse(text)).toMatchObject({
      registry: { url: `http://${host}` },
      policy: { filters: [`${p}/.*:.*`], ago: "30d", untagged: true },
      azure: { subscriptions: [SUB], registryResourceGroup: "rg-acr", resourceManagerEndpoint: arm.endpoint },
      usage: [{ type: "appservice" }],
    });
    await loadConfig(file, {});

    const planFile = screen.match(/Plan: (\S+_plan\.json)/)?.[1] ?? "";
    const wizardPlan = planSchema.parse(JSON.parse(await readFile(resolve(dir, planFile), "utf8")));
    const again = await runCli(["plan", "--config", file, "--format", "json"], {
      cwd: dir,
      env: { REGSWEEP_AZURE_TOKEN: AZURE_TOKEN },
    });
    expect(again.code, again.stderr).toBe(0);
    const replanned = JSON.parse(again.stdout) as Plan;
    const digests = (plan: Plan) => plan.delete.map((d) => d.digest).sort();
    expect(digests(replanned)).toEqual(digests(wizardPlan));
    expect(digests(wizardPlan)).toEqual([images.old?.digest]);
  });

  it("again from the written file, delete chosen with the strict confirmation: the plan is applied", async () => {
    const file = join(dir, "out", "regsweep.yaml");
    expect(existsSync(file)).toBe(true);
    const tty = onTty(["wizard", "--config", file, "-o", file], { cwd: dir, env: env() });
    // Subscription and registry come from the file: not asked again.
    await tty.waitFor(/Subscription: [0-]+w1[\s\S]*Registry: http:/);
    await tty.waitFor(/Which workloads/);
    tty.type(KEY.enter);
    for (const prompt of [/Repositories and tags/, /older than/, /Keep the newest/, /untagged/]) {
      await tty.waitFor(prompt);
      tty.type(KEY.enter);
    }
    await tty.waitFor(/What now\?/);
    tty.type(KEY.down + KEY.enter);
    await tty.waitFor(/About to delete 1 manifests[\s\S]*Type yes:/);
    tty.type("yes\r");
    await tty.waitFor(/Type DELETE/);
    tty.type("DELETE\r");
    const { code, screen } = await tty.exited;
    tty.end();
    expect(code, screen).toBe(0);
    expect(screen).toMatch(/Deleted 1,/);
    expect(screen).toMatch(/regsweep run --config \S+regsweep\.yaml --confirm strict/);
    expect(await present("old")).toBe(false);
    expect(await present("used")).toBe(true);
    expect(await present("new")).toBe(true);
  });

  it("Ctrl+C at a question ends the wizard (exit 130), deleting nothing", async () => {
    const tty = onTty(["wizard", "--config", base, "-o", "cancelled.yaml"], { cwd: dir, env: env() });
    await tty.waitFor(/Subscription:/);
    tty.type(KEY.ctrlC);
    const { code, screen } = await tty.exited;
    tty.end();
    expect(code, screen).toBe(130);
    expect(screen).toMatch(/Cancelled: nothing was deleted/);
    expect(existsSync(join(dir, "cancelled.yaml"))).toBe(false);
  });

  it("bare regsweep at a terminal is the wizard", async () => {
    const tty = onTty([], { cwd: dir, env: { ...env(), AZURE_SUBSCRIPTION_ID: SUB } });
    await tty.waitFor(/Answer a few questions[\s\S]*Subscription: [0-]+w1/);
    tty.type(KEY.ctrlC);
    const { code } = await tty.exited;
    tty.end();
    expect(code).not.toBe(0);
  });
});

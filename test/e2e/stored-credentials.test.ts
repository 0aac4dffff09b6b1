import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildImage, pushManifest } from "../../src/fixtures/image-factory.js";
import { type RunningRegistry, startRegistry } from "../harness/registry-process.js";
import { startTokenServer, type TokenServer } from "../harness/token-server.js";
import { connect, runCli, tempDir } from "../integration/helpers.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");

/** Logins the machine already has: Docker's config.json, podman's auth.json, credential helpers. */
describe("registry credentials the machine already has", () => {
  let registry: RunningRegistry;
  beforeAll(async () => {
    registry = await startRegistry({ auth: { htpasswd: { alice: "alice-Pw-1" } } });
    const { registry: pusher, transport } = connect(
      registry.url,
      {},
      { credentials: { username: "alice", password: "alice-Pw-1" } },
    );
    await pushManifest(pusher, "team/app", buildImage({ seed: "stored credentials" }), ["1.0"]);
    await transport.close();
  });
  afterAll(() => registry?.stop());

  /** A clean home (no login of the machine running the tests leaks in) with the given files. */
  async function home(files: Record<string, unknown>) {
    const dir = await tempDir();
    for (const [path, content] of Object.entries(files)) {
      await mkdir(join(dir, path, ".."), { recursive: true });
      await writeFile(join(dir, path), typeof content === "string" ? content : JSON.stringify(content));
    }
    return {
      dir,
      env: { HOME: dir, XDG_CONFIG_HOME: join(dir, ".config"), XDG_RUNTIME_DIR: join(dir, "run") },
    };
  }

  const scan = (env: Record<string, string>, ...more: string[]) =>
    runCli(["scan", "--registry", registry.url, "--no-cache", "--format", "json", ...more], { env });

  it("without any login the registry refuses: the same scan that works with one", async () => {
    const { env } = await home({});
    const res = await scan(env);
    expect(res.code).toBe(1);
  });

  it("~/.docker/config.json auths (base64 user:password); doctor names the file, never the password", async () => {
    const { env } = await home({
      ".docker/config.json": { auths: { [`http://${registry.host}`]: { auth: b64("alice:alice-Pw-1") } } },
    });
    const res = await scan(env);
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout).repositories.map((r: { repository: string }) => r.repository)).toContain(
      "team/app",
    );
    const doctor = await runCli(["doctor", "--registry", registry.url, "--no-cache"], { env });
    expect(doctor.stdout).toMatch(/ok {4}registry: .*credentials from ~\/\.docker\/config\.json \(auths\)/);
    expect(`${doctor.stdout}${doctor.stderr}`).not.toContain("alice-Pw-1");
  });

  it("DOCKER_CONFIG, and podman's auth.json (REGISTRY_AUTH_FILE, then XDG_RUNTIME_DIR)", async () => {
    const entry = { auths: { [registry.host]: { auth: b64("alice:alice-Pw-1") } } };
    const docker = await home({ "elsewhere/config.json": entry });
    expect((await scan({ ...docker.env, DOCKER_CONFIG: join(docker.dir, "elsewhere") })).code).toBe(0);
    const podman = await home({ "auth.json": entry });
    expect((await scan({ ...podman.env, REGISTRY_AUTH_FILE: join(podman.dir, "auth.json") })).code).toBe(0);
    const runtime = await home({ "run/containers/auth.json": entry });
    expect((await scan(runtime.env)).code).toBe(0);
  });

  it("a credential helper (credHelpers, credsStore) is asked through the docker-credential protocol", async () => {
    const { dir, env } = await home({
      ".docker/config.json": { credHelpers: { [registry.host]: "regtest" } },
    });
    const bin = join(dir, "bin");
    await mkdir(bin);
    const helper = join(bin, "docker-credential-regtest");
    // The protocol: `get`, the server on stdin, {ServerURL, Username, Secret} on stdout.
    await writeFile(
      helper,
      `#!/bin/sh\nread server\necho "$1 $server" >> "${join(dir, "asked")}"\necho '{"ServerURL":"'"$server"'","Username":"alice","Secret":"alice-Pw-1"}'\n`,
    );
    await chmod(helper, 0o755);
    const withHelper = { ...env, PATH: `${bin}:${process.env.PATH}` };
    const res = await scan(withHelper);
    expect(res.code, res.stderr).toBe(0);
    expect((await readFile(join(dir, "asked"), "utf8")).trim().split("\n")[0]).toBe(`get ${registry.host}`);
    const doctor = await runCli(["doctor", "--registry", registry.url, "--no-cache"], { env: withHelper });
    expect(doctor.stdout).toContain(
      "credentials from docker-credential-regtest (credHelpers in ~/.docker/config.json)",
    );

    await writeFile(join(dir, ".docker/config.json"), JSON.stringify({ credsStore: "regtest" }));
    expect((await scan(withHelper)).code).toBe(0);

    // A helper that fails is an error naming it, not a silent anonymous scan.
    await writeFile(helper, "#!/bin/sh\necho 'keychain locked' >&2\nexit 1\n");
    const broken = await scan(withHelper);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(
      /docker-credential-regtest \(credsStore in ~\/\.docker\/config\.json\) failed: keychain locked/,
    );
  });

  it("flags win over files: a wrong --username/REGSWEEP_PASSWORD is refused although the file holds a good login", async () => {
    const { env } = await home({
      ".docker/config.json": { auths: { [registry.host]: { auth: b64("alice:alice-Pw-1") } } },
    });
    const res = await scan({ ...env, REGSWEEP_PASSWORD: "wrong" }, "--username", "alice");
    expect(res.code).toBe(1);
    expect(res.stderr).not.toContain("alice-Pw-1");
  });

  it("an unreadable config.json is bad usage naming the file", async () => {
    const { env } = await home({ ".docker/config.json": "{not json" });
    const res = await scan(env);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/config\.json is not JSON/);
  });
});

describe("an identity token (docker login's identitytoken) is exchanged, never sent as a password", () => {
  let tokens: TokenServer;
  let registry: RunningRegistry;
  const service = "stored-creds";
  const issuer = "stored-creds-issuer";
  beforeAll(async () => {
    const dir = await tempDir();
    tokens = await startTokenServer({
      users: { bob: "bob-Pw" },
      service,
      issuer,
      dir,
      refreshTokens: { "refresh-XYZ": "bob" },
    });
    registry = await startRegistry({
      auth: {
        token: { realm: tokens.realm, service, issuer, rootCertBundlePath: tokens.rootCertBundlePath },
      },
    });
    const { registry: pusher, transport } = connect(
      registry.url,
      {},
      { credentials: { username: "bob", password: "bob-Pw" } },
    );
    await pushManifest(pusher, "team/tok", buildImage({ seed: "identity token" }), ["1"]);
    await transport.close();
  });
  afterAll(async () => {
    await registry?.stop();
    await tokens?.stop();
  });

  it("signs in with the refresh_token grant", async () => {
    const dir = await tempDir();
    await mkdir(join(dir, ".docker"));
    await writeFile(
      join(dir, ".docker/config.json"),
      JSON.stringify({
        auths: {
          [registry.host]: {
            auth: b64("00000000-0000-0000-0000-000000000000:"),
            identitytoken: "refresh-XYZ",
          },
        },
      }),
    );
    const res = await runCli(["scan", "--registry", registry.url, "--no-cache", "--format", "json"], {
      env: { HOME: dir, XDG_CONFIG_HOME: join(dir, ".config"), XDG_RUNTIME_DIR: join(dir, "run") },
    });
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout).repositories.map((r: { repository: string }) => r.repository)).toContain(
      "team/tok",
    );
  });
});

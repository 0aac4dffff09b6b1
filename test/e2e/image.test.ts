import { randomBytes } from "node:crypto";
import { chmod, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { connect, runProcess, tempDir } from "../integration/helpers.js";
import { dryRunPurgeArgs, packageVersion, seedOldLiveRecent } from "./package-consumer.js";

// The image scripts/build-image.sh built (.ci/run builds it and sets this); without it, nothing to run.
const IMAGE = process.env.REGSWEEP_IMAGE ?? "";
const skip = IMAGE ? false : "set REGSWEEP_IMAGE to an image scripts/build-image.sh built";
// What works in this sandbox: vfs storage, chroot isolation (which shares the host's network, so
// the container reaches the test registry on 127.0.0.1).
const STORAGE = ["--storage-driver", "vfs"];
const UID = 65532;

interface ImageConfig {
  Entrypoint: string[];
  User: string;
  WorkingDir: string;
  Labels: Record<string, string>;
}

function buildah(args: readonly string[], stdin?: string) {
  return runProcess("buildah", [...STORAGE, ...args], { env: process.env, stdin });
}

describe.skipIf(skip)(`the container image${skip ? ` (${skip})` : ""}`, () => {
  const url = inject("registryUrl");
  const host = inject("registryHost");
  const { registry } = connect(url);
  let config: ImageConfig;
  let container = "";

  beforeAll(async () => {
    const inspected = await buildah(["inspect", "--type", "image", IMAGE]);
    expect(inspected.code, inspected.stderr).toBe(0);
    config = (JSON.parse(inspected.stdout) as { OCIv1: { config: ImageConfig } }).OCIv1.config;
    const name = `regsweep-test-${randomBytes(4).toString("hex")}`;
    const from = await buildah(["from", "--pull-never", "--name", name, IMAGE]);
    expect(from.code, from.stderr).toBe(0);
    container = name;
  }, 300_000);

  afterAll(async () => {
    if (container) await buildah(["rm", container]);
  });

  /** Runs the image's ENTRYPOINT with these arguments, as `docker run IMAGE ARGS…` would. */
  function runImage(args: readonly string[], options: { volume?: string; stdin?: string } = {}) {
    const volume = options.volume ? ["--volume", `${options.volume}:/work`] : [];
    return buildah(
      ["run", "--isolation", "chroot", ...volume, container, "--", ...config.Entrypoint, ...args],
      options.stdin,
    );
  }

  /** Runs node in the container (the image's user, working directory unless given). */
  function runNode(args: readonly string[], workdir?: string) {
    const at = workdir ? ["--workingdir", workdir] : [];
    return buildah(["run", "--isolation", "chroot", ...at, container, "--", "node", ...args]);
  }

  it("is regsweep, non-root, working in /work, with the OCI labels", async () => {
    expect(config.Entrypoint).toEqual(["regsweep"]);
    expect(config.User).toBe(`${UID}:${UID}`);
    expect(config.WorkingDir).toBe("/work");
    expect(config.Labels).toMatchObject({
      "org.opencontainers.image.title": "regsweep",
      "org.opencontainers.image.version": await packageVersion(),
      "org.opencontainers.image.licenses": "MIT",
      "org.opencontainers.image.source": expect.stringMatching(/^https:\/\//),
      "org.opencontainers.image.description": expect.stringContaining("registries"),
    });
  });

  it("--version prints the package's version", async () => {
    const res = await runImage(["--version"]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout.trim()).toBe(await packageVersion());
  }, 120_000);

  it("runs as the non-root user, with /work (its HOME too) writable by it", async () => {
    const res = await runNode([
      "-e",
      'require("fs").writeFileSync("probe", "x"); console.log(process.getuid(), process.getgid(), process.cwd(), require("os").homedir())',
    ]);
    expect(res.code, res.stderr).toBe(0);
    // HOME in /work as well: the default cache directory and ~/.docker/config.json are writable and mountable.
    expect(res.stdout.trim()).toBe(`${UID} ${UID} /work /work`);
  }, 120_000);

  it("ships the licence beside the code", async () => {
    const res = await runNode(["-p", 'require("fs").readFileSync("/app/LICENSE", "utf8")']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toBe(`${await readFile(join(import.meta.dirname, "../../LICENSE"), "utf8")}\n`);
  }, 120_000);

  it("every production dependency loads (the node_modules pruning removed nothing that runs)", async () => {
    const script = `
      import { readFileSync } from "node:fs";
      const deps = Object.keys(JSON.parse(readFileSync("package.json", "utf8")).dependencies);
      const failed = [];
      for (const d of deps) { try { await import(d); } catch (e) { failed.push(d + ": " + e.message); } }
      console.log(JSON.stringify({ loaded: deps.length, failed }));`;
    const res = await runNode(["--input-type=module", "-e", script], "/app");
    expect(res.code, res.stderr).toBe(0);
    const manifest = JSON.parse(await readFile(join(import.meta.dirname, "../../package.json"), "utf8"));
    expect(JSON.parse(res.stdout)).toEqual({ loaded: Object.keys(manifest.dependencies).length, failed: [] });
  }, 120_000);

  it("scans the registry on 127.0.0.1", async () => {
    const s = await seedOldLiveRecent(registry, host, "image");
    const res = await runImage([
      "scan",
      "--registry",
      url,
      "--insecure",
      "--filter",
      s.repo,
      "--no-cache",
      "--format",
      "json",
    ]);
    expect(res.code, res.stderr).toBe(0);
    const found = JSON.parse(res.stdout) as { registry: string; repositories: unknown[] };
    expect(found.registry).toBe(host);
    expect(found.repositories).toEqual([
      expect.objectContaining({ repository: s.repo, manifests: 3, tags: 3, untagged: 0 }),
    ]);
  }, 120_000);

  it("plans a purge with a volume on /work: the in-use list read there, the plan and audit written there, only the unused old image planned, nothing deleted", async () => {
    const s = await seedOldLiveRecent(registry, host, "image");
    const dir = await tempDir("regsweep-image-");
    try {
      // The container's user is not the test's: it must be able to write the mounted directory.
      await chmod(dir, 0o777);
      await writeFile(join(dir, "in-use.txt"), `${s.inUse}\n`);
      const res = await runImage(dryRunPurgeArgs(url, s.repo), { volume: dir });
      expect(res.code, res.stderr).toBe(0);
      const plan = JSON.parse(await readFile(join(dir, "plan.json"), "utf8")) as {
        delete: { repository: string; digest: string }[];
        keep: { digest: string; reasons: { rule: string }[] }[];
      };
      expect(plan.delete.map((d) => `${d.repository}@${d.digest}`)).toEqual([`${s.repo}@${s.old.digest}`]);
      const rules = (digest: string) =>
        plan.keep.find((k) => k.digest === digest)?.reasons.map((r) => r.rule);
      expect(rules(s.live.digest)).toContain("in-use");
      expect(rules(s.recent.digest)).toContain("too-recent");
      expect((await readdir(join(dir, "audits"))).filter((n) => n.endsWith(".json"))).not.toEqual([]);
      expect(await registry.headManifest(s.repo, s.old.digest)).toBeDefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

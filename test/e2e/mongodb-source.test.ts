import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ObjectId } from "bson";
import { afterEach, describe, expect, inject, it } from "vitest";
import { type BuiltManifest, buildImage, pushManifest } from "../../src/fixtures/image-factory.js";
import { planSchema } from "../../src/plan/plan-schema.js";
import { connect, runCli, tempDir, uniqueRepo } from "../integration/helpers.js";
import { type MongoServer, startMongoServer } from "../servers/mongo-server.js";

const ago = (days: number) => new Date(Date.now() - days * 86_400_000);
const BIN = resolve(import.meta.dirname, "../../bin/regsweep.js");

/** Images a Domino-shaped database records stay; the ones it does not are deleted. */
describe("mongodb usage source", () => {
  const url = inject("registryUrl");
  const { registry } = connect(url);
  let mongo: MongoServer | undefined;
  afterEach(async () => {
    await mongo?.stop();
    mongo = undefined;
  });

  async function seed() {
    const env = uniqueRepo("domino-env");
    const images: Record<string, BuiltManifest> = {};
    for (const [name, repo, tag] of [
      ["rev1", `${env}/environment`, "62f-1"],
      ["rev2", `${env}/environment`, "62f-2"],
      ["orphan", `${env}/environment`, "62f-9"],
      ["model", "dominodatalab/model", `${env}-v3`],
      ["stale-model", "dominodatalab/model", `${env}-v1`],
    ] as const) {
      images[name] = buildImage({ seed: `${env} ${name}`, created: ago(90) });
      await pushManifest(registry, repo, images[name] as BuiltManifest, [tag]);
    }
    const databases = {
      domino: {
        environment_revisions: [
          {
            _id: new ObjectId(),
            metadata: { dockerImageName: { repository: `${env}/environment`, tag: "62f-1" } },
          },
          {
            _id: new ObjectId(),
            metadata: { dockerImageName: { repository: `${env}/environment`, tag: "62f-2" } },
          },
        ],
        model_versions: [
          { _id: new ObjectId(), metadata: { builds: [{ slug: { image: { tag: `${env}-v3` } } }] } },
        ],
      },
    };
    const dir = await tempDir();
    return { env, images, databases, dir };
  }

  it("the Domino preset with only the URI: recorded images stay, unrecorded ones go, each reason naming the record", async () => {
    const s = await seed();
    mongo = await startMongoServer({ databases: s.databases, username: "domino", password: "s3cret-Pw" });
    const config = join(s.dir, "regsweep.yaml");
    await writeFile(
      config,
      `registry:\n  url: ${url}\npolicy:\n  filters: ["${s.env}/.*:.*", "dominodatalab/model:${s.env}-.*"]\n  ago: 30d\nusage:\n  - type: mongodb\n    preset: domino\n    uriEnv: MONGODB_URI\naudit:\n  dir: ${join(s.dir, "audits")}\n`,
    );
    const env = { MONGODB_URI: mongo.uri.replace("/?", "/domino?authSource=admin&") };
    const planned = await runCli(["plan", "--config", config, "--no-cache", "--format", "json"], { env });
    expect(planned.code, planned.stderr).toBe(0);
    const plan = planSchema.parse(JSON.parse(planned.stdout));
    expect(plan.delete.map((d) => d.digest).sort()).toEqual(
      [s.images.orphan?.digest, s.images["stale-model"]?.digest].sort(),
    );
    const kept = plan.keep.find((k) => k.digest === s.images.rev1?.digest);
    expect(kept?.reasons.find((r) => r.rule === "in-use")?.source).toMatch(
      /^mongodb \(domino preset\) domino\.environment_revisions [0-9a-f]{24}$/,
    );
    expect(`${planned.stdout}${planned.stderr}`).not.toContain("s3cret-Pw");
    const run = await runCli(["run", "--config", config, "--yes", "--no-cache"], { env });
    expect(run.code, run.stderr).toBe(0);
    expect(await registry.getManifest(`${s.env}/environment`, s.images.orphan?.digest ?? "")).toBeUndefined();
    expect(await registry.getManifest(`${s.env}/environment`, s.images.rev1?.digest ?? "")).toBeDefined();
    expect(await registry.getManifest("dominodatalab/model", s.images.model?.digest ?? "")).toBeDefined();
  });

  it("a database that refuses the password fails closed (exit 3) without showing it; doctor says the same", async () => {
    const s = await seed();
    mongo = await startMongoServer({
      databases: s.databases,
      username: "domino",
      password: "right-password",
    });
    const wrong = mongo.uri.replace("right-password", "wrong-password");
    const config = join(s.dir, "regsweep.yaml");
    await writeFile(
      config,
      `registry:\n  url: ${url}\npolicy:\n  filters: ["${s.env}/.*:.*"]\nusage:\n  - type: mongodb\n    preset: domino\n    uriEnv: MONGODB_URI\n`,
    );
    const res = await runCli(["plan", "--config", config, "--no-cache"], { env: { MONGODB_URI: wrong } });
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/usage source mongodb \(domino preset\) failed: .*Authentication failed/);
    expect(res.stderr).not.toContain("wrong-password");
    const doctor = await runCli(["doctor", "--config", config, "--no-cache"], {
      env: { MONGODB_URI: wrong },
    });
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(/FAIL {2}usage source mongodb \(domino preset\)/);
  });

  it("a database that never answers times out, fails closed, and the process ends by itself", async () => {
    const s = await seed();
    mongo = await startMongoServer({ databases: s.databases, hang: true });
    const config = join(s.dir, "regsweep.yaml");
    await writeFile(
      config,
      `registry:\n  url: ${url}\npolicy:\n  filters: ["${s.env}/.*:.*"]\nusage:\n  - type: mongodb\n    uriEnv: MONGODB_URI\n    database: domino\n    queries:\n      - collection: environment_revisions\n        image: { repository: metadata.dockerImageName.repository, tag: metadata.dockerImageName.tag }\n`,
    );
    const started = Date.now();
    const code = await new Promise<number | null>((done) => {
      const child = spawn(process.execPath, [BIN, "plan", "--config", config, "--no-cache"], {
        env: { ...process.env, MONGODB_URI: mongo?.uri ?? "", REGSWEEP_SOURCE_TIMEOUT_SECONDS: "2" },
        stdio: "ignore",
      });
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      child.on("close", (c) => {
        clearTimeout(timer);
        done(c);
      });
    });
    expect(code).toBe(3);
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 30_000);

  it("scan lists the database records whose image the registry does not have (the cleaner's unused references)", async () => {
    const s = await seed();
    const missing = new ObjectId();
    s.databases.domino.environment_revisions.push({
      _id: missing,
      metadata: { dockerImageName: { repository: `${s.env}/environment`, tag: "62f-404" } },
    });
    mongo = await startMongoServer({ databases: s.databases });
    const config = join(s.dir, "regsweep.yaml");
    await writeFile(
      config,
      `registry:\n  url: ${url}\nusage:\n  - type: mongodb\n    preset: domino\n    uriEnv: MONGODB_URI\n`,
    );
    const res = await runCli(
      ["scan", "--config", config, "--filter", `${s.env}/.*`, "--no-cache", "--format", "json"],
      { env: { MONGODB_URI: mongo.uri } },
    );
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as { warnings: string[]; inUse: { tags: string[] }[] };
    const orphan = out.warnings.filter((w) => w.includes("62f-404"));
    expect(orphan).toHaveLength(1);
    expect(orphan[0]).toContain(`domino.environment_revisions ${missing.toHexString()}`);
    expect(orphan[0]).toMatch(/names a tag the registry does not have/);
    expect(out.inUse.flatMap((u) => u.tags)).toEqual(expect.arrayContaining(["62f-1", "62f-2"]));
  });
});

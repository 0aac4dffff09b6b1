import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ObjectId } from "bson";
import { afterEach, describe, expect, inject, it } from "vitest";
import { type BuiltManifest, buildImage, pushManifest } from "../../src/fixtures/image-factory.js";
import { planSchema } from "../../src/plan/plan-schema.js";
import { connect, runCli, tempDir, uniqueRepo } from "../integration/helpers.js";
import { startKeycloakServer } from "../servers/keycloak-server.js";
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

  /**
   * A Domino-shaped database. Environment A (alice): A1 used only by a run 200 days ago, A2 used by
   * nothing, A3 active. B (archived): B1, named by a scheduled job. C (bob's private one): C1 active.
   * D (archived): D1, used by nothing. Model M1 (not archived): V1; model M2 (archived): V3. And a
   * stray image in the environment repository that no record names.
   */
  async function dominoSeed() {
    const repo = uniqueRepo("domino");
    const ids = Object.fromEntries(
      [
        "A",
        "B",
        "C",
        "D",
        "A1",
        "A2",
        "A3",
        "B1",
        "C1",
        "D1",
        "M1",
        "M2",
        "V1",
        "V3",
        "alice",
        "bob",
        "P",
      ].map((k) => [k, new ObjectId()]),
    ) as Record<string, ObjectId>;
    const images: Record<string, BuiltManifest> = {};
    const tags: Record<string, string> = {};
    for (const name of ["A1", "A2", "A3", "B1", "C1", "D1", "V1", "V3", "stray"]) {
      images[name] = buildImage({ seed: `${repo} ${name}`, created: ago(120) });
      const isModel = name.startsWith("V");
      tags[name] = isModel ? `${repo}-${name}` : `${name}-${repo.slice(-6)}`;
      await pushManifest(
        registry,
        isModel ? "dominodatalab/model" : `${repo}/environment`,
        images[name] as BuiltManifest,
        [tags[name] as string],
      );
    }
    const revision = (name: string, env: string) => ({
      _id: ids[name],
      environmentId: ids[env],
      metadata: { dockerImageName: { repository: `${repo}/environment`, tag: tags[name] } },
    });
    const databases = {
      domino: {
        environments_v2: [
          {
            _id: ids.A,
            activeRevisionId: ids.A3,
            isArchived: false,
            visibility: "Global",
            ownerId: ids.alice,
          },
          {
            _id: ids.B,
            activeRevisionId: ids.B1,
            isArchived: true,
            visibility: "Global",
            ownerId: ids.alice,
          },
          {
            _id: ids.C,
            activeRevisionId: ids.C1,
            isArchived: false,
            visibility: "Private",
            ownerId: ids.bob,
          },
          { _id: ids.D, activeRevisionId: ids.D1, isArchived: true, visibility: "Global", ownerId: ids.bob },
        ],
        environment_revisions: [
          revision("A1", "A"),
          revision("A2", "A"),
          revision("A3", "A"),
          revision("B1", "B"),
          revision("C1", "C"),
          revision("D1", "D"),
        ],
        runs: [
          {
            _id: new ObjectId(),
            environmentId: ids.A,
            environmentRevisionId: ids.A1,
            started: ago(201),
            completed: ago(200),
          },
        ],
        scheduler_jobs: [{ _id: new ObjectId(), jobDataPlain: { overrideEnvironmentId: ids.B } }],
        models: [
          { _id: ids.M1, isArchived: false, projectId: ids.P },
          { _id: ids.M2, isArchived: true, projectId: ids.P },
        ],
        model_versions: [
          { _id: ids.V1, modelId: ids.M1, metadata: { builds: [{ slug: { image: { tag: tags.V1 } } }] } },
          { _id: ids.V3, modelId: ids.M2, metadata: { builds: [{ slug: { image: { tag: tags.V3 } } }] } },
        ],
        projects: [{ _id: ids.P, ownerId: ids.bob }],
        users: [
          { _id: ids.alice, loginId: { id: "alice" } },
          { _id: ids.bob, loginId: { id: "bob" } },
        ],
      },
    };
    const dir = await tempDir();
    const config = join(dir, "regsweep.yaml");
    const write = (extra = "") =>
      writeFile(
        config,
        `registry:\n  url: ${url}\npolicy:\n  filters: ["${repo}/.*:.*", "dominodatalab/model:${repo}-.*"]\nusage:\n  - type: mongodb\n    preset: domino\n    uriEnv: MONGODB_URI\n${extra}audit:\n  dir: ${join(dir, "audits")}\n`,
      );
    await write();
    return { repo, ids, images, tags, databases, dir, config, write };
  }

  const deleted = (plan: { delete: { digest: string }[] }, images: Record<string, BuiltManifest>) =>
    Object.entries(images)
      .filter(([, m]) => plan.delete.some((d) => d.digest === m.digest))
      .map(([name]) => name)
      .sort();

  it("the Domino preset with only the URI: exactly the unreferenced images go, each kept one naming its record", async () => {
    const s = await dominoSeed();
    mongo = await startMongoServer({ databases: s.databases, username: "domino", password: "s3cret-Pw" });
    const env = { MONGODB_URI: mongo.uri.replace("/?", "/domino?authSource=admin&") };
    const planned = await runCli(["plan", "--config", s.config, "--no-cache", "--format", "json"], { env });
    expect(planned.code, planned.stderr).toBe(0);
    const plan = planSchema.parse(JSON.parse(planned.stdout));
    expect(deleted(plan, s.images)).toEqual(["A2", "D1", "V3", "stray"]);
    const reason = (name: string) =>
      plan.keep.find((k) => k.digest === s.images[name]?.digest)?.reasons.find((r) => r.rule === "in-use")
        ?.source;
    expect(reason("A1")).toMatch(/^mongodb \(domino preset\) domino\.runs [0-9a-f]{24} \(last used /);
    expect(reason("A3")).toBe(
      `mongodb (domino preset) domino.environments_v2 ${s.ids.A?.toHexString()} (active revision)`,
    );
    expect(reason("B1")).toMatch(/domino\.scheduler_jobs [0-9a-f]{24} jobDataPlain\.overrideEnvironmentId$/);
    expect(reason("V1")).toContain(`domino.models ${s.ids.M1?.toHexString()}`);
    // Owners: the environment's owner, the model's project owner; kept or deleted.
    const owner = (name: string) =>
      [...plan.keep, ...plan.delete].find((e) => e.digest === s.images[name]?.digest)?.owner;
    expect([owner("A2"), owner("A3"), owner("V1"), owner("V3"), owner("D1")]).toEqual([
      "alice",
      "alice",
      "bob",
      "bob",
      "bob",
    ]);
    expect(`${planned.stdout}${planned.stderr}`).not.toContain("s3cret-Pw");

    const since = await runCli(
      ["plan", "--config", s.config, "--no-cache", "--format", "json", "--unused-since-days", "90"],
      { env },
    );
    expect(since.code, since.stderr).toBe(0);
    expect(deleted(planSchema.parse(JSON.parse(since.stdout)), s.images)).toEqual([
      "A1",
      "A2",
      "D1",
      "V3",
      "stray",
    ]);

    const run = await runCli(
      ["run", "--config", s.config, "--yes", "--no-cache", "--unused-since-days", "90"],
      { env },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(await registry.getManifest(`${s.repo}/environment`, s.images.A1?.digest ?? "")).toBeUndefined();
    expect(await registry.getManifest(`${s.repo}/environment`, s.images.A3?.digest ?? "")).toBeDefined();
    expect(await registry.getManifest("dominodatalab/model", s.images.V1?.digest ?? "")).toBeDefined();
    expect(await registry.getManifest("dominodatalab/model", s.images.V3?.digest ?? "")).toBeUndefined();

    const owners = await runCli(
      ["plan", "--config", s.config, "--no-cache", "--output", join(s.dir, "p.json")],
      { env },
    );
    expect(owners.code, owners.stderr).toBe(0);
    const report = await runCli([
      "report",
      "--plan",
      join(s.dir, "p.json"),
      "--by",
      "owner",
      "--format",
      "json",
    ]);
    expect(report.code, report.stderr).toBe(0);
    expect(JSON.stringify(JSON.parse(report.stdout))).toContain("alice");
  });

  it("--object-ids deletes exactly the objects named, unless still used elsewhere; archive marks only their environments", async () => {
    const s = await dominoSeed();
    await s.write("    archive: true\n");
    mongo = await startMongoServer({ databases: s.databases });
    const env = { MONGODB_URI: mongo.uri };
    const file = join(s.dir, "targets.txt");
    await writeFile(
      file,
      `# to go\nenvironment:${s.ids.C?.toHexString()}\nenvironmentRevision:${s.ids.A3?.toHexString()} # A's active one: stays\nmodelVersion:${s.ids.V1?.toHexString()}\n`,
    );
    const planned = await runCli(
      ["plan", "--config", s.config, "--no-cache", "--format", "json", "--object-ids", file],
      { env },
    );
    expect(planned.code, planned.stderr).toBe(0);
    const plan = planSchema.parse(JSON.parse(planned.stdout));
    expect(deleted(plan, s.images)).toEqual(["C1", "V1"]);
    const a3 = plan.keep.find((k) => k.digest === s.images.A3?.digest);
    expect(a3?.reasons.map((r) => r.source ?? r.rule)).toContain(
      `mongodb (domino preset) domino.environments_v2 ${s.ids.A?.toHexString()} (active revision)`,
    );
    expect(plan.keep.find((k) => k.digest === s.images.A2?.digest)?.reasons[0]?.rule).toBe("not-targeted");
    expect(plan.recordCleanups?.map((c) => [c.collection, c.id, c.change])).toEqual([
      ["environments_v2", s.ids.C?.toHexString(), { set: { isArchived: true } }],
    ]);

    const planFile = join(s.dir, "plan.json");
    const made = await runCli(
      ["plan", "--config", s.config, "--no-cache", "--object-ids", file, "--output", planFile],
      { env },
    );
    expect(made.code, made.stderr).toBe(0);
    const applied = await runCli(["apply", planFile, "--yes", "--no-cache"], { env });
    expect(applied.code, applied.stderr).toBe(0);
    expect(await registry.getManifest(`${s.repo}/environment`, s.images.C1?.digest ?? "")).toBeUndefined();
    const archived = mongo
      .data("domino", "environments_v2")
      .filter((e) => e.isArchived)
      .map((e) => String(e._id));
    expect(archived.sort()).toEqual([s.ids.B, s.ids.C, s.ids.D].map((id) => id?.toHexString()).sort());
    expect(applied.stdout).toMatch(/archived|isArchived/);

    await writeFile(file, `environment:${s.ids.C?.toHexString()}\n${s.ids.A?.toHexString()}\n`);
    const bad = await runCli(["plan", "--config", s.config, "--no-cache", "--object-ids", file], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`${file}:2:`);
  });

  it("keycloak: a deactivated user's private environment goes (and is archived), the rest stays; doctor checks it", async () => {
    const s = await dominoSeed();
    const keycloak = await startKeycloakServer({
      realm: "DominoRealm",
      clients: { regsweep: "kc-Secret-1" },
      users: [
        { id: "kc-alice", username: "alice", enabled: true },
        { id: "kc-bob", username: "bob", enabled: false },
      ],
    });
    try {
      await s.write(
        `    archive: true\n    keycloak:\n      url: ${keycloak.url}\n      clientId: regsweep\n      secretEnv: KC_SECRET\n`,
      );
      mongo = await startMongoServer({ databases: s.databases });
      const env = { MONGODB_URI: mongo.uri, KC_SECRET: "kc-Secret-1" };
      const planFile = join(s.dir, "plan.json");
      const planned = await runCli(["plan", "--config", s.config, "--no-cache", "--output", planFile], {
        env,
      });
      expect(planned.code, planned.stderr).toBe(0);
      const plan = planSchema.parse(JSON.parse(await readFile(planFile, "utf8")));
      // C is bob's private environment; bob is deactivated. D (bob's too) is archived already.
      expect(deleted(plan, s.images)).toEqual(["A2", "C1", "D1", "V3", "stray"]);
      expect(plan.recordCleanups?.map((c) => c.id)).toEqual([s.ids.C?.toHexString()]);
      expect(`${planned.stdout}${planned.stderr}${JSON.stringify(plan)}`).not.toContain("kc-Secret-1");
      const applied = await runCli(["apply", planFile, "--yes", "--no-cache"], { env });
      expect(applied.code, applied.stderr).toBe(0);
      const c = mongo.data("domino", "environments_v2").find((e) => String(e._id) === s.ids.C?.toHexString());
      expect(c?.isArchived).toBe(true);
      const a = mongo.data("domino", "environments_v2").find((e) => String(e._id) === s.ids.A?.toHexString());
      expect(a?.isArchived).toBe(false);
      // The journal records the clean-up: a resume does not do it again.
      expect(await readFile(`${planFile}.journal`, "utf8")).toContain('"step":"record-cleaned"');

      const doctor = await runCli(["doctor", "--config", s.config, "--no-cache"], { env });
      expect(doctor.stdout).toMatch(/ok {4}keycloak .*signed in as client 'regsweep'.*1 deactivated/);
      const wrong = await runCli(["plan", "--config", s.config, "--no-cache"], {
        env: { ...env, KC_SECRET: "not-the-secret" },
      });
      expect(wrong.code).toBe(3);
      expect(wrong.stderr).toMatch(/mongodb \(domino preset\).*keycloak/i);
      expect(wrong.stderr).not.toContain("not-the-secret");
    } finally {
      await keycloak.stop();
    }
  });

  it("a query's afterDelete changes only the records whose image was deleted, after it was", async () => {
    const repo = uniqueRepo("jobs");
    const images = {
      old: buildImage({ seed: `${repo} old`, created: ago(90) }),
      used: buildImage({ seed: `${repo} used`, created: ago(90) }),
    };
    await pushManifest(registry, repo, images.old, ["old"]);
    await pushManifest(registry, repo, images.used, ["used"]);
    const oldId = new ObjectId();
    const usedId = new ObjectId();
    mongo = await startMongoServer({
      databases: {
        platform: {
          builds: [
            { _id: oldId, image: `${repo}:old`, state: "retired" },
            { _id: usedId, image: `${repo}:used`, state: "live" },
          ],
        },
      },
    });
    const dir = await tempDir();
    const config = join(dir, "regsweep.yaml");
    await writeFile(
      config,
      `registry:\n  url: ${url}\npolicy:\n  filters: ["${repo}:.*"]\nusage:\n  - type: mongodb\n    uriEnv: MONGODB_URI\n    database: platform\n    queries:\n      - collection: builds\n        filter: { state: live }\n        image: image\n      - collection: builds\n        filter: { state: retired }\n        image: image\n        protect: false\n        afterDelete: { delete: true }\naudit:\n  dir: ${join(dir, "audits")}\n`,
    );
    const env = { MONGODB_URI: mongo.uri };
    const run = await runCli(["run", "--config", config, "--yes", "--no-cache"], { env });
    expect(run.code, run.stderr).toBe(0);
    expect(await registry.getManifest(repo, images.old.digest)).toBeUndefined();
    expect(await registry.getManifest(repo, images.used.digest)).toBeDefined();
    expect(mongo.data("platform", "builds").map((b) => String(b._id))).toEqual([usedId.toHexString()]);
    expect(run.stdout).toContain(`builds ${oldId.toHexString()}: deleted`);
    // A record that keeps its image never sees it deleted: afterDelete there is refused.
    const bad = join(dir, "bad.yaml");
    await writeFile(
      bad,
      `usage:\n  - type: mongodb\n    uriEnv: MONGODB_URI\n    queries:\n      - collection: builds\n        image: image\n        afterDelete: { delete: true }\n`,
    );
    const refused = await runCli(["plan", "--config", bad, "--registry", url], { env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("afterDelete needs protect: false");
  });

  it("the Domino flags without a Domino source, or with a bad value, are bad usage (exit 2)", async () => {
    const none = await runCli(["plan", "--registry", url, "--no-cache", "--unused-since-days", "30"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("--unused-since-days needs a usage source with preset: domino");
    const bad = await runCli(["plan", "--registry", url, "--no-cache", "--unused-since-days", "soon"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--unused-since-days "soon" is not a whole number of days');
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
    const out = JSON.parse(res.stdout) as {
      unusedReferences: { reference: string; record: string }[];
      inUse: { tags: string[] }[];
    };
    expect(out.unusedReferences).toEqual([
      {
        reference: `${new URL(url).host}/${s.env}/environment:62f-404`,
        record: `mongodb (domino preset) domino.environment_revisions ${missing.toHexString()}`,
      },
    ]);
    const text = await runCli(["scan", "--config", config, "--filter", `${s.env}/.*`, "--no-cache"], {
      env: { MONGODB_URI: mongo.uri },
    });
    expect(text.stdout).toMatch(
      /Database records whose image the registry does not have \(1\):\n.*62f-404\n.*environment_revisions/,
    );
    // A repository outside the scan is not judged: its records are not called unused.
    const other = await runCli(
      ["scan", "--config", config, "--filter", "nothing-matches/.*", "--no-cache", "--format", "json"],
      { env: { MONGODB_URI: mongo.uri } },
    );
    expect(JSON.parse(other.stdout).unusedReferences).toEqual([]);
    expect(out.inUse.flatMap((u) => u.tags)).toEqual(expect.arrayContaining(["62f-1", "62f-2"]));
  });
});

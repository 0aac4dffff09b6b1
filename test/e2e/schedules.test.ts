import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { validateAction, validateWorkflow } from "@action-validator/core";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { parse } from "yaml";
import { loadConfig } from "../../src/config/load-config.js";
import { buildImage, pushManifest } from "../../src/fixtures/image-factory.js";
import { planSchema } from "../../src/plan/plan-schema.js";
import { connect, tempDir, uniqueRepo } from "../integration/helpers.js";
import { invocationsIn, stringsOf, unknownFlags } from "./cli-invocations.js";

const ROOT = resolve(import.meta.dirname, "../..");
const read = (path: string) => readFile(join(ROOT, path), "utf8");
// biome-ignore lint/suspicious/noExplicitAny: YAML documents of four formats, read field by field; the assertions are the check
const yamlOf = async (path: string) => parse(await read(path)) as Record<string, any>;
const invocationsOfYaml = async (path: string) => stringsOf(await yamlOf(path)).flatMap(invocationsIn);

// The action's script is plain JavaScript beside action.yml; its tables say which input is which flag.
const actionScript = join(ROOT, "action/regsweep-action.mjs");
const { FLAG_INPUTS, OTHER_INPUTS, FIXED_FLAGS, summaryMarkdown } = (await import(actionScript)) as {
  FLAG_INPUTS: Record<string, { flag: string; kind: string; apply?: boolean }>;
  OTHER_INPUTS: string[];
  FIXED_FLAGS: Record<"dry-run" | "apply", string[]>;
  summaryMarkdown: (plan: unknown, o: { mode: string; deleted: number; rows?: number }) => string;
};

describe("the flag check itself", () => {
  it("finds invocations in npx, image and plain forms and reports a flag the command lacks", async () => {
    const found = invocationsIn(
      [
        "npx --yes regsweep@0.1.0 plan --config x.yaml \\",
        "  --no-such-flag 1 && echo --not-this",
        "$Registry/regsweep:0.1.0 run --yes",
        `regsweep purge --filter 'a:.*' -o plan.json \${{ parameters.extraArgs }}`,
      ].join("\n"),
    );
    expect(found.map((i) => [i.command, i.flags])).toEqual([
      ["plan", ["--config", "--no-such-flag"]],
      ["run", ["--yes"]],
      ["purge", ["--filter", "-o"]],
    ]);
    expect(await unknownFlags(found)).toEqual([expect.stringMatching(/^plan --no-such-flag/)]);
  });
});

describe("GitHub Action (action.yml)", () => {
  it("is a valid composite action", async () => {
    const state = validateAction(await read("action.yml"));
    expect(state.errors).toEqual([]);
    const action = await yamlOf("action.yml");
    expect(action.runs.using).toBe("composite");
  });

  it("declares exactly the inputs its script reads, and passes each one to the script", async () => {
    const action = await yamlOf("action.yml");
    const inputs = Object.keys(action.inputs).sort();
    expect(inputs).toEqual([...Object.keys(FLAG_INPUTS), ...OTHER_INPUTS].sort());
    const step = action.runs.steps.find((s: { id?: string }) => s.id === "regsweep");
    for (const name of inputs) {
      expect(step.env[`INPUT_${name.replace(/-/g, "_").toUpperCase()}`]).toBe(`\${{ inputs.${name} }}`);
    }
    const pkg = JSON.parse(await read("package.json")) as { version: string };
    expect(action.inputs.version.default).toBe(pkg.version);
  });

  it("maps every flag input to a flag the CLI has (plan for a dry run, run to apply)", async () => {
    const invocations = [
      {
        command: "plan",
        flags: [
          ...Object.values(FLAG_INPUTS)
            .filter((s) => !s.apply)
            .map((s) => s.flag),
          ...FIXED_FLAGS["dry-run"],
        ],
        line: "action.yml dry-run",
      },
      {
        command: "run",
        flags: [...Object.values(FLAG_INPUTS).map((s) => s.flag), ...FIXED_FLAGS.apply],
        line: "action.yml apply",
      },
    ];
    expect(await unknownFlags(invocations)).toEqual([]);
    // Each input's description names its flag, so the marketplace page says what it does.
    const action = await yamlOf("action.yml");
    for (const [name, spec] of Object.entries(FLAG_INPUTS)) {
      expect(action.inputs[name].description).toContain(spec.flag);
    }
  });

  it("offers the plan, the audit, the deleted count and the reclaimable bytes as outputs", async () => {
    const action = await yamlOf("action.yml");
    for (const name of [
      "plan-path",
      "audit-path",
      "deleted-count",
      "reclaimable-bytes",
      "planned-count",
      "exit-code",
    ]) {
      expect(action.outputs[name].value).toBe(`\${{ steps.regsweep.outputs.${name} }}`);
    }
  });

  it("renders the job summary as a Markdown table that escapes cell text", () => {
    const md = summaryMarkdown(
      {
        registry: "r.example.com",
        summary: { manifests: 3, delete: 2, keep: 1, inUse: 1, repositories: 1, reclaimableBytes: 2048 },
        warnings: [],
        delete: [
          {
            repository: "team/a",
            digest: `sha256:${"a".repeat(64)}`,
            tags: ["1.0"],
            created: "2026-01-01T00:00:00Z",
            sizeBytes: 1024,
            reasons: [{ rule: "filter", detail: "tag a|b" }],
          },
          {
            repository: "team/a",
            digest: `sha256:${"b".repeat(64)}`,
            tags: [],
            created: null,
            sizeBytes: 1024,
            reasons: [{ rule: "untagged", detail: "no tag" }],
          },
        ],
      },
      { mode: "dry-run", deleted: 0, rows: 1 },
    );
    expect(md).toContain("| Repository | Digest | Tags | Created | Size | Reasons |");
    expect(md).toContain(
      "| team/a | `aaaaaaaaaaaa` | 1.0 | 2026-01-01T00:00:00Z | 1.0 KB | filter: tag a\\|b |",
    );
    expect(md).not.toContain("bbbbbbbbbbbb");
    expect(md).toContain("… and 1 more");
    expect(md).toContain("2.0 KB reclaimable. Nothing was deleted.");
  });
});

describe("GitHub workflow example (examples/github)", () => {
  const path = "examples/github/regsweep-cleanup.yml";

  it("is a valid workflow: nightly, by hand, and on pull requests", async () => {
    expect(validateWorkflow(await read(path)).errors).toEqual([]);
    const wf = await yamlOf(path);
    expect(wf.on.schedule[0].cron).toMatch(/^\S+ \S+ \* \* \*$/);
    expect(wf.on).toHaveProperty("workflow_dispatch");
    expect(wf.on).toHaveProperty("pull_request");
    expect(wf.permissions["id-token"]).toBe("write");
  });

  it("logs in to Azure with OIDC, applies only on the schedule, and uploads plan and audit", async () => {
    const wf = await yamlOf(path);
    const steps = wf.jobs.cleanup.steps as { uses?: string; with?: Record<string, string>; id?: string }[];
    const login = steps.find((s) => s.uses?.startsWith("azure/login@"));
    expect(Object.keys(login?.with ?? {}).sort()).toEqual(["client-id", "subscription-id", "tenant-id"]);
    const sweep = steps.find((s) => s.id === "regsweep");
    expect(sweep?.uses).toMatch(/regsweep@/);
    const action = await yamlOf("action.yml");
    for (const name of Object.keys(sweep?.with ?? {})) expect(Object.keys(action.inputs)).toContain(name);
    expect(sweep?.with?.mode).toMatch(/github\.event_name == 'schedule'.*'apply'.*'dry-run'/);
    const upload = steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"));
    expect(upload?.with?.path).toBe(sweep?.with?.["output-dir"]);
    expect(await unknownFlags(await invocationsOfYaml(path))).toEqual([]);
  });
});

describe("Azure DevOps pipeline and template", () => {
  const pipelinePath = "examples/azure-devops/regsweep-cleanup.yml";
  const templatePath = "templates/regsweep.yml";

  it("runs nightly even without changes, through the template with parameters it declares", async () => {
    const pipeline = await yamlOf(pipelinePath);
    expect(pipeline.schedules[0]).toMatchObject({
      always: true,
      cron: expect.stringMatching(/^\S+ \S+ \* \* \*$/),
    });
    expect(pipeline.trigger).toBe("none");
    const use = pipeline.jobs[0].steps.find((s: { template?: string }) => s.template);
    expect(resolve(ROOT, "examples/azure-devops", use.template)).toBe(join(ROOT, templatePath));
    const template = await yamlOf(templatePath);
    const declared = (template.parameters as { name: string; default?: unknown }[]).map((p) => p.name);
    for (const name of Object.keys(use.parameters)) expect(declared).toContain(name);
    for (const p of template.parameters as { name: string; default?: unknown }[]) {
      if (p.default === undefined) expect(Object.keys(use.parameters)).toContain(p.name);
    }
  });

  it("signs in through a service connection, passes the job token, and publishes plan and audit", async () => {
    const template = await yamlOf(templatePath);
    const steps = template.steps as {
      task?: string;
      inputs?: Record<string, string>;
      env?: Record<string, string>;
      condition?: string;
    }[];
    const cli = steps.find((s) => s.task === "AzureCLI@2");
    expect(cli?.inputs?.azureSubscription).toBe(`\${{ parameters.serviceConnection }}`);
    expect(cli?.env?.SYSTEM_ACCESSTOKEN).toBe("$(System.AccessToken)");
    const publish = steps.find((s) => s.task === "PublishPipelineArtifact@1");
    expect(publish?.condition).toBe("always()");
    expect(publish?.inputs?.targetPath).toBe("$(Build.ArtifactStagingDirectory)/regsweep");
    const invocations = await invocationsOfYaml(templatePath);
    expect(invocations.map((i) => i.command).sort()).toEqual(["plan", "run"]);
    for (const i of invocations) expect(i.flags).toEqual(expect.arrayContaining(["--output", "--audit-dir"]));
    expect(await unknownFlags(invocations)).toEqual([]);
  });
});

describe("ACR Task (examples/acr-task)", () => {
  it("runs the registry's own regsweep image with flags the CLI has", async () => {
    const task = await yamlOf("examples/acr-task/acr-task.yaml");
    expect(task.version).toMatch(/^v1\.1\./);
    expect(task.steps[0].cmd).toMatch(/^\$Registry\/regsweep:\S+ run /);
    const invocations = await invocationsOfYaml("examples/acr-task/acr-task.yaml");
    expect(invocations).toHaveLength(1);
    expect(await unknownFlags(invocations)).toEqual([]);
    const config = await loadConfig(join(ROOT, "examples/acr-task/regsweep.yaml"));
    expect(config.usage.length).toBeGreaterThan(0);
  });

  it("is created on a timer with a managed identity that gets AcrPull and AcrDelete", async () => {
    const script = (await read("examples/acr-task/create-task.sh")).replace(/\\\n/g, " ");
    const create = script.split("\n").find((l) => l.includes("az acr task create")) ?? "";
    expect(create).toContain('--schedule "0 1 * * *"');
    expect(create).toContain("--assign-identity");
    expect(create).toContain("--file acr-task.yaml");
    expect(script).toMatch(
      /for role in AcrPull AcrDelete; do\s+az role assignment create [^\n]*--role "\$role" --scope "\$registry_id"/,
    );
    expect(script).toContain('--use-identity "[system]"');
  });
});

describe("the action's script against the real registry", () => {
  const url = inject("registryUrl");
  const { registry } = connect(url);
  const repo = uniqueRepo("action");
  const old = (seed: string, days: number) =>
    buildImage({
      seed: `${repo} ${seed}`,
      created: new Date(Date.now() - days * 86_400_000),
      layers: [`${repo} ${seed}`],
    });
  const images = { a: old("a", 100), b: old("b", 90), c: old("c", 80) };

  beforeAll(async () => {
    for (const [tag, image] of Object.entries(images)) await pushManifest(registry, repo, image, [tag]);
  });

  const runAction = async (inputs: Record<string, string>) => {
    const dir = await tempDir("regsweep-action-");
    const files = { output: join(dir, "github-output"), summary: join(dir, "step-summary") };
    await writeFile(files.output, "");
    await writeFile(files.summary, "");
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      GITHUB_OUTPUT: files.output,
      GITHUB_STEP_SUMMARY: files.summary,
      RUNNER_TEMP: dir,
      INPUT_CLI: `"${process.execPath}" "${join(ROOT, "bin/regsweep.js")}"`,
    };
    for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.replace(/-/g, "_").toUpperCase()}`] = v;
    const code = await new Promise<number>((done, fail) => {
      const child = spawn(process.execPath, [actionScript], { env, stdio: ["ignore", "pipe", "pipe"] });
      child.stdout.resume();
      child.stderr.resume();
      child.on("error", fail);
      child.on("close", (c) => done(c ?? -1));
    });
    const outputs = Object.fromEntries(
      (await readFile(files.output, "utf8"))
        .split("\n")
        .filter(Boolean)
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    return { code, outputs, summary: await readFile(files.summary, "utf8"), dir };
  };

  it("a dry run outputs the plan, the audit, 0 deleted and the reclaimable bytes, and a summary table", async () => {
    const { code, outputs, summary, dir } = await runAction({
      registry: url,
      filter: `${repo}:.*`,
      ago: "30d",
      keep: "1",
    });
    expect(code).toBe(0);
    expect(outputs["plan-path"]).toBe(join(dir, "regsweep", "plan.json"));
    const plan = planSchema.parse(JSON.parse(await readFile(outputs["plan-path"] as string, "utf8")));
    expect(plan.summary.delete).toBe(2);
    expect(outputs).toMatchObject({
      "planned-count": "2",
      "deleted-count": "0",
      "reclaimable-bytes": String(plan.summary.reclaimableBytes),
      "exit-code": "0",
    });
    const audit = JSON.parse(await readFile(outputs["audit-path"] as string, "utf8"));
    expect(audit.execution.mode).toBe("dry-run");
    expect(summary).toContain("| Repository | Digest | Tags | Created | Size | Reasons |");
    for (const d of plan.delete) expect(summary).toContain(`| ${repo} | \`${d.digest.slice(7, 19)}\` |`);
    expect(summary).toContain("Nothing was deleted.");
  });

  it("apply mode deletes what the plan lists, never what is in use, and counts it", async () => {
    const dir = await tempDir("regsweep-action-in-use-");
    const inUse = join(dir, "in-use.txt");
    await writeFile(inUse, `${new URL(url).host}/${repo}:a\n`);
    const { code, outputs } = await runAction({
      mode: "apply",
      registry: url,
      filter: `${repo}:.*`,
      "in-use-file": inUse,
    });
    expect(code).toBe(0);
    expect(outputs).toMatchObject({ "planned-count": "2", "deleted-count": "2" });
    expect(await registry.getManifest(repo, images.a.digest)).toBeDefined();
    expect(await registry.getManifest(repo, images.b.digest)).toBeUndefined();
    expect(await registry.getManifest(repo, images.c.digest)).toBeUndefined();
  });

  it("a bad input stops the run before regsweep starts, with no plan output", async () => {
    const { code, outputs } = await runAction({ registry: url, filter: `${repo}:.*`, untagged: "yes" });
    expect(code).toBe(2);
    expect(outputs["plan-path"]).toBeUndefined();
  });
});

import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { checkbox, confirm, input, number, select } from "@inquirer/prompts";
import type { Config } from "../config/config-schema.js";
import { loadConfig, REGISTRY_SUFFIX } from "../config/load-config.js";
import { UsageError } from "../errors.js";
import { readPlan } from "../pipeline/plan-file.js";
import {
  detectWorkloads,
  listRegistries,
  listSubscriptions,
  type RegistryChoice,
  WORKLOAD_KINDS,
  type WorkloadKind,
  type WorkloadPresence,
} from "../usage/azure/arm-discovery.js";
import { type AzureContext, azureContext } from "../usage/azure/azure-context.js";
import { runApply } from "./apply-command.js";
import { runPurge } from "./purge-command.js";
import { atTerminal } from "./terminal.js";
import {
  parseAgeAnswer,
  preselected,
  registryUrlOf,
  registryUrlOfAnswer,
  repeatCommand,
  type WizardAnswers,
  wizardConfig,
} from "./wizard-config.js";

export interface WizardFlags {
  /** A starting configuration: what it sets is not asked again. */
  config?: string;
  /** Where the configuration is written (default regsweep.yaml). */
  output?: string;
}

const KIND_LABEL: Record<WorkloadKind, string> = {
  appservice: "App Service and slots (web apps, Function Apps)",
  aks: "AKS clusters",
  containerapps: "Container Apps (revisions, jobs)",
  containerinstances: "Container Instances",
};

const say = (line: string) => process.stderr.write(`${line}\n`);

/**
 * `regsweep wizard` (and bare `regsweep` at a terminal): asks what the environment and the
 * starting configuration leave open, writes the configuration, plans with it exactly as
 * `regsweep plan --config` does, then stops there (dry run) or applies that plan as
 * `regsweep apply --confirm strict` does. Returns the exit code; Ctrl+C at a question is 130.
 */
export async function runWizard(flags: WizardFlags): Promise<number> {
  if (!atTerminal()) {
    throw new UsageError(
      "regsweep wizard asks its questions at a terminal, and this is none: run it in one, or use regsweep plan --config FILE / regsweep run --config FILE",
    );
  }
  try {
    return await wizard(flags);
  } catch (error) {
    const name = (error as Error)?.name;
    if (name === "ExitPromptError" || name === "AbortPromptError") {
      say("\nCancelled: nothing was deleted.");
      return 130;
    }
    throw error;
  }
}

async function wizard(flags: WizardFlags): Promise<number> {
  const base = await loadConfig(flags.config);
  const raw = flags.config ? await rawConfig(flags.config) : {};
  const azure = azureContext(base.azure);
  say(
    "regsweep: deletes the images nothing uses. Answer a few questions; nothing is deleted without DELETE.",
  );

  const subscriptionId = await askSubscription(base, azure);
  const { registryUrl, resourceGroup } = await askRegistry(base, azure, subscriptionId);
  const presence = await detectWorkloads(azure, subscriptionId);
  const sources = await checkbox({
    message: "Which workloads protect their images?",
    choices: WORKLOAD_KINDS.map((kind) => ({
      value: kind,
      name: `${KIND_LABEL[kind]}${presenceNote(presence, kind)}`,
      checked: preselected(
        presence[kind],
        base.usage.some((s) => s.type === kind),
      ),
    })),
  });
  const filterText = await input({
    message: "Repositories and tags (REPO_REGEX:TAG_REGEX as acr purge --filter, space-separated):",
    default: (base.policy.filters ?? [".*:.*"]).join(" "),
    validate: (t) => (t.trim() ? true : "give at least one filter, e.g. .*:.*"),
  });
  const ageText = await input({
    message: "Delete only what is older than (30d, 1d12h, 90m; 0 = any age):",
    default: base.policy.ago ?? "30d",
    validate: (t) => ("error" in parseAgeAnswer(t) ? (parseAgeAnswer(t) as { error: string }).error : true),
  });
  const keep = await number({
    message: "Keep the newest N images of each repository anyway (0 = none):",
    default: base.policy.keep ?? 0,
    min: 0,
    step: 1,
    required: true,
  });
  const untagged = await confirm({
    message: "Delete untagged manifests too?",
    default: (raw.policy as { untagged?: boolean } | undefined)?.untagged ?? true,
  });

  const answers: WizardAnswers = {
    subscriptionId,
    registryUrl,
    ...(resourceGroup ? { resourceGroup } : {}),
    sources,
    filters: filterText.split(/\s+/).filter(Boolean),
    ...(parseAgeAnswer(ageText) as { ago?: string }),
    keep: keep ?? 0,
    untagged,
  };
  const written = wizardConfig(answers, raw);
  const configPath = await chooseOutput(flags);
  const { stringify } = await import("yaml");
  await mkdir(dirname(resolve(configPath)), { recursive: true });
  // Written before planning: the plan records it (apply re-reads its sources), and a run that
  // fails can be repeated with the command printed below.
  await writeFile(configPath, stringify(written), "utf8");
  const config = await loadConfig(configPath);

  const planFile = join(
    config.audit.dir,
    "plans",
    `${new Date().toISOString().replace(/[-:]/g, "")}_${randomBytes(3).toString("hex")}_plan.json`,
  );
  say(`\nPlanning with ${configPath} (as regsweep plan --config ${configPath}) ...`);
  const planned = await runPurge(
    { config: configPath, output: planFile, format: "text", cache: true, registryType: "auto" },
    "plan",
  );
  if (planned !== 0) return planned;
  const plan = await readPlan(planFile);

  let mode: "dry-run" | "delete" = "dry-run";
  if (plan.delete.length + (plan.untag?.length ?? 0) === 0) {
    say("Nothing to delete.");
  } else {
    mode = await select({
      message: "What now?",
      choices: [
        { value: "dry-run" as const, name: "1. dry run (mock): delete nothing; the plan and audit are kept" },
        { value: "delete" as const, name: "2. delete what the plan lists (asks yes, then DELETE)" },
      ],
      default: "dry-run",
    });
  }
  let code = 0;
  if (mode === "delete") {
    const noSources = config.usage.length === 0;
    if (
      noSources &&
      !(await confirm({
        message: "No usage source protects anything: every selected image can go. Delete anyway?",
        default: false,
      }))
    ) {
      say("Nothing was deleted.");
      mode = "dry-run";
    } else {
      code = await runApply(planFile, {
        config: configPath,
        confirm: "strict",
        yes: false,
        maxPlanAge: "24h",
        recheck: true,
        cache: true,
        registryType: "auto",
        ...(noSources ? { usageSources: false } : {}),
      });
    }
  }
  say(`\nConfiguration written to ${configPath}. Plan: ${planFile}`);
  say(`Repeat this run without questions:\n  ${repeatCommand(mode, configPath, config)}`);
  if (mode === "delete") say("(on a schedule, add --yes instead of --confirm strict)");
  return code;
}

async function rawConfig(path: string): Promise<Record<string, unknown>> {
  const { parse } = await import("yaml");
  return (parse(await readFile(path, "utf8")) as Record<string, unknown> | null) ?? {};
}

function presenceNote(presence: WorkloadPresence, kind: WorkloadKind): string {
  const p = presence[kind];
  if (p === true) return " (found in the subscription)";
  if (p === false) return " (none found)";
  return ` (could not check: ${p})`;
}

async function askSubscription(base: Config, azure: AzureContext): Promise<string> {
  const given = base.azure.subscriptions[0];
  if (given) {
    say(`Subscription: ${given}`);
    return given;
  }
  const typed = () =>
    input({
      message: "Azure subscription id:",
      validate: (t) => (t.trim() ? true : "give the subscription id (az account show --query id)"),
    }).then((t) => t.trim());
  let found: Awaited<ReturnType<typeof listSubscriptions>> = [];
  try {
    found = (await listSubscriptions(azure)).filter((s) => !/^(disabled|deleted)$/i.test(s.state));
  } catch (error) {
    say(`Could not list subscriptions (${(error as Error).message.split("\n")[0]}): type one.`);
  }
  if (found.length === 0) return typed();
  const chosen = await select({
    message: "Subscription:",
    choices: [
      ...found.map((s) => ({ value: s.id, name: `${s.name} (${s.id})` })),
      { value: "", name: "another: type its id" },
    ],
  });
  return chosen || typed();
}

async function askRegistry(
  base: Config,
  azure: AzureContext,
  subscriptionId: string,
): Promise<{ registryUrl: string; resourceGroup?: string }> {
  let resourceGroup = base.azure.registryResourceGroup;
  const askGroup = async () =>
    (
      await input({
        message: "The registry's resource group (blank: not needed):",
        default: resourceGroup ?? "",
      })
    ).trim() || undefined;
  if (base.registry.url) {
    say(`Registry: ${base.registry.url}`);
    return { registryUrl: base.registry.url, ...(resourceGroup ? { resourceGroup } : {}) };
  }
  let found: RegistryChoice[] = [];
  try {
    found = await listRegistries(azure, subscriptionId, resourceGroup);
  } catch (error) {
    say(`Could not list the registries of ${subscriptionId} (${(error as Error).message.split("\n")[0]}).`);
  }
  const chosen =
    found.length === 0
      ? undefined
      : await select<RegistryChoice | undefined>({
          message: "Registry:",
          choices: [
            ...found.map((r) => ({
              value: r,
              name: `${r.name} (${r.loginServer}, resource group ${r.resourceGroup})`,
            })),
            { value: undefined, name: "another: type its name or URL" },
          ],
        });
  if (chosen) return { registryUrl: registryUrlOf(chosen.loginServer), resourceGroup: chosen.resourceGroup };
  const typed = await input({
    message: "Registry (ACR name, or https://host[:port]):",
    validate: (t) => (t.trim() ? true : "give the registry's name or URL"),
  });
  const registryUrl = registryUrlOfAnswer(typed, REGISTRY_SUFFIX[base.azure.cloud]);
  resourceGroup = await askGroup();
  return { registryUrl, ...(resourceGroup ? { resourceGroup } : {}) };
}

/** `--output`, else regsweep.yaml; an existing file other than the starting one is replaced only when asked. */
async function chooseOutput(flags: WizardFlags): Promise<string> {
  let path = flags.output ?? "regsweep.yaml";
  const isStart = (p: string) => flags.config !== undefined && resolve(p) === resolve(flags.config);
  while (existsSync(path) && !isStart(path)) {
    if (await confirm({ message: `${path} exists. Replace it?`, default: false })) break;
    path = (
      await input({
        message: "Write the configuration to:",
        validate: (t) => (t.trim() ? true : "give a file name"),
      })
    ).trim();
  }
  return path;
}

import { readFile } from "node:fs/promises";
import { ZodError } from "zod";
import { loadConfig } from "../config/load-config.js";
import { type Plan, planSchema } from "../plan/plan-schema.js";
import { canonicalHost, UsageError } from "../registry/registry-url.js";
import { applyPlan, redactedConfiguration } from "./purge-command.js";
import { openRegistry, type RegistryFlags, withConfig } from "./registry-options.js";
import { readStdinOnce } from "./stdin.js";

export interface ApplyFlags extends RegistryFlags {
  yes?: boolean;
  auditDir?: string;
}

export async function readPlan(path: string): Promise<Plan> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read plan ${path}: ${(error as Error).message}`);
  }
  try {
    return planSchema.parse(JSON.parse(text));
  } catch (error) {
    const why =
      error instanceof ZodError
        ? error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")
        : (error as Error).message;
    throw new UsageError(`${path} is not a regsweep plan (version 1): ${why}`);
  }
}

export async function runApply(planPath: string, cliFlags: ApplyFlags): Promise<number> {
  const startedAt = new Date();
  const config = await loadConfig(cliFlags.config);
  const flags = { ...cliFlags, ...withConfig(cliFlags, config) };
  const plan = await readPlan(planPath);
  const opened = await openRegistry(
    { ...flags, registry: flags.registry ?? plan.registryUrl ?? plan.registry },
    readStdinOnce,
  );
  try {
    if (canonicalHost(opened.registry.host) !== canonicalHost(plan.registry)) {
      throw new UsageError(`plan ${planPath} was made for ${plan.registry}, not ${opened.registry.host}`);
    }
    return await applyPlan(plan, opened.registry, {
      yes: flags.yes ?? false,
      auditDir: flags.auditDir ?? config.audit.dir,
      configuration: { ...redactedConfiguration(flags, "apply"), plan: planPath },
      command: "apply",
      startedAt,
      concurrency: flags.concurrency,
    });
  } finally {
    await opened.close();
  }
}

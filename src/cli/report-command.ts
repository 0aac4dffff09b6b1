import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { loadConfig } from "../config/load-config.js";
import { UsageError } from "../errors.js";
import { readPlan } from "../pipeline/plan-file.js";
import { formatPlanHtml } from "../report/plan-html.js";
import { formatPlanText } from "../report/plan-text.js";

export interface ReportFlags {
  plan?: string;
  html?: string;
  config?: string;
  auditDir?: string;
}

/** `report`: renders a plan (given, or the newest one regsweep kept under the audit directory). */
export async function runReport(flags: ReportFlags): Promise<number> {
  const config = await loadConfig(flags.config);
  const path = flags.plan ?? (await newestPlan(join(flags.auditDir ?? config.audit.dir, "plans")));
  const plan = await readPlan(path);
  if (flags.html) {
    await writeFile(flags.html, formatPlanHtml(plan));
    process.stderr.write(`Wrote ${flags.html} from ${path}\n`);
  } else {
    process.stdout.write(formatPlanText(plan, new Date()));
  }
  return 0;
}

async function newestPlan(dir: string): Promise<string> {
  const names = (await readdir(dir).catch(() => [] as string[]))
    .filter((n) => n.endsWith("_plan.json"))
    .sort();
  const newest = names.at(-1);
  if (!newest) throw new UsageError(`no plan given and none kept in ${dir}: pass --plan plan.json`);
  return join(dir, newest);
}

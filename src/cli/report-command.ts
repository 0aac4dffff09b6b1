import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { loadConfig } from "../config/load-config.js";
import { UsageError } from "../errors.js";
import { printPlan, readPlan } from "../pipeline/plan-file.js";
import type { Plan } from "../plan/plan-schema.js";
import { formatPlanCommands } from "../report/plan-commands.js";
import { formatPlanHtml } from "../report/plan-html.js";
import { formatPlanText } from "../report/plan-text.js";
import { MissingBlobsError, type SizeReport, type SizeReportBy, sizeReport } from "../report/size-report.js";
import {
  formatSizeReportHtml,
  formatSizeReportJson,
  formatSizeReportText,
} from "../report/size-report-format.js";

export interface ReportFlags {
  plan?: string;
  html?: string;
  config?: string;
  auditDir?: string;
  /** A size report grouped this way instead of the plan itself. */
  by?: SizeReportBy;
  format?: "text" | "json" | "html" | "commands";
}

/**
 * `report`: renders a plan (given, or the newest one regsweep kept under the audit directory), or
 * with `--by` its shared-layer-aware sizes per image, repository or owner.
 */
export async function runReport(flags: ReportFlags): Promise<number> {
  if (flags.html && flags.format && flags.format !== "html") {
    throw new UsageError(`--html ${flags.html} writes HTML: drop --format ${flags.format} or --html`);
  }
  if (flags.by && flags.format === "commands") {
    throw new UsageError(
      "--format commands prints a plan's deletions: drop --by, or pick text, json or html",
    );
  }
  const config = await loadConfig(flags.config);
  const path = flags.plan ?? (await newestPlan(join(flags.auditDir ?? config.audit.dir, "plans")));
  const plan = await readPlan(path);
  const format = flags.html ? "html" : (flags.format ?? "text");
  if (format === "json" && !flags.by) {
    // Streamed entry by entry, as `plan --format json`: a million-manifest plan is no one string.
    await printPlan(plan, process.stdout);
    return 0;
  }
  const text = flags.by ? renderSizes(plan, flags.by, format, path) : renderPlan(plan, format);
  if (flags.html) {
    await writeFile(flags.html, text);
    process.stderr.write(`Wrote ${flags.html} from ${path}\n`);
  } else {
    process.stdout.write(text);
  }
  return 0;
}

type Format = NonNullable<ReportFlags["format"]>;

function renderPlan(plan: Plan, format: Format): string {
  if (format === "commands") return formatPlanCommands(plan);
  return format === "html" ? formatPlanHtml(plan) : formatPlanText(plan, new Date());
}

function renderSizes(plan: Plan, by: SizeReportBy, format: Format, path: string): string {
  let report: SizeReport;
  try {
    report = sizeReport(plan, by);
  } catch (error) {
    if (!(error instanceof MissingBlobsError)) throw error;
    throw new UsageError(`plan ${path}: ${error.message} — make it again with regsweep plan -o ${path}`);
  }
  if (format === "json") return formatSizeReportJson(report);
  return format === "html" ? formatSizeReportHtml(report) : formatSizeReportText(report);
}

async function newestPlan(dir: string): Promise<string> {
  const names = (await readdir(dir).catch(() => [] as string[]))
    .filter((n) => n.endsWith("_plan.json"))
    .sort();
  const newest = names.at(-1);
  if (!newest) throw new UsageError(`no plan given and none kept in ${dir}: pass --plan plan.json`);
  return join(dir, newest);
}

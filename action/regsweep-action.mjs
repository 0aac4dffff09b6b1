// The GitHub Action's one step: turns the action's inputs into one regsweep invocation, runs it,
// then writes the step outputs and the job summary from the plan and the audit record it left.
// Plain Node (no dependencies): it runs from the action's checkout, before anything is installed.
import { spawn } from "node:child_process";
import { appendFile, mkdir, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * Every action input that becomes a regsweep flag. `kind`: `value` (one flag and value), `list`
 * (one flag per line of the input), `switch` (the flag alone when the input is "true"). `apply`:
 * passed only in apply mode (`regsweep run`), which alone accepts it.
 */
export const FLAG_INPUTS = {
  config: { flag: "--config", kind: "value" },
  registry: { flag: "--registry", kind: "value" },
  "registry-type": { flag: "--registry-type", kind: "value" },
  filter: { flag: "--filter", kind: "list" },
  ago: { flag: "--ago", kind: "value" },
  keep: { flag: "--keep", kind: "value" },
  untagged: { flag: "--untagged", kind: "switch" },
  scope: { flag: "--scope", kind: "value" },
  "protect-pulled-within": { flag: "--protect-pulled-within", kind: "value" },
  shard: { flag: "--shard", kind: "value" },
  "in-use-file": { flag: "--in-use-file", kind: "list" },
  kubeconfig: { flag: "--kubeconfig", kind: "value" },
  context: { flag: "--context", kind: "list" },
  "registry-alias": { flag: "--registry-alias", kind: "list" },
  "pr-provider": { flag: "--pr-provider", kind: "value" },
  "pr-org": { flag: "--pr-org", kind: "value" },
  "pr-project": { flag: "--pr-project", kind: "value" },
  "pr-tag-pattern": { flag: "--pr-tag-pattern", kind: "value" },
  insecure: { flag: "--insecure", kind: "switch" },
  concurrency: { flag: "--concurrency", kind: "value" },
  rps: { flag: "--rps", kind: "value" },
  timeout: { flag: "--timeout", kind: "value" },
  "cache-dir": { flag: "--cache-dir", kind: "value" },
  username: { flag: "--username", kind: "value" },
  backup: { flag: "--backup", kind: "value", apply: true },
  "no-usage-sources": { flag: "--no-usage-sources", kind: "switch", apply: true },
};

/** Inputs that are not flags: how to run, where to write, what to print. */
export const OTHER_INPUTS = ["mode", "version", "cli", "args", "output-dir", "password", "node-version", "summary-rows"];

/** The flags the action itself always passes, on top of the inputs. */
export const FIXED_FLAGS = { "dry-run": ["--output", "--audit-dir", "--format"], apply: ["--output", "--audit-dir", "--format", "--yes"] };

const input = (env, name) => (env[`INPUT_${name.replace(/-/g, "_").toUpperCase()}`] ?? "").trim();

/** Splits like a shell would for plain words and '…' / "…" quoting; nothing is expanded. */
export function splitWords(text) {
  const words = [];
  let word;
  let quote;
  for (const c of text) {
    if (quote) {
      if (c === quote) quote = undefined;
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= "";
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else word = (word ?? "") + c;
  }
  if (quote) throw new Error(`args: unclosed ${quote} in ${JSON.stringify(text)}`);
  if (word !== undefined) words.push(word);
  return words;
}

/** The regsweep argument list for these inputs: `plan` for a dry run, `run --yes` to apply. */
export function regsweepArgs(env, paths) {
  const mode = input(env, "mode") || "dry-run";
  if (mode !== "dry-run" && mode !== "apply") {
    throw new Error(`input mode: ${JSON.stringify(mode)} is neither dry-run nor apply`);
  }
  const args = mode === "apply" ? ["run", "--yes"] : ["plan"];
  for (const [name, spec] of Object.entries(FLAG_INPUTS)) {
    const value = input(env, name);
    if (!value || (spec.apply && mode !== "apply")) continue;
    if (spec.kind === "switch") {
      if (!/^(true|false)$/i.test(value)) throw new Error(`input ${name}: write true or false, not ${JSON.stringify(value)}`);
      if (value.toLowerCase() === "true") args.push(spec.flag);
    } else if (spec.kind === "list") {
      for (const line of value.split(/\r?\n/).map((l) => l.trim()).filter(Boolean)) args.push(spec.flag, line);
    } else args.push(spec.flag, value);
  }
  args.push("--output", paths.plan, "--audit-dir", paths.audits, "--format", "text");
  args.push(...splitWords(input(env, "args")));
  return { mode, args };
}

/** How regsweep is started: the `cli` input as words, else npx with the pinned version. */
export function regsweepCommand(env) {
  const cli = input(env, "cli");
  if (cli) return splitWords(cli);
  return ["npx", "--yes", `regsweep@${input(env, "version") || "latest"}`];
}

const short = (digest) => digest.replace(/^sha256:/, "").slice(0, 12);
const cell = (text) => String(text).replace(/\|/g, "\\|").replace(/\r?\n/g, " ");

function bytes(n) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** The job summary: totals, then one table row per planned deletion (the first `rows`). */
export function summaryMarkdown(plan, { mode, deleted, auditPath, rows = 200 }) {
  const lines = [`## regsweep ${mode === "apply" ? "cleanup" : "dry run"}: ${cell(plan.registry)}`, ""];
  const s = plan.summary;
  lines.push(
    `${s.delete} to delete, ${s.keep} kept (${s.inUse} in use) of ${s.manifests} manifests in ${s.repositories} repositories; ${bytes(s.reclaimableBytes)} reclaimable.` +
      (mode === "apply" ? ` Deleted: ${deleted}.` : " Nothing was deleted.") +
      (plan.shard ? ` Shard ${plan.shard.index}/${plan.shard.count}.` : ""),
  );
  for (const w of plan.warnings ?? []) lines.push("", `> **Warning:** ${cell(w)}`);
  if (plan.delete.length > 0) {
    lines.push("", "| Repository | Digest | Tags | Created | Size | Reasons |", "| --- | --- | --- | --- | ---: | --- |");
    for (const d of plan.delete.slice(0, rows)) {
      const reasons = d.reasons.map((r) => `${r.rule}: ${r.detail}`).join("; ");
      lines.push(
        `| ${cell(d.repository)} | \`${short(d.digest)}\` | ${cell(d.tags.join(", ") || "(untagged)")} | ${cell(d.created ?? "unknown")} | ${bytes(d.sizeBytes)} | ${cell(reasons)} |`,
      );
    }
    if (plan.delete.length > rows) lines.push("", `… and ${plan.delete.length - rows} more: see the plan artifact.`);
  }
  if (auditPath) lines.push("", `Audit record: \`${auditPath}\``);
  return `${lines.join("\n")}\n`;
}

async function listAudits(dir) {
  try {
    return (await readdir(dir)).filter((n) => n.endsWith(".json"));
  } catch {
    return [];
  }
}

async function main(env) {
  const outDir = resolve(input(env, "output-dir") || join(env.RUNNER_TEMP || tmpdir(), "regsweep"));
  const paths = { plan: join(outDir, "plan.json"), audits: join(outDir, "audits") };
  await mkdir(paths.audits, { recursive: true });
  const before = new Set(await listAudits(paths.audits));
  const { mode, args } = regsweepArgs(env, paths);
  const [command, ...prefix] = regsweepCommand(env);
  const password = input(env, "password");
  // The password goes through the environment, never the command line (which logs show).
  const childEnv = { ...env, ...(password ? { REGSWEEP_PASSWORD: password } : {}) };
  const code = await new Promise((done, fail) => {
    const child = spawn(command, [...prefix, ...args], { stdio: ["ignore", "inherit", "inherit"], env: childEnv });
    child.on("error", fail);
    child.on("close", (c) => done(c ?? 1));
  });

  const added = (await listAudits(paths.audits)).filter((n) => !before.has(n)).sort();
  const auditPath = added.length ? join(paths.audits, added[added.length - 1]) : "";
  let plan;
  try {
    plan = JSON.parse(await readFile(paths.plan, "utf8"));
  } catch {
    plan = undefined; // the run stopped before planning (exit 2 or 3): no plan, no outputs to give
  }
  let deleted = 0;
  if (auditPath) {
    const audit = JSON.parse(await readFile(auditPath, "utf8"));
    deleted = Number(audit.summary?.deleted ?? 0);
  }
  const outputs = {
    "exit-code": String(code),
    ...(plan
      ? {
          "plan-path": paths.plan,
          "planned-count": String(plan.summary.delete),
          "reclaimable-bytes": String(plan.summary.reclaimableBytes),
        }
      : {}),
    ...(auditPath ? { "audit-path": auditPath } : {}),
    "deleted-count": String(deleted),
  };
  if (env.GITHUB_OUTPUT) {
    await appendFile(env.GITHUB_OUTPUT, Object.entries(outputs).map(([k, v]) => `${k}=${v}\n`).join(""));
  }
  const rows = Number(input(env, "summary-rows") || 200);
  if (env.GITHUB_STEP_SUMMARY && plan && rows > 0) {
    await appendFile(env.GITHUB_STEP_SUMMARY, summaryMarkdown(plan, { mode, deleted, auditPath, rows }));
  }
  return code;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.env).then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      process.stderr.write(`regsweep action: ${error.message}\n`);
      process.exitCode = 2;
    },
  );
}

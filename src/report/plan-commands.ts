import { shellQuote } from "../config/shell-words.js";
import type { DeleteEntry, Plan, UntagEntry } from "../plan/plan-schema.js";
import { looksLikeAcr } from "../registry/acr-auth.js";
import { formatBytes } from "./format-bytes.js";

/**
 * `--format commands`: the plan as the shell commands that would carry it out by hand, for change
 * processes where a person runs the deletion (the App Service script's mock mode printed them).
 * One command per planned deletion, in the plan's deletion order, each followed by a comment with
 * its tags, age and reasons; nothing but commands and comments, so `> delete.sh` makes a script.
 * Pure: the plan in, the text out.
 */
export function formatPlanCommands(plan: Plan): string {
  const tool = toolFor(plan);
  const out: string[] = [
    `# regsweep plan for ${oneLine(plan.registry)}, made ${plan.createdAt}`,
    `# ${plan.delete.length} of ${plan.summary.manifests} manifests to delete (${formatBytes(plan.summary.reclaimableBytes)} reclaimable)${plan.untag?.length ? `, ${plan.untag.length} tags to remove` : ""}`,
    "# In this order: an index before its children, a subject before its referrers.",
    ...tool.notes.map((n) => `# ${n}`),
  ];
  if (plan.delete.length === 0 && !plan.untag?.length) out.push("# Nothing to delete.");
  const now = Date.parse(plan.createdAt);
  for (const entry of plan.delete) {
    out.push(tool.remove(entry));
    out.push(`# ${describe(entry, now)}`);
  }
  for (const entry of plan.untag ?? []) {
    out.push(tool.untag(entry));
    out.push(`# removes tag ${oneLine(entry.tag)}, the manifest stays | reasons: ${reasons(entry.reasons)}`);
  }
  if (plan.recordCleanups?.length) {
    out.push(
      `# ${plan.recordCleanups.length} database record changes follow these deletions; they are not commands: regsweep apply makes them`,
    );
  }
  return `${out.join("\n")}\n`;
}

interface Tool {
  readonly notes: readonly string[];
  remove(entry: DeleteEntry): string;
  untag(entry: UntagEntry): string;
}

/** az for ACR (by how the plan was made, or by its host), regctl for every other registry. */
function toolFor(plan: Plan): Tool {
  const host = plan.registry;
  if (plan.registryType === "acr" || looksLikeAcr(host)) {
    // az takes the registry's name; a host that is not *.azurecr.* is passed whole.
    const name = looksLikeAcr(host) ? (host.split(".")[0] as string).toLowerCase() : host;
    return {
      notes: ["Needs az login with delete rights on the registry (e.g. AcrDelete)."],
      remove: (e) =>
        `az acr repository delete --name ${shellQuote(name)} --image ${shellQuote(`${e.repository}@${e.digest}`)} --yes`,
      untag: (e) =>
        `az acr repository untag --name ${shellQuote(name)} --image ${shellQuote(`${e.repository}:${e.tag}`)}`,
    };
  }
  const layout = plan.registryUrl?.startsWith("oci:") ? plan.registryUrl.slice(4) : undefined;
  const base = layout !== undefined ? `ocidir://${layout.replace(/\/+$/, "")}` : host;
  const notes = plan.registryUrl?.startsWith("http://")
    ? [`Plain http: first run regctl registry set ${shellQuote(host)} --tls disabled`]
    : [];
  return {
    notes,
    remove: (e) => `regctl manifest rm ${shellQuote(`${base}/${e.repository}@${e.digest}`)}`,
    untag: (e) => `regctl tag rm ${shellQuote(`${base}/${e.repository}:${e.tag}`)}`,
  };
}

function describe(entry: DeleteEntry, now: number): string {
  const tags = entry.tags.length ? entry.tags.join(",") : "(untagged)";
  const age = entry.created
    ? `${Math.floor((now - Date.parse(entry.created)) / 86_400_000)}d (created)`
    : "unknown";
  return `tags: ${oneLine(tags)} | age: ${age} | reasons: ${reasons(entry.reasons)}`;
}

function reasons(list: readonly { rule: string; detail: string }[]): string {
  return oneLine(list.map((r) => `${r.rule}: ${r.detail}`).join("; "));
}

/** A comment must stay one line: a line break in a name or detail would start a command. */
function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  return text.replace(/[\u0000-\u001f\u007f]+/g, " ");
}

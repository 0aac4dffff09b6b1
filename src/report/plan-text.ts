import { NO_USAGE_SOURCES_WARNING } from "../plan/no-usage-sources.js";
import type { DeleteEntry, KeepEntry, Plan } from "../plan/plan-schema.js";
import { short } from "../policy/purge-policy.js";
import { formatBytes } from "./format-bytes.js";

/** The human-readable plan: per repository what goes, what stays and why, and the totals. */
export function formatPlanText(plan: Plan, now: Date): string {
  const lines: string[] = [];
  const o = plan.options;
  lines.push(`regsweep plan for ${plan.registry} (${plan.createdAt})`);
  lines.push(
    `filters: ${o.filters.join(" ") || "(none)"}   ago: ${o.ago ?? "any"}   keep: ${o.keep ?? 0}   untagged: ${o.untagged ? "yes" : "no"}${plan.shard ? `   shard: ${plan.shard.index}/${plan.shard.count}` : ""}`,
  );
  // First, not among the warnings at the end: every DELETE below may be an image something runs.
  if (plan.warnings.includes(NO_USAGE_SOURCES_WARNING))
    lines.push("", `WARNING: ${NO_USAGE_SOURCES_WARNING}`);
  const repos = new Map<string, { del: DeleteEntry[]; keep: KeepEntry[] }>();
  const group = (name: string) => {
    const g = repos.get(name) ?? { del: [], keep: [] };
    repos.set(name, g);
    return g;
  };
  for (const d of plan.delete) group(d.repository).del.push(d);
  for (const k of plan.keep) group(k.repository).keep.push(k);
  for (const [name, g] of [...repos].sort((a, b) => a[0].localeCompare(b[0]))) {
    lines.push("");
    const bytes = g.del.reduce((s, d) => s + d.sizeBytes, 0);
    lines.push(
      `${name}: delete ${g.del.length}, keep ${g.keep.length}${g.del.length ? ` (${formatBytes(bytes)} listed)` : ""}`,
    );
    for (const d of g.del)
      lines.push(`  DELETE ${row(d, now)}  ${d.reasons.map((r) => r.detail).join("; ")}`);
    for (const k of g.keep) lines.push(`  KEEP   ${row(k, now)}  ${k.reasons.map(keepReason).join("; ")}`);
  }
  if (plan.untag?.length) {
    lines.push("", `Tags to remove, the manifests staying: ${plan.untag.length}`);
    for (const u of plan.untag) {
      lines.push(
        `  UNTAG  ${u.repository}:${u.tag} (${short(u.digest)})  ${u.reasons.map((r) => r.detail).join("; ")}`,
      );
    }
  }
  const s = plan.summary;
  lines.push("");
  lines.push(
    `Summary: ${s.manifests} manifests in ${s.repositories} repositories; delete ${s.delete}, keep ${s.keep} (${s.inUse} in use); reclaimable ${formatBytes(s.reclaimableBytes)} (blobs no kept manifest shares)`,
  );
  if (plan.oldInUse.length > 0) {
    lines.push("");
    lines.push(
      `Old images still in use (older than --ago ${plan.options.ago}, oldest first): they stay, but their users should move on`,
    );
    for (const o of plan.oldInUse) {
      lines.push(
        `  ${o.repository}@${short(o.digest)} ${o.tags.join(",") || "<untagged>"}  created ${o.created.slice(0, 10)}, ${o.daysOverThreshold} days over`,
      );
      for (const u of o.usedBy) lines.push(`      ${u}`);
    }
  }
  if (plan.pullRequests) {
    // As the PR cleanup script printed them: what goes, what stays, each with its PR and status.
    const pr = plan.pullRequests;
    lines.push("", `Pull requests (${pr.provider}):`, `Deleted Images: ${pr.deleted.length}`);
    for (const d of pr.deleted) lines.push(`  ${d.repository}:${d.tag}  PR ${d.pr} ${d.status}`);
    lines.push(`Preserved Images: ${pr.preserved.length}`);
    for (const k of pr.preserved) {
      lines.push(`  ${k.repository}:${k.tag}  PR ${k.pr} ${k.status ?? "status unknown"}  (${k.reason})`);
    }
  }
  for (const w of plan.warnings)
    lines.push(w === NO_USAGE_SOURCES_WARNING ? `WARNING: ${w}` : `warning: ${w}`);
  return `${lines.join("\n")}\n`;
}

function row(e: DeleteEntry | KeepEntry, now: Date): string {
  const tags = e.tags.length ? e.tags.join(",") : "<untagged>";
  const age = e.created ? `${Math.floor((now.getTime() - Date.parse(e.created)) / 86_400_000)}d` : "age?";
  return `${short(e.digest)} ${tags.padEnd(16)} ${age.padStart(5)} ${formatBytes(e.sizeBytes).padStart(9)}`;
}

function keepReason(r: { rule: string; detail: string; source?: string }): string {
  return r.source ? `${r.rule}: ${r.detail} (${r.source})` : `${r.rule}: ${r.detail}`;
}

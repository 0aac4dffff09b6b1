import type { DeleteEntry, KeepEntry, Plan } from "../plan/plan-schema.js";
import { formatBytes } from "./format-bytes.js";

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );

function row(kind: "delete" | "keep", e: DeleteEntry | KeepEntry): string {
  const reasons = e.reasons
    .map(
      (r) =>
        `<li><code>${escapeHtml(r.rule)}</code> ${escapeHtml(r.detail)}${r.source ? ` <em>(${escapeHtml(r.source)})</em>` : ""}</li>`,
    )
    .join("");
  return `<tr class="${kind}"><td>${kind === "delete" ? "DELETE" : "keep"}</td><td><code title="${escapeHtml(e.digest)}">${escapeHtml(e.digest.slice(0, 19))}</code></td><td>${escapeHtml(e.tags.join(", ") || "untagged")}</td><td>${escapeHtml(e.created?.slice(0, 10) ?? "unknown")}</td><td class="num">${escapeHtml(formatBytes(e.sizeBytes))}</td><td><ul>${reasons}</ul></td></tr>`;
}

/** A self-contained HTML page of a plan: summary, per repository what goes and what stays and why. */
export function formatPlanHtml(plan: Plan): string {
  const repos = [...new Set([...plan.delete, ...plan.keep].map((e) => e.repository))].sort();
  const s = plan.summary;
  const sections = repos
    .map((repo) => {
      const del = plan.delete.filter((d) => d.repository === repo);
      const keep = plan.keep.filter((k) => k.repository === repo);
      return `<h2>${escapeHtml(repo)} <small>delete ${del.length}, keep ${keep.length}</small></h2>
<table><thead><tr><th></th><th>digest</th><th>tags</th><th>created</th><th>size</th><th>why</th></tr></thead><tbody>
${[...del.map((d) => row("delete", d)), ...keep.map((k) => row("keep", k))].join("\n")}
</tbody></table>`;
    })
    .join("\n");
  const old = plan.oldInUse.length
    ? `<h2>Old images still in use</h2><ul>${plan.oldInUse
        .map(
          (o) =>
            `<li><code>${escapeHtml(o.repository)}@${escapeHtml(o.digest.slice(0, 19))}</code> ${escapeHtml(o.tags.join(", ") || "(untagged)")}: created ${escapeHtml(o.created.slice(0, 10))}, ${o.daysOverThreshold} days over; used by ${o.usedBy.map(escapeHtml).join("; ")}</li>`,
        )
        .join("")}</ul>`
    : "";
  const pr = plan.pullRequests;
  const prRows = (
    rows: readonly { repository: string; tag: string; pr: number; status: string | null; reason?: string }[],
  ) =>
    rows
      .map(
        (r) =>
          `<tr><td><code>${escapeHtml(r.repository)}:${escapeHtml(r.tag)}</code></td><td>PR ${r.pr}</td><td>${escapeHtml(r.status ?? "status unknown")}</td><td>${escapeHtml(r.reason ?? "")}</td></tr>`,
      )
      .join("");
  const pullRequests = pr
    ? `<h2>Pull requests <small>${escapeHtml(pr.provider)}</small></h2>
<h3>Deleted Images (${pr.deleted.length})</h3><table><tbody>${prRows(pr.deleted)}</tbody></table>
<h3>Preserved Images (${pr.preserved.length})</h3><table><tbody>${prRows(pr.preserved)}</tbody></table>`
    : "";
  const warnings = plan.warnings.length
    ? `<h2>Warnings</h2><ul>${plan.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join("")}</ul>`
    : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>regsweep plan for ${escapeHtml(plan.registry)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}tr.delete td:first-child{color:#b00;font-weight:bold}td.num{text-align:right}ul{margin:0;padding-left:1.2em}small{color:#666;font-weight:normal}</style>
</head><body>
<h1>regsweep plan for ${escapeHtml(plan.registry)}</h1>
<p>Made ${escapeHtml(plan.createdAt)}. Filters <code>${escapeHtml(plan.options.filters.join(" "))}</code>, ago ${escapeHtml(plan.options.ago ?? "any")}, keep ${plan.options.keep ?? 0}, untagged ${plan.options.untagged ? "yes" : "no"}${plan.options.protectTags?.length ? `, protected tags <code>${escapeHtml(plan.options.protectTags.join(" "))}</code>` : ""}.</p>
<p><strong>${s.manifests}</strong> manifests in ${s.repositories} repositories: delete <strong>${s.delete}</strong>, keep ${s.keep} (${s.inUse} in use). Reclaimable: <strong>${escapeHtml(formatBytes(s.reclaimableBytes))}</strong> (blobs no kept manifest shares).</p>
${warnings}
${old}
${pullRequests}
${sections}
</body></html>
`;
}

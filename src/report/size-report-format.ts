import { formatBytes } from "./format-bytes.js";
import type { SizeReport, SizeReportRow } from "./size-report.js";

const LEGEND =
  "freed: what deleting that group's images alone frees (blobs nothing kept and no other group's deleted image holds); " +
  "shared: freed only together with other groups' deletions, counted once in the total";

function label(r: SizeReportRow): string {
  return r.tags === undefined ? r.group : `${r.group} ${r.tags.length ? r.tags.join(",") : "<untagged>"}`;
}

/** A table, largest freed first, with a total line that counts each blob once. */
export function formatSizeReportText(report: SizeReport): string {
  const rows = report.rows.map((r) => ({ name: label(r), r }));
  const total = { name: "TOTAL (each blob once)", r: report.total };
  const width = Math.max(report.by.length, ...[...rows, total].map((x) => x.name.length));
  const line = (name: string, cells: readonly string[]) =>
    `${name.padEnd(width)}  ${cells.map((c, i) => c.padStart(i < 2 ? 6 : 10)).join("  ")}`.trimEnd();
  const cells = (r: Omit<SizeReportRow, "group" | "tags">) => [
    String(r.images),
    String(r.deleteImages),
    formatBytes(r.totalBytes),
    formatBytes(r.freedBytes),
    formatBytes(r.sharedFreedBytes),
  ];
  return `${[
    `regsweep size report for ${report.registry} by ${report.by}`,
    line(report.by, ["images", "delete", "total", "freed", "shared"]),
    ...rows.map((x) => line(x.name, cells(x.r))),
    line(total.name, cells(total.r)),
    LEGEND,
  ].join("\n")}\n`;
}

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );

/** A self-contained HTML page of the same table. */
export function formatSizeReportHtml(report: SizeReport): string {
  const num = (n: number) => `<td class="num" title="${n} bytes">${escapeHtml(formatBytes(n))}</td>`;
  const tr = (name: string, r: Omit<SizeReportRow, "group" | "tags">, tag = "td") =>
    `<tr><${tag}>${escapeHtml(name)}</${tag}><td class="num">${r.images}</td><td class="num">${r.deleteImages}</td>${num(r.totalBytes)}${num(r.freedBytes)}${num(r.sharedFreedBytes)}</tr>`;
  const title = `regsweep size report for ${report.registry} by ${report.by}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left}td.num,th.num{text-align:right}tfoot{font-weight:bold}</style>
</head><body>
<h1>${escapeHtml(title)}</h1>
<table><thead><tr><th>${escapeHtml(report.by)}</th><th class="num">images</th><th class="num">delete</th><th class="num">total</th><th class="num">freed</th><th class="num">shared</th></tr></thead><tbody>
${report.rows.map((r) => tr(label(r), r)).join("\n")}
</tbody><tfoot>${tr("TOTAL (each blob once)", report.total, "th")}</tfoot></table>
<p>${escapeHtml(LEGEND)}</p>
</body></html>
`;
}

/** The report as JSON: rows and total in bytes. */
export function formatSizeReportJson(report: SizeReport): string {
  return `${JSON.stringify({ version: 1, ...report }, null, 2)}\n`;
}

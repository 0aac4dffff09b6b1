import { loadConfig } from "../config/load-config.js";
import type { Inventory } from "../inventory/graph.js";
import type { Digest } from "../oci/digest.js";
import { scan } from "../pipeline/scan.js";
import { loadUsageFindings } from "../pipeline/usages.js";
import { parseRepositoryFilter, repositorySelected } from "../policy/filter.js";
import { formatBytes } from "../report/format-bytes.js";
import { refuseSharedStdin } from "../usage/build-sources.js";
import { sourceTimeoutMs } from "../usage/load-usages.js";
import { resolveUsages } from "../usage/resolve.js";
import { setAsideNote } from "../usage/set-aside-note.js";
import { unusedReferences } from "../usage/unused-references.js";
import type { Usage } from "../usage/usage.js";
import { printWarnings } from "./print-events.js";
import { openRegistryFromFlags, type RegistryFlags, withConfig } from "./registry-options.js";
import { readStdinOnce } from "./stdin.js";
import { aliasesOf, type UsageFlags, usageSourcesOf } from "./usage-options.js";

export interface ScanFlags extends RegistryFlags, UsageFlags {
  filter?: string[];
  format: "text" | "json";
}

export interface InUseSummary {
  readonly repository: string;
  readonly digest: string;
  readonly tags: readonly string[];
  readonly usedBy: readonly string[];
}

export interface RepositorySummary {
  readonly repository: string;
  readonly manifests: number;
  readonly tags: number;
  readonly untagged: number;
  /** Distinct blob bytes (manifests, configs, layers) held by the repository. */
  readonly bytes: number;
  readonly oldest: string | null;
  readonly newest: string | null;
}

export function summariseInventory(inventory: Inventory): RepositorySummary[] {
  return inventory.repositories.map((repo) => {
    const blobs = new Map<string, number>();
    for (const m of repo.manifests) {
      blobs.set(m.digest, m.manifestSize);
      for (const b of m.blobs) blobs.set(b.digest, b.size);
    }
    const times = repo.manifests
      .map((m) => m.created)
      .filter((c): c is string => c !== undefined)
      .sort();
    return {
      repository: repo.name,
      manifests: repo.manifests.length,
      tags: repo.manifests.reduce((s, m) => s + m.tags.length, 0),
      untagged: repo.manifests.filter((m) => m.tags.length === 0).length,
      bytes: [...blobs.values()].reduce((s, n) => s + n, 0),
      oldest: times[0] ?? null,
      newest: times.at(-1) ?? null,
    };
  });
}

export async function runScan(cliFlags: ScanFlags): Promise<number> {
  const config = await loadConfig(cliFlags.config);
  const flags = { ...cliFlags, ...withConfig(cliFlags, config) };
  const filters = flags.filter ?? [];
  filters.forEach(parseRepositoryFilter); // a bad filter is bad usage before any request
  const sources = usageSourcesOf(config, flags, readStdinOnce);
  refuseSharedStdin(sources, flags.passwordStdin);
  const aliases = aliasesOf(config, flags);
  const opened = await openRegistryFromFlags(flags, config, readStdinOnce);
  try {
    const { usages, records } = await loadUsageFindings(sources, {
      timeoutMs: sourceTimeoutMs(process.env),
      onEvent: printWarnings,
    });
    const inventory = await scan(opened, { filters, usages, aliases });
    const repositories = summariseInventory(inventory);
    const resolution = resolveUsages(inventory, usages, aliases);
    const inUse: InUseSummary[] = inventory.repositories.flatMap((repo) =>
      [...(resolution.inUse.get(repo.name) ?? new Map<Digest, readonly Usage[]>())].map(
        ([digest, users]) => ({
          repository: repo.name,
          digest,
          tags: repo.manifests.find((m) => m.digest === digest)?.tags ?? [],
          usedBy: [...new Set(users.map((u) => u.source))],
        }),
      ),
    );
    const parsedFilters = filters.map(parseRepositoryFilter);
    const unused = unusedReferences(
      inventory,
      records,
      (name) => parsedFilters.length === 0 || repositorySelected(parsedFilters, name),
      aliases,
    );
    const requests = opened.type === "oci-layout" ? undefined : opened.requests();
    if (flags.format === "json") {
      process.stdout.write(
        `${JSON.stringify({ registry: inventory.registry, scannedAt: inventory.scannedAt, listsUntagged: inventory.listsUntagged, repositories, inUse, unusedReferences: unused, warnings: resolution.warnings, ...(requests !== undefined ? { requests } : {}) }, null, 2)}\n`,
      );
      return 0;
    }
    const lines = [`${inventory.registry}: ${repositories.length} repositories`];
    lines.push(
      `${"repository".padEnd(32)} ${"manifests".padStart(9)} ${"tags".padStart(6)} ${"bytes".padStart(10)}  oldest      newest`,
    );
    for (const r of repositories) {
      lines.push(
        `${r.repository.padEnd(32)} ${String(r.manifests).padStart(9)} ${String(r.tags).padStart(6)} ${formatBytes(r.bytes).padStart(10)}  ${(r.oldest ?? "-").slice(0, 10).padEnd(10)}  ${(r.newest ?? "-").slice(0, 10)}`,
      );
    }
    if (sources.length > 0) {
      lines.push("", `In use (${inUse.length} digests, from ${sources.map((s) => s.name).join(", ")}):`);
      for (const u of inUse) {
        lines.push(`  ${u.repository}@${u.digest.slice(0, 19)} ${u.tags.join(",") || "<untagged>"}`);
        for (const who of u.usedBy) lines.push(`      ${who}`);
      }
      for (const w of resolution.warnings) lines.push(`warning: ${w}`);
      const setAside = setAsideNote(resolution.setAside);
      if (setAside) lines.push(setAside);
    }
    if (unused.length > 0) {
      lines.push("", `Database records whose image the registry does not have (${unused.length}):`);
      for (const u of unused) lines.push(`  ${u.reference}`, `      ${u.record}`);
    }
    const total = repositories.reduce((s, r) => s + r.manifests, 0);
    lines.push(`${total} manifests${requests !== undefined ? `, ${requests} requests` : ""}`);
    if (!inventory.listsUntagged)
      lines.push(
        "note: this registry cannot list untagged manifests; only tagged images, index children and referrers are counted",
      );
    process.stdout.write(`${lines.join("\n")}\n`);
    return 0;
  } finally {
    await opened.close();
  }
}

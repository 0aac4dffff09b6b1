import type { RestoreResult } from "../apply/backup/restore.js";
import { loadConfig } from "../config/load-config.js";
import { UsageError } from "../registry/registry-url.js";
import { openRegistry, type RegistryFlags, withConfig } from "./registry-options.js";
import { readStdinOnce } from "./stdin.js";

export interface RestoreFlags extends RegistryFlags {
  from: string;
  image?: string[];
  to?: string;
  s3Endpoint?: string;
  format: "text" | "json";
}

/** `restore --from DEST`: pushes backed-up images back, byte for byte; exit 1 if any failed. */
export async function runRestore(cliFlags: RestoreFlags): Promise<number> {
  const config = await loadConfig(cliFlags.config);
  const flags = {
    ...cliFlags,
    ...withConfig({ ...cliFlags, registry: cliFlags.to ?? cliFlags.registry }, config),
  };
  if (!flags.registry)
    throw new UsageError("restore needs --to REGISTRY (or --registry, or registry.url in the configuration)");
  const opened = await openRegistry(flags, readStdinOnce, config.azure);
  try {
    let results: RestoreResult[];
    try {
      // Loaded on use: the S3 client is large, and most runs never restore.
      const { restoreFromBackup } = await import("../apply/backup/restore.js");
      results = await restoreFromBackup(flags.from, opened.registry, {
        ...(flags.image?.length ? { images: flags.image } : {}),
        ...(flags.s3Endpoint ? { s3Endpoint: flags.s3Endpoint, s3ForcePathStyle: true } : {}),
      });
    } catch (error) {
      const message = (error as Error).message;
      if (/not recognised|not in the backup/.test(message)) throw new UsageError(message);
      throw error;
    }
    if (flags.format === "json") process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    else {
      for (const r of results) {
        process.stdout.write(
          `${r.status.padEnd(16)} ${r.repository}@${r.digest}${r.tags.length ? ` (${r.tags.join(", ")})` : ""}${r.detail ? `  ${r.detail}` : ""}\n`,
        );
      }
    }
    const failed = results.filter((r) => r.status === "failed").length;
    process.stderr.write(
      `Restored ${results.filter((r) => r.status === "restored").length}, already present ${results.filter((r) => r.status === "already-present").length}, failed ${failed}.\n`,
    );
    return failed > 0 ? 1 : 0;
  } finally {
    await opened.close();
  }
}

import { loadConfig } from "../config/load-config.js";
import { UsageError } from "../errors.js";
import { restore } from "../pipeline/restore.js";
import { openRegistryFromFlags, type RegistryFlags, withConfig } from "./registry-options.js";
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
  const opened = await openRegistryFromFlags(flags, config, readStdinOnce);
  try {
    const results = await restore({
      from: flags.from,
      to: opened,
      ...(flags.image?.length ? { images: flags.image } : {}),
      ...(flags.s3Endpoint ? { s3Endpoint: flags.s3Endpoint } : {}),
    });
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

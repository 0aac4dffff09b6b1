import { readFile, writeFile } from "node:fs/promises";
import { UsageError } from "../errors.js";
import { importAcrPurge } from "../pipeline/import-acr-purge.js";
import { importAksCleanup } from "../pipeline/import-aks-cleanup.js";
import { formatImportNotes, type ImportedConfig, importedYaml } from "../pipeline/imported-config.js";

export interface ConfigImportFlags {
  days?: number;
  fromAcrPurge?: string;
  output?: string;
}

/**
 * `config import FILE | --from-acr-purge "CMD"`: the configuration equivalent to the AKS cleanup
 * script's file or an acr purge command line. Without -o the YAML goes to stdout; what was mapped
 * and what has no equivalent always goes to stderr. An existing -o file is never overwritten.
 */
export async function runConfigImport(file: string | undefined, flags: ConfigImportFlags): Promise<number> {
  if ((file === undefined) === (flags.fromAcrPurge === undefined)) {
    throw new UsageError(
      'config import takes the AKS cleanup script\'s JSON file or --from-acr-purge "acr purge …", one of them',
    );
  }
  let result: ImportedConfig;
  if (file !== undefined) {
    const json = await readJson(file);
    try {
      result = importAksCleanup(json, {
        source: file,
        ...(flags.days === undefined ? {} : { days: flags.days }),
      });
    } catch (error) {
      if (error instanceof UsageError) throw new UsageError(`${file}: ${error.message}`);
      throw error;
    }
  } else {
    if (flags.days !== undefined) {
      throw new UsageError("--days belongs to the AKS cleanup file; an acr purge line gives --ago");
    }
    result = importAcrPurge(flags.fromAcrPurge as string);
  }
  const yaml = importedYaml(result);
  if (flags.output) {
    try {
      // wx: created here or not at all, so an existing configuration is never replaced.
      await writeFile(flags.output, yaml, { flag: "wx" });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") {
        throw new UsageError(
          `${flags.output} exists: config import never overwrites a file; remove it or give another -o`,
        );
      }
      throw new UsageError(`-o ${flags.output}: ${(error as Error).message}`);
    }
  } else {
    process.stdout.write(yaml);
  }
  process.stderr.write(formatImportNotes(result.notes));
  const target = flags.output ?? "regsweep.yaml";
  if (flags.output) process.stderr.write(`Wrote ${flags.output}.\n`);
  process.stderr.write(`Next: regsweep plan --config ${target} (it never deletes).\n`);
  return 0;
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new UsageError(`${file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${file} is not JSON: ${(error as Error).message}`);
  }
}

import { stringify } from "yaml";
import { configSchema } from "../config/config-schema.js";

/** What one setting of the tool a user comes from became. */
export interface ImportNote {
  /** mapped: the same meaning here; differs: mapped, but regsweep reads it otherwise; no-equivalent: dropped. */
  readonly kind: "mapped" | "differs" | "no-equivalent";
  readonly text: string;
}

/** A configuration as written (defaults left out), with what became of each input setting. */
export interface ImportedConfig {
  readonly config: Record<string, unknown>;
  readonly notes: readonly ImportNote[];
  /** What it was imported from, fit to print (credentials replaced). */
  readonly source: string;
}

/**
 * The configuration, checked against the schema `regsweep plan --config` loads it with: a file
 * that would not load is a mistake of the importer, never the user's.
 */
export function imported(
  config: Record<string, unknown>,
  notes: readonly ImportNote[],
  source: string,
): ImportedConfig {
  configSchema.parse(config);
  return { config, notes, source };
}

/** An ACR task's `--registry myacr` is the registry's name; a login server or URL is taken as it is. */
export function registryUrlOf(registry: string): string {
  if (/^[a-z]+:\/\//i.test(registry)) return registry.replace(/\/+$/, "");
  return registry.includes(".") || registry.includes(":")
    ? `https://${registry.replace(/\/+$/, "")}`
    : `https://${registry.toLowerCase()}.azurecr.io`;
}

/** regsweep.yaml text, headed by a comment saying where it came from. */
export function importedYaml(result: ImportedConfig): string {
  const header = [
    `# regsweep.yaml written by regsweep config import from ${result.source.replace(/\s+/g, " ")}`,
  ];
  header.push("# Check it with: regsweep plan --config regsweep.yaml (never deletes)");
  return `${header.join("\n")}\n${stringify(result.config, { lineWidth: 0 })}`;
}

const LABEL: Record<ImportNote["kind"], string> = {
  mapped: "mapped",
  differs: "differs",
  "no-equivalent": "no equivalent",
};

/** The notes as lines for stderr, mapped first. */
export function formatImportNotes(notes: readonly ImportNote[]): string {
  const order: ImportNote["kind"][] = ["mapped", "differs", "no-equivalent"];
  return order
    .flatMap((kind) => notes.filter((n) => n.kind === kind).map((n) => `${LABEL[kind]}: ${n.text}\n`))
    .join("");
}

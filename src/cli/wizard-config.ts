import { type Config, configSchema } from "../config/config-schema.js";
import { parseDuration } from "../policy/duration.js";
import { WORKLOAD_KINDS, type WorkloadKind } from "../usage/azure/arm-discovery.js";

/** What the wizard asked, once every question has an answer. */
export interface WizardAnswers {
  readonly subscriptionId: string;
  /** As registry.url takes it: https://myacr.azurecr.io, http://127.0.0.1:PORT. */
  readonly registryUrl: string;
  readonly resourceGroup?: string;
  /** The Azure workload kinds to protect; other sources of the starting configuration stay. */
  readonly sources: readonly WorkloadKind[];
  readonly filters: readonly string[];
  /** `30d`; absent: any age. */
  readonly ago?: string;
  /** 0 or absent: no keep rule. */
  readonly keep?: number;
  readonly untagged: boolean;
}

/** The configuration as written (YAML input form: defaults left out). */
export type WrittenConfig = Record<string, unknown> & {
  registry: Record<string, unknown>;
  policy: Record<string, unknown>;
  azure: Record<string, unknown>;
  usage: Record<string, unknown>[];
};

const AZURE_KINDS: ReadonlySet<string> = new Set(WORKLOAD_KINDS);

/**
 * The configuration file the answers make: the starting file (`wizard --config`) with the answers
 * written over it. Azure workload sources follow the answer (an unchosen kind is dropped, a chosen
 * one keeps its existing settings); every other source stays as it was. Pure: nothing is read or
 * written, and nothing secret is added (credentials stay with az login, the environment or flags).
 */
export function wizardConfig(answers: WizardAnswers, base: Record<string, unknown> = {}): WrittenConfig {
  const section = (name: string) => ({ ...((base[name] as Record<string, unknown> | undefined) ?? {}) });
  const registry = { ...section("registry"), url: answers.registryUrl };
  const policy: Record<string, unknown> = {
    ...section("policy"),
    filters: [...answers.filters],
    untagged: answers.untagged,
  };
  delete policy.ago;
  delete policy.keep;
  if (answers.ago) policy.ago = answers.ago;
  if (answers.keep) policy.keep = answers.keep;
  const azure: Record<string, unknown> = { ...section("azure"), subscriptions: [answers.subscriptionId] };
  delete azure.registryResourceGroup;
  if (answers.resourceGroup) azure.registryResourceGroup = answers.resourceGroup;
  const existing = ((base.usage as Record<string, unknown>[] | undefined) ?? []).filter(
    (s) => !AZURE_KINDS.has(String(s.type)) || answers.sources.includes(s.type as WorkloadKind),
  );
  const added = answers.sources
    .filter((kind) => !existing.some((s) => s.type === kind))
    .map((kind) => ({ type: kind }));
  const written: WrittenConfig = {
    ...base,
    registry,
    policy,
    azure,
    usage: [...existing, ...added],
  };
  // The file must load as `regsweep plan --config` will load it: a mistake here is ours, not the user's.
  configSchema.parse(written);
  return written;
}

/**
 * Whether a workload kind starts ticked: where the subscription has some, where the starting
 * configuration reads it, and where it could not be checked — a source that cannot be read then
 * stops the plan (exit 3) instead of leaving its workloads unprotected unnoticed.
 */
export function preselected(presence: boolean | string, configured: boolean): boolean {
  return configured || presence !== false;
}

/** The command that repeats the run without questions. */
export function repeatCommand(
  mode: "dry-run" | "delete",
  configPath: string,
  config: Pick<Config, "usage">,
): string {
  const file = shellQuote(configPath);
  if (mode === "dry-run") return `regsweep plan --config ${file}`;
  return `regsweep run --config ${file} --confirm strict${config.usage.length === 0 ? " --no-usage-sources" : ""}`;
}

function shellQuote(text: string): string {
  return /^[\w./:@%+=,-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}

/** The age answer as policy.ago: a duration (`30d`, `1d12h`), a number of days, or none (`0`, blank). */
export function parseAgeAnswer(text: string): { ago?: string } | { error: string } {
  const trimmed = text.trim();
  if (trimmed === "" || trimmed === "0" || /^none$/i.test(trimmed)) return {};
  const ago = /^\d+$/.test(trimmed) ? `${trimmed}d` : trimmed;
  if (parseDuration(ago) === undefined)
    return { error: `${trimmed} is not an age: type e.g. 30d, 1d12h, 90m` };
  return { ago };
}

/** registry.url for an ACR login server: https, except plain http on a loopback address (tests, tunnels). */
export function registryUrlOf(loginServer: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(loginServer)) return loginServer;
  const host = loginServer.split(":")[0]?.toLowerCase() ?? "";
  const loopback = host === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(host);
  return `${loopback ? "http" : "https"}://${loginServer.toLowerCase()}`;
}

/** A typed registry: a URL or host as given, or an ACR name (`myacr` → https://myacr.azurecr.io). */
export function registryUrlOfAnswer(text: string, acrSuffix: string): string {
  const trimmed = text.trim();
  if (/^[a-z0-9]+$/i.test(trimmed)) return `https://${trimmed.toLowerCase()}.${acrSuffix}`;
  return registryUrlOf(trimmed);
}

import { readFile } from "node:fs/promises";
import type { ZodIssue } from "zod";
import { UsageError } from "../errors.js";
import { type AZURE_CLOUDS, type Config, configSchema } from "./config-schema.js";

/** Where each environment variable lands in the configuration (it wins over the file). */
type Env = Record<string, string | undefined>;

export const REGISTRY_SUFFIX: Record<(typeof AZURE_CLOUDS)[number], string> = {
  AzurePublicCloud: "azurecr.io",
  AzureUSGovernment: "azurecr.us",
  AzureChinaCloud: "azurecr.cn",
};

/**
 * Reads `regsweep.yaml` (or JSON), validates it, and overlays the environment. Precedence:
 * built-in defaults < file < environment < flags (the caller applies flags). Errors name the
 * key and the line.
 */
export async function loadConfig(path: string | undefined, env: Env = process.env): Promise<Config> {
  let raw: unknown = {};
  let locate: (path: readonly PropertyKey[]) => string = () => "";
  if (path) {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      throw new UsageError(`--config ${path}: ${(error as Error).message}`);
    }
    // Loaded only when there is a file to read.
    const { isMap, isSeq, LineCounter, parseDocument } = await import("yaml");
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { lineCounter, prettyErrors: true });
    if (doc.errors.length > 0) {
      const e = doc.errors[0];
      const line = e?.linePos?.[0]?.line;
      throw new UsageError(`${path}${line ? ` line ${line}` : ""}: ${e?.message.split("\n")[0]}`);
    }
    raw = doc.toJS() ?? {};
    locate = (keys) => {
      let node: unknown = doc.contents;
      let found = node;
      for (const key of keys) {
        if (isMap(node)) node = node.get(key as string, true);
        else if (isSeq(node)) node = node.get(key as number, true);
        else break;
        if (node) found = node;
      }
      const range = (found as { range?: [number, number, number] } | undefined)?.range;
      return range ? ` line ${lineCounter.linePos(range[0]).line}` : "";
    };
  }
  const merged = overlayEnv(raw, env);
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const where = path ?? "configuration";
    throw new UsageError(parsed.error.issues.map((i) => describeIssue(where, i, locate)).join("\n"));
  }
  return parsed.data;
}

function describeIssue(
  where: string,
  issue: ZodIssue,
  locate: (path: readonly PropertyKey[]) => string,
): string {
  const key = issue.path.map(String).join(".") || "(top level)";
  return `${where}${locate(issue.path)}: ${key}: ${issue.message}`;
}

function overlayEnv(raw: unknown, env: Env): unknown {
  const config = structuredClone((raw ?? {}) as Record<string, Record<string, unknown>>);
  const section = (name: string) => {
    config[name] = { ...(config[name] ?? {}) };
    return config[name] as Record<string, unknown>;
  };
  if (env.REGSWEEP_AZURE_CLOUD ?? env.AZURE_CLOUD)
    section("azure").cloud = env.REGSWEEP_AZURE_CLOUD ?? env.AZURE_CLOUD;
  // The variables the App Service cleanup script read, so its users can keep their pipelines.
  if (env.AZURE_SUBSCRIPTION_ID) section("azure").subscriptions = [env.AZURE_SUBSCRIPTION_ID];
  if (env.AZURE_ACR_RESOURCE_GROUP) section("azure").registryResourceGroup = env.AZURE_ACR_RESOURCE_GROUP;
  if (env.AZURE_ACR_NAME) {
    const cloud = (config.azure?.cloud ?? "AzurePublicCloud") as Config["azure"]["cloud"];
    section("registry").url =
      `https://${env.AZURE_ACR_NAME.toLowerCase()}.${REGISTRY_SUFFIX[cloud] ?? "azurecr.io"}`;
  }
  if (env.REGSWEEP_REGISTRY) section("registry").url = env.REGSWEEP_REGISTRY;
  if (env.REGSWEEP_USERNAME) section("registry").username = env.REGSWEEP_USERNAME;
  if (env.REGSWEEP_FILTER) section("policy").filters = env.REGSWEEP_FILTER.split(/\s+/).filter(Boolean);
  if (env.REGSWEEP_AGO) section("policy").ago = env.REGSWEEP_AGO;
  if (env.REGSWEEP_KEEP) section("policy").keep = Number(env.REGSWEEP_KEEP);
  if (env.REGSWEEP_AUDIT_DIR) section("audit").dir = env.REGSWEEP_AUDIT_DIR;
  return config;
}

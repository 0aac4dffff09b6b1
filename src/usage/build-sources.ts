import type { Config, UsageSourceConfig } from "../config/config-schema.js";
import { UsageError, UsageSourceError } from "../errors.js";
import type { AzureContext } from "./azure/azure-context.js";
import { inUseFileSource } from "./in-use-file.js";
import type { KubernetesSourceOptions } from "./kubernetes-source.js";
import { parseObjectIds } from "./object-ids.js";
import type { UsageSource } from "./usage.js";

export interface AdHocSources {
  /** `--in-use-file`, repeatable. */
  readonly inUseFiles?: readonly string[];
  /** `--kubeconfig`; alone it means the file's current context. */
  readonly kubeconfig?: string;
  /** `--context`, repeatable: every named context is a source. */
  readonly contexts?: readonly string[];
}

export interface SourceDeps {
  /** Made on first use, so runs without Azure sources never touch Azure identity. */
  readonly azure: () => Promise<AzureContext>;
  readonly readStdin: () => Promise<string>;
  /** Where a source's `uriEnv` and similar names are looked up. */
  readonly env?: Record<string, string | undefined>;
  /** The registry being cleaned: what a database's host-less image names refer to. */
  readonly registryHost?: string;
  /** The policy's protectPulledWithin (`30d`): the window of sources that read pull records. */
  readonly pulledWithin?: string;
  /**
   * How durations (`30d`, `1d12h`) are read: the policy layer's parser, handed down because usage
   * sits below policy. Without it a source that needs a window is refused.
   */
  readonly durationMs?: (text: string) => number | undefined;
}

/**
 * What sources need from the run: Azure identity (made on first use, from the settings and the
 * environment given) and standard input.
 */
export function sourceDeps(
  azure: Config["azure"],
  readStdin: () => Promise<string>,
  env?: Record<string, string | undefined>,
): SourceDeps {
  return {
    azure: async () => (await import("./azure/azure-context.js")).azureContext(azure, env ? { env } : {}),
    readStdin,
    ...(env ? { env } : {}),
  };
}

/**
 * Standard input can be read once: with `--password-stdin` and an in-use list on `-`, whichever
 * read first would take the other's text (a password parsed as references, or printed in an
 * error). Called before anything reads standard input.
 */
export function refuseSharedStdin(sources: readonly UsageSource[], passwordStdin: boolean | undefined): void {
  if (passwordStdin && sources.some((s) => s.readsStdin)) {
    throw new UsageError(
      "--password-stdin and --in-use-file - both read standard input: put the references in a file, or the password in REGSWEEP_PASSWORD",
    );
  }
}

/**
 * The configured usage sources plus those the command line adds. The Kubernetes and Azure clients
 * are large; they are imported only when such a source is loaded, so other runs start fast.
 */
export function buildUsageSources(config: Config, adHoc: AdHocSources, deps: SourceDeps): UsageSource[] {
  const sources = config.usage.flatMap((s) => sourcesFromConfig(s, deps));
  for (const file of adHoc.inUseFiles ?? []) sources.push(inUseFileSource(file, deps.readStdin));
  if (adHoc.contexts?.length) {
    for (const context of adHoc.contexts) sources.push(kubernetes({ kubeconfig: adHoc.kubeconfig, context }));
  } else if (adHoc.kubeconfig) {
    sources.push(kubernetes({ kubeconfig: adHoc.kubeconfig }));
  }
  return sources;
}

/** A usage source as the configuration file describes it, ready to load. */
export function sourcesFromConfig(source: UsageSourceConfig, deps: SourceDeps): UsageSource[] {
  const optional = source.optional;
  switch (source.type) {
    case "file":
      return [{ ...inUseFileSource(source.path, deps.readStdin), optional }];
    case "kubernetes": {
      const base = { kubeconfig: source.kubeconfig, namespaces: source.namespaces, optional };
      if (source.contexts === "all") return [allContexts(base)];
      if (source.contexts) return source.contexts.map((context) => kubernetes({ ...base, context }));
      return [kubernetes(base)];
    }
    case "appservice":
      return [
        lazy("appservice", optional, async () =>
          (await import("./azure/app-service-source.js")).appServiceSource(await deps.azure(), source),
        ),
      ];
    case "containerapps":
      return [
        lazy("containerapps", optional, async () =>
          (await import("./azure/container-apps-source.js")).containerAppsSource(await deps.azure(), source),
        ),
      ];
    case "containerinstances":
      return [
        lazy("containerinstances", optional, async () =>
          (await import("./azure/container-instances-source.js")).containerInstancesSource(
            await deps.azure(),
            source,
          ),
        ),
      ];
    case "mongodb": {
      const { label } = mongoSourceTarget(source, deps.env);
      // Bad lines are bad usage (exit 2), found before anything is read.
      const objectIds = source.objectIds
        ? parseObjectIds(source.objectIds.join("\n"), `${label} objectIds`)
        : undefined;
      return [
        lazy(label, optional, async () => {
          const { uri, database } = mongoSourceTarget(source, deps.env);
          if (!uri)
            throw new Error(
              `${source.uriEnv ?? "uriEnv"} is not set: it must hold the MongoDB connection string`,
            );
          const registryHost = source.registry ?? deps.registryHost;
          const registry = registryHost ? { registry: registryHost } : {};
          if (source.preset !== "domino") {
            const { mongoDbSource } = await import("./mongodb-source.js");
            return mongoDbSource({
              uri,
              database,
              queries: source.queries ?? [],
              ...registry,
              optional,
              label,
            });
          }
          const { dominoSource } = await import("./domino-source.js");
          const keycloak = source.keycloak;
          const secret = keycloak ? deps.env?.[keycloak.secretEnv] : undefined;
          if (keycloak && !secret)
            throw new Error(`${keycloak.secretEnv} is not set: it must hold the Keycloak client secret`);
          return dominoSource({
            uri,
            database,
            ...registry,
            optional,
            label,
            ...(source.queries ? { queries: source.queries } : {}),
            ...(source.unusedSinceDays !== undefined ? { unusedSinceDays: source.unusedSinceDays } : {}),
            ...(objectIds ? { objectIds } : {}),
            ...(source.archive ? { archive: true } : {}),
            ...(keycloak && secret
              ? {
                  deactivatedUsers: async (signal?: AbortSignal) =>
                    (await import("./keycloak-users.js")).deactivatedUsers({
                      url: keycloak.url,
                      realm: keycloak.realm,
                      clientId: keycloak.clientId,
                      clientSecret: secret,
                      ...(signal ? { signal } : {}),
                    }),
                }
              : {}),
          });
        }),
      ];
    }
    case "acrPullLogs": {
      const within = source.within ?? deps.pulledWithin;
      const label = `acrPullLogs (workspace ${source.workspaceId})`;
      if (within === undefined)
        throw new UsageError(
          `usage source ${label}: no window — set policy.protectPulledWithin (--protect-pulled-within 30d) or the source's within`,
        );
      const withinMs = deps.durationMs?.(within);
      if (!withinMs)
        throw new UsageError(
          `usage source ${label}: within ${JSON.stringify(within)} is not a duration (examples: 30d, 12h)`,
        );
      const loginServer = source.registry ?? deps.registryHost;
      if (!loginServer)
        throw new UsageError(
          `usage source ${label}: no registry — give the registry's login server in registry:`,
        );
      return [
        lazy(label, optional, async () => {
          const context = await deps.azure();
          return (await import("./azure/acr-pull-logs-source.js")).acrPullLogsSource({
            workspaceId: source.workspaceId,
            loginServer,
            withinMs,
            credential: context.credential,
            ...(source.endpoint ? { endpoint: source.endpoint } : {}),
            ...(context.clientOptions.tlsOptions ? { tlsOptions: context.clientOptions.tlsOptions } : {}),
            optional,
          });
        }),
      ];
    }
    case "aks":
      return [
        lazy("aks", optional, async () =>
          (await import("./azure/aks-source.js")).aksSource(await deps.azure(), source),
        ),
      ];
  }
}

function kubernetes(options: KubernetesSourceOptions): UsageSource {
  const name = options.context
    ? `kubernetes ${options.context}`
    : `kubernetes (current context of ${options.kubeconfig ?? "the default kubeconfig"})`;
  return lazy(name, options.optional ?? false, async () =>
    (await import("./kubernetes-source.js")).kubernetesSource(options),
  );
}

/** Every context of a kubeconfig, each read as its own cluster. */
function allContexts(base: Omit<KubernetesSourceOptions, "context"> & { optional: boolean }): UsageSource {
  const name = `kubernetes (every context of ${base.kubeconfig ?? "the default kubeconfig"})`;
  return {
    name,
    optional: base.optional,
    async load(signal) {
      const { kubernetesSource, loadKubeConfig } = await import("./kubernetes-source.js");
      let contexts: string[];
      try {
        contexts = loadKubeConfig(base)
          .getContexts()
          .map((c) => c.name);
      } catch (error) {
        throw new UsageSourceError(name, (error as Error).message, { cause: error });
      }
      const loaded = await Promise.all(
        contexts.map((context) => kubernetesSource({ ...base, context }).load(signal)),
      );
      return loaded.flat();
    },
  };
}

/** A source whose adapter is imported and built when it is loaded; failing to build it is that source failing. */
function lazy(name: string, optional: boolean, make: () => Promise<UsageSource>): UsageSource {
  const build = async (signal: AbortSignal | undefined) => {
    let source: UsageSource;
    try {
      source = await make();
    } catch (error) {
      throw new UsageSourceError(name, (error as Error).message, { cause: error });
    }
    signal?.throwIfAborted();
    return source;
  };
  return {
    name,
    optional,
    load: async (signal) => (await build(signal)).load(signal),
    async find(signal) {
      const source = await build(signal);
      return source.find ? source.find(signal) : { usages: await source.load(signal), records: [] };
    },
  };
}

type MongoSourceConfig = Extract<UsageSourceConfig, { type: "mongodb" }>;

/** How a MongoDB source is named, and where it connects (the URI, from the environment if so configured). */
export function mongoSourceTarget(
  source: MongoSourceConfig,
  env: Record<string, string | undefined> | undefined,
): { label: string; uri?: string; database: string } {
  const label = `mongodb${source.preset ? ` (${source.preset} preset)` : ""}`;
  const uri = source.uri ?? (source.uriEnv ? env?.[source.uriEnv] : undefined);
  const database =
    source.database ??
    (uri ? databaseOf(uri) : undefined) ??
    (source.preset === "domino" ? "domino" : "test");
  return { label, ...(uri ? { uri } : {}), database };
}

/** The database a connection string names (`mongodb://host/db?…`), if any. */
function databaseOf(uri: string): string | undefined {
  const m = /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]+)/.exec(uri);
  return m?.[1] ? decodeURIComponent(m[1]) : undefined;
}

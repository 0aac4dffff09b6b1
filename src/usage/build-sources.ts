import type { Config, UsageSourceConfig } from "../config/config-schema.js";
import { aksSource } from "./azure/aks-source.js";
import { appServiceSource } from "./azure/app-service-source.js";
import type { AzureContext } from "./azure/azure-context.js";
import { containerAppsSource } from "./azure/container-apps-source.js";
import { containerInstancesSource } from "./azure/container-instances-source.js";
import { inUseFileSource } from "./in-use-file.js";
import { kubernetesSource, loadKubeConfig } from "./kubernetes-source.js";
import { type UsageSource, UsageSourceError } from "./usage.js";

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
  readonly azure: () => AzureContext;
  readonly readStdin: () => Promise<string>;
}

/** The configured usage sources plus those the command line adds. */
export function buildUsageSources(config: Config, adHoc: AdHocSources, deps: SourceDeps): UsageSource[] {
  const sources = config.usage.flatMap((s) => fromConfig(s, deps));
  for (const file of adHoc.inUseFiles ?? []) sources.push(inUseFileSource(file, deps.readStdin));
  if (adHoc.contexts?.length) {
    for (const context of adHoc.contexts)
      sources.push(kubernetesSource({ kubeconfig: adHoc.kubeconfig, context }));
  } else if (adHoc.kubeconfig) {
    sources.push(kubernetesSource({ kubeconfig: adHoc.kubeconfig }));
  }
  return sources;
}

function fromConfig(source: UsageSourceConfig, deps: SourceDeps): UsageSource[] {
  const optional = source.optional;
  switch (source.type) {
    case "file":
      return [{ ...inUseFileSource(source.path, deps.readStdin), optional }];
    case "kubernetes": {
      const base = { kubeconfig: source.kubeconfig, namespaces: source.namespaces, optional };
      if (source.contexts === "all") return [allContexts(base)];
      if (source.contexts) return source.contexts.map((context) => kubernetesSource({ ...base, context }));
      return [kubernetesSource(base)];
    }
    case "appservice":
      return [lazyAzure("appservice", optional, () => appServiceSource(deps.azure(), source))];
    case "containerapps":
      return [lazyAzure("containerapps", optional, () => containerAppsSource(deps.azure(), source))];
    case "containerinstances":
      return [
        lazyAzure("containerinstances", optional, () => containerInstancesSource(deps.azure(), source)),
      ];
    case "aks":
      return [lazyAzure("aks", optional, () => aksSource(deps.azure(), source))];
  }
}

/** Every context of a kubeconfig, each read as its own cluster. */
function allContexts(base: {
  kubeconfig?: string;
  namespaces?: { include?: string[]; exclude?: string[] };
  optional: boolean;
}): UsageSource {
  const name = `kubernetes (every context of ${base.kubeconfig ?? "the default kubeconfig"})`;
  return {
    name,
    optional: base.optional,
    async load() {
      let contexts: string[];
      try {
        contexts = loadKubeConfig({ kubeconfig: base.kubeconfig })
          .getContexts()
          .map((c) => c.name);
      } catch (error) {
        throw new UsageSourceError(name, (error as Error).message, { cause: error });
      }
      const loaded = await Promise.all(
        contexts.map((context) => kubernetesSource({ ...base, context }).load()),
      );
      return loaded.flat();
    },
  };
}

/** Builds the Azure context only when the source is loaded; a credential problem is that source failing. */
function lazyAzure(name: string, optional: boolean, make: () => UsageSource): UsageSource {
  return {
    name,
    optional,
    async load() {
      let source: UsageSource;
      try {
        source = make();
      } catch (error) {
        throw new UsageSourceError(name, (error as Error).message, { cause: error });
      }
      return source.load();
    },
  };
}

import { ContainerInstanceManagementClient } from "@azure/arm-containerinstance";
import type { UsageSource } from "../usage.js";
import { type AzureContext, all, resourceGroupOf } from "./azure-context.js";
import { type AzureScope, azureSource, inResourceGroups } from "./azure-source.js";

/** Containers and init containers of every container group. */
export function containerInstancesSource(context: AzureContext, scope: AzureScope): UsageSource {
  return azureSource("containerinstances", context, scope, async (subscriptionId, abortSignal) => {
    const client = new ContainerInstanceManagementClient(
      context.credential,
      subscriptionId,
      context.clientOptions,
    );
    const groups = (
      await Promise.all(
        inResourceGroups(
          scope,
          (rg) => client.containerGroups.listByResourceGroup(rg, { abortSignal }),
          () => client.containerGroups.list({ abortSignal }),
        ).map(all),
      )
    ).flat();
    return groups.flatMap((g) => {
      const where = `${resourceGroupOf(g.id)}/${g.name ?? "?"}`;
      return [
        ...(g.containers ?? []).map((c) => ({ image: c.image, where: `${where} container ${c.name}` })),
        ...(g.initContainers ?? []).map((c) => ({
          image: c.image ?? "",
          where: `${where} init container ${c.name}`,
        })),
      ].filter((f) => f.image);
    });
  });
}

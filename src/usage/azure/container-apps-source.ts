import { ContainerAppsAPIClient } from "@azure/arm-appcontainers";
import type { FoundImage } from "../found-image.js";
import type { UsageSource } from "../usage.js";
import { type AzureContext, all, resourceGroupOf } from "./azure-context.js";
import { type AzureScope, azureSource, inResourceGroups } from "./azure-source.js";

interface Template {
  readonly containers?: readonly { readonly name?: string; readonly image?: string }[];
  readonly initContainers?: readonly { readonly name?: string; readonly image?: string }[];
}

function imagesOfTemplate(template: Template | undefined, where: string): FoundImage[] {
  return [
    ...(template?.containers ?? []).map((c) => ({
      image: c.image ?? "",
      where: `${where} container ${c.name ?? "?"}`,
    })),
    ...(template?.initContainers ?? []).map((c) => ({
      image: c.image ?? "",
      where: `${where} init container ${c.name ?? "?"}`,
    })),
  ].filter((f) => f.image);
}

/**
 * Container Apps with every listed revision, active or not (an inactive revision can be
 * reactivated, so its image must stay pullable), and Container Apps jobs.
 */
export function containerAppsSource(context: AzureContext, scope: AzureScope): UsageSource {
  return azureSource("containerapps", context, scope, async (subscriptionId, abortSignal) => {
    const client = new ContainerAppsAPIClient(context.credential, subscriptionId, context.clientOptions);
    const op = { abortSignal };
    const [apps, jobs] = await Promise.all([
      Promise.all(
        inResourceGroups(
          scope,
          (rg) => client.containerApps.listByResourceGroup(rg, op),
          () => client.containerApps.listBySubscription(op),
        ).map(all),
      ).then((x) => x.flat()),
      Promise.all(
        inResourceGroups(
          scope,
          (rg) => client.jobs.listByResourceGroup(rg, op),
          () => client.jobs.listBySubscription(op),
        ).map(all),
      ).then((x) => x.flat()),
    ]);
    const perApp = await Promise.all(
      apps.map(async (app) => {
        const rg = resourceGroupOf(app.id);
        const where = `${rg}/${app.name ?? "?"}`;
        const revisions = await all(client.containerAppsRevisions.listRevisions(rg, app.name ?? "", op));
        return [
          ...imagesOfTemplate(app.template, where),
          ...revisions.flatMap((r) =>
            imagesOfTemplate(
              r.template,
              `${where} (revision ${(r.name ?? "?").split("/").at(-1)}, ${r.active ? "active" : "inactive"})`,
            ),
          ),
        ];
      }),
    );
    const perJob = jobs.map((job) =>
      imagesOfTemplate(job.template, `${resourceGroupOf(job.id)}/${job.name ?? "?"} (job)`),
    );
    return [...perApp.flat(), ...perJob.flat()];
  });
}

import { WebSiteManagementClient } from "@azure/arm-appservice";
import type { FoundImage } from "../found-image.js";
import type { UsageSource } from "../usage.js";
import { type AzureContext, all, resourceGroupOf } from "./azure-context.js";
import { type AzureScope, azureSource, inResourceGroups } from "./azure-source.js";
import { imageOfCustomImageSetting, imagesOfFxVersion } from "./fx-version.js";

/**
 * Web apps and Function Apps, production and every deployment slot. The site list's siteConfig
 * can be null, so each site's and slot's configuration is read on its own; then the images of
 * `DOCKER|`, `COMPOSE|`/`KUBE|` (every service), sitecontainers (main and sidecars), and the
 * legacy `DOCKER_CUSTOM_IMAGE_NAME` app setting.
 */
export function appServiceSource(context: AzureContext, scope: AzureScope): UsageSource {
  return azureSource("appservice", context, scope, async (subscriptionId, abortSignal) => {
    const client = new WebSiteManagementClient(context.credential, subscriptionId, context.clientOptions);
    const op = { abortSignal };
    const sites = (
      await Promise.all(
        inResourceGroups(
          scope,
          (rg) => client.webApps.listByResourceGroup(rg, op),
          () => client.webApps.list(op),
        ).map(all),
      )
    ).flat();
    const found = await Promise.all(
      sites.map(async (site) => {
        const rg = site.resourceGroup ?? resourceGroupOf(site.id);
        const name = site.name ?? "";
        const production = readTarget(client, op, rg, name, undefined, `${rg}/${name}`, site.kind);
        const slots = (await all(client.webApps.listSlots(rg, name, op))).map((slot) => {
          const slotName = (slot.name ?? "").split("/").at(-1) ?? "";
          return readTarget(
            client,
            op,
            rg,
            name,
            slotName,
            `${rg}/${name} (slot ${slotName})`,
            slot.kind ?? site.kind,
          );
        });
        return (await Promise.all([production, ...slots])).flat();
      }),
    );
    return found.flat();
  });
}

async function readTarget(
  client: WebSiteManagementClient,
  op: { abortSignal: AbortSignal | undefined },
  rg: string,
  name: string,
  slot: string | undefined,
  where: string,
  kind: string | undefined,
): Promise<FoundImage[]> {
  const apps = client.webApps;
  const config = await (slot
    ? apps.getConfigurationSlot(rg, name, slot, op)
    : apps.getConfiguration(rg, name, op));
  const found: FoundImage[] = [];
  for (const [field, value] of [
    ["linuxFxVersion", config.linuxFxVersion],
    ["windowsFxVersion", config.windowsFxVersion],
  ] as const) {
    const fx = imagesOfFxVersion(value);
    if (fx.kind === "images")
      for (const image of fx.images) found.push({ image, where: `${where} ${field}` });
    if (fx.kind === "sitecontainers") {
      const containers = await all(
        slot ? apps.listSiteContainersSlot(rg, name, slot, op) : apps.listSiteContainers(rg, name, op),
      );
      for (const c of containers) {
        if (c.image)
          found.push({
            image: c.image,
            where: `${where} sitecontainer ${c.name ?? "?"}${c.isMain ? " (main)" : ""}`,
          });
      }
    }
  }
  // Older container apps name their image only in an app setting. Reading settings needs more than
  // Reader (config/list/action), so it is done only for container sites whose fx version names
  // nothing; a refusal there fails the source, as any unreadable usage must.
  if (!config.linuxFxVersion && !config.windowsFxVersion && /container/i.test(kind ?? "")) {
    const settings = await (slot
      ? apps.listApplicationSettingsSlot(rg, name, slot, op)
      : apps.listApplicationSettings(rg, name, op));
    const legacy = imageOfCustomImageSetting(settings.properties?.DOCKER_CUSTOM_IMAGE_NAME);
    if (legacy) found.push({ image: legacy, where: `${where} DOCKER_CUSTOM_IMAGE_NAME` });
  }
  return found;
}

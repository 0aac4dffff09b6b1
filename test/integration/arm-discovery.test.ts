import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { detectWorkloads, listRegistries, listSubscriptions } from "../../src/usage/azure/arm-discovery.js";
import { azureContext } from "../../src/usage/azure/azure-context.js";
import { type ArmFixture, type ArmServer, startArmServer } from "../servers/arm/arm-server.js";

const TOKEN = "discovery-token";
const fixture: ArmFixture = {
  subscriptions: {
    "sub-a": {
      displayName: "A",
      registries: [
        { resourceGroup: "rg-1", name: "one" },
        { resourceGroup: "rg-2", name: "two", loginServer: "127.0.0.1:5000" },
      ],
      webApps: [{ resourceGroup: "rg-web", name: "w", siteConfig: { linuxFxVersion: "DOCKER|x:1" } }],
    },
    "sub-b": { displayName: "B", state: "Disabled" },
    "sub-c": {},
  },
};

describe("what the wizard offers, read from ARM", () => {
  let arm: ArmServer;
  let failing: ArmServer;
  const context = (server: ArmServer, token = TOKEN) =>
    azureContext(
      {
        cloud: "AzurePublicCloud",
        subscriptions: [],
        resourceManagerEndpoint: server.endpoint,
        caFile: server.caCertPath,
      },
      { env: { REGSWEEP_AZURE_TOKEN: token } },
    );

  beforeAll(async () => {
    arm = await startArmServer(fixture, { token: TOKEN, pageSize: 1 });
    failing = await startArmServer(fixture, { failWith: { pathIncludes: "Microsoft.App", status: 403 } });
  });
  afterAll(async () => {
    await Promise.all([arm?.stop(), failing?.stop()]);
  });

  it("lists every subscription across pages, with names and states", async () => {
    expect(await listSubscriptions(context(arm))).toEqual([
      { id: "sub-a", name: "A", state: "Enabled" },
      { id: "sub-b", name: "B", state: "Disabled" },
      { id: "sub-c", name: "Subscription sub-c", state: "Enabled" },
    ]);
  });

  it("a refused token fails in one line naming the endpoint and the status", async () => {
    await expect(listSubscriptions(context(arm, "wrong"))).rejects.toThrow(
      new RegExp(`GET ${arm.endpoint}/subscriptions: HTTP 401 The access token is invalid`),
    );
  });

  it("lists registries with their login server and resource group, or only one group's", async () => {
    expect(await listRegistries(context(arm), "sub-a")).toEqual([
      { name: "one", loginServer: "one.azurecr.io", resourceGroup: "rg-1" },
      { name: "two", loginServer: "127.0.0.1:5000", resourceGroup: "rg-2" },
    ]);
    expect((await listRegistries(context(arm), "sub-a", "rg-2")).map((r) => r.name)).toEqual(["two"]);
  });

  it("tells which workload kinds a subscription has, and why one could not be told", async () => {
    expect(await detectWorkloads(context(arm), "sub-a")).toEqual({
      appservice: true,
      aks: false,
      containerapps: false,
      containerinstances: false,
    });
    const partly = await detectWorkloads(context(failing), "sub-a");
    expect(partly.appservice).toBe(true);
    expect(partly.containerapps).toMatch(/403/);
  });
});

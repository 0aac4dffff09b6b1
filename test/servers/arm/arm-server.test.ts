import { ContainerAppsAPIClient } from "@azure/arm-appcontainers";
import { WebSiteManagementClient } from "@azure/arm-appservice";
import { ContainerInstanceManagementClient } from "@azure/arm-containerinstance";
import { ContainerRegistryManagementClient } from "@azure/arm-containerregistry";
import { ContainerServiceClient } from "@azure/arm-containerservice";
import type { AccessToken, TokenCredential } from "@azure/core-auth";
import type { HttpClient } from "@azure/core-rest-pipeline";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ArmFixture, type ArmServer, startArmServer } from "./arm-server.js";
import { trustingHttpClient } from "./trusting-http-client.js";

const SUB = "11111111-1111-1111-1111-111111111111";
const OTHER_SUB = "22222222-2222-2222-2222-222222222222";

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTi==
    server: https://aks1-dns-abcd1234.hcp.westeurope.azmk8s.io:443
  name: aks1
contexts:
- context:
    cluster: aks1
    user: clusterUser_rg-aks_aks1
  name: aks1
current-context: aks1
users:
- name: clusterUser_rg-aks_aks1
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      args: [get-token, --server-id, 6dae42f8-4368-4678-94ff-3960e28e3630, --login, azurecli]
      interactiveMode: IfAvailable
`;

const fixture: ArmFixture = {
  subscriptions: {
    [SUB]: {
      displayName: "Production",
      registries: [
        { resourceGroup: "rg-acr", name: "MyAcr", sku: "Premium" },
        { resourceGroup: "rg-acr", name: "second", loginServer: "127.0.0.1:5000" },
        { resourceGroup: "rg-other", name: "third" },
      ],
      webApps: [
        {
          resourceGroup: "rg-web",
          name: "web1",
          kind: "app,linux,container",
          siteConfig: { linuxFxVersion: "DOCKER|myacr.azurecr.io/web1:1.2.3" },
          listSiteConfigNull: true,
          appSettings: { DOCKER_REGISTRY_SERVER_URL: "https://myacr.azurecr.io", WEBSITES_PORT: "8080" },
          slots: [
            {
              name: "staging",
              siteConfig: { linuxFxVersion: "DOCKER|myacr.azurecr.io/web1:1.3.0-rc1" },
              appSettings: { SLOT_ONLY: "yes" },
            },
            { name: "blue", siteConfig: { linuxFxVersion: "DOCKER|myacr.azurecr.io/web1:1.1.0" } },
            {
              name: "green",
              siteConfig: { linuxFxVersion: "sitecontainers" },
              siteContainers: [
                { name: "main", image: "myacr.azurecr.io/web1:green", isMain: true },
                { name: "otel", image: "myacr.azurecr.io/otel:0.9" },
                { name: "dd", image: "docker.io/datadog/serverless-init:1" },
              ],
            },
          ],
        },
        {
          resourceGroup: "rg-web",
          name: "web2",
          kind: "app,linux",
          siteConfig: { linuxFxVersion: "SITECONTAINERS" },
          siteContainers: [
            { name: "main", image: "myacr.azurecr.io/web2:4.0.0", isMain: true },
            { name: "proxy", image: "myacr.azurecr.io/envoy:1.30" },
            { name: "logs", image: "myacr.azurecr.io/fluentbit:3" },
          ],
        },
        {
          resourceGroup: "rg-web",
          name: "func1",
          kind: "functionapp,linux,container",
          siteConfig: { linuxFxVersion: "DOCKER|myacr.azurecr.io/func1:2026.01" },
        },
        {
          resourceGroup: "rg-other",
          name: "win1",
          kind: "app,container,windows",
          siteConfig: { windowsFxVersion: "DOCKER|myacr.azurecr.io/win1:ltsc2022" },
        },
        {
          resourceGroup: "rg-other",
          name: "code1",
          kind: "app,linux",
          siteConfig: { linuxFxVersion: "NODE|22-lts" },
        },
      ],
      containerApps: [
        {
          resourceGroup: "rg-aca",
          name: "app1",
          containers: [{ name: "app1", image: "myacr.azurecr.io/app1:3.0.0" }],
          initContainers: [{ name: "migrate", image: "myacr.azurecr.io/app1-migrate:3.0.0" }],
          revisions: [
            {
              name: "app1--v1",
              active: false,
              createdTime: "2025-11-01T08:00:00Z",
              containers: [{ name: "app1", image: "myacr.azurecr.io/app1:1.0.0" }],
            },
            {
              name: "app1--v2",
              active: false,
              createdTime: "2025-12-01T08:00:00Z",
              containers: [{ name: "app1", image: "myacr.azurecr.io/app1:2.0.0" }],
              initContainers: [{ name: "migrate", image: "myacr.azurecr.io/app1-migrate:2.0.0" }],
            },
            {
              name: "app1--v3",
              active: true,
              createdTime: "2026-01-01T08:00:00Z",
              containers: [{ name: "app1", image: "myacr.azurecr.io/app1:3.0.0" }],
              initContainers: [{ name: "migrate", image: "myacr.azurecr.io/app1-migrate:3.0.0" }],
            },
          ],
        },
        {
          resourceGroup: "rg-aca",
          name: "app2",
          containers: [{ name: "api", image: "myacr.azurecr.io/api:7" }],
        },
        {
          resourceGroup: "rg-aca2",
          name: "app3",
          containers: [
            { name: "web", image: "myacr.azurecr.io/web:1" },
            { name: "sidecar", image: "mcr.microsoft.com/dotnet/aspnet:8.0" },
          ],
        },
      ],
      containerAppJobs: [
        {
          resourceGroup: "rg-aca",
          name: "job1",
          containers: [{ name: "job1", image: "myacr.azurecr.io/batch:1" }],
          initContainers: [{ name: "fetch", image: "myacr.azurecr.io/fetch:1" }],
        },
        {
          resourceGroup: "rg-aca",
          name: "job2",
          containers: [{ name: "job2", image: "myacr.azurecr.io/batch:2" }],
        },
        {
          resourceGroup: "rg-aca",
          name: "job3",
          containers: [{ name: "job3", image: "myacr.azurecr.io/report:9" }],
        },
      ],
      containerGroups: [
        {
          resourceGroup: "rg-aci",
          name: "cg1",
          containers: [{ name: "web", image: "myacr.azurecr.io/cg-web:1" }],
          initContainers: [{ name: "init", image: "myacr.azurecr.io/cg-init:1" }],
        },
        {
          resourceGroup: "rg-aci",
          name: "cg2",
          containers: [{ name: "worker", image: "myacr.azurecr.io/cg-worker:2" }],
        },
        {
          resourceGroup: "rg-aci",
          name: "cg3",
          containers: [
            { name: "a", image: "myacr.azurecr.io/a:1" },
            { name: "b", image: "myacr.azurecr.io/b:1" },
          ],
        },
      ],
      managedClusters: [
        {
          resourceGroup: "rg-aks",
          name: "aks1",
          kubeconfig: KUBECONFIG,
          aadProfile: {
            managed: true,
            enableAzureRBAC: true,
            tenantID: "33333333-3333-3333-3333-333333333333",
          },
        },
        { resourceGroup: "rg-aks", name: "aks2", kubeconfig: "apiVersion: v1\nkind: Config\n" },
        {
          resourceGroup: "rg-aks",
          name: "aks3",
          kubeconfig: "apiVersion: v1\nkind: Config\n",
          properties: { apiServerAccessProfile: { enablePrivateCluster: true } },
        },
      ],
    },
    [OTHER_SUB]: {
      webApps: [
        { resourceGroup: "rg-x", name: "elsewhere", siteConfig: { linuxFxVersion: "DOCKER|nginx:1" } },
      ],
    },
  },
};

/** A static token credential that records the scopes each SDK asks for. */
function recordingCredential(token = "t"): TokenCredential & { scopes: string[][] } {
  const scopes: string[][] = [];
  return {
    scopes,
    async getToken(s: string | string[]): Promise<AccessToken> {
      scopes.push(Array.isArray(s) ? [...s] : [s]);
      return { token, expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };
}

async function collect<T>(iter: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iter) out.push(item);
  return out;
}

const API = {
  web: "2025-05-01",
  app: "2026-07-01",
  aks: "2026-06-01",
  aci: "2023-05-01",
};

describe("ARM test server driven by the official Azure SDK clients", () => {
  let server: ArmServer;
  let httpClient: HttpClient;
  const webCred = recordingCredential();
  const appCred = recordingCredential();
  const aciCred = recordingCredential();
  const aksCred = recordingCredential();
  let web: WebSiteManagementClient;
  let aca: ContainerAppsAPIClient;
  let aci: ContainerInstanceManagementClient;
  let aks: ContainerServiceClient;

  beforeAll(async () => {
    server = await startArmServer(fixture);
    httpClient = trustingHttpClient(server.caCertPem);
    const options = { endpoint: server.endpoint, httpClient };
    web = new WebSiteManagementClient(webCred, SUB, options);
    aca = new ContainerAppsAPIClient(appCred, SUB, options);
    aci = new ContainerInstanceManagementClient(aciCred, SUB, options);
    aks = new ContainerServiceClient(aksCred, SUB, options);
  });
  afterAll(async () => {
    await server?.stop();
  });

  /** Requests made since `from`, as "METHOD path?api-version[&$skiptoken]". */
  const since = (from: number) =>
    server.requests.slice(from).map((r) => {
      const q = [`api-version=${r.query["api-version"]}`];
      if (r.query.$skiptoken) q.push(`$skiptoken=${r.query.$skiptoken}`);
      for (const [k, v] of Object.entries(r.query))
        if (k !== "api-version" && k !== "$skiptoken") q.push(`${k}=${v}`);
      return `${r.method} ${r.path}?${q.join("&")}`;
    });

  describe("App Service (Microsoft.Web)", () => {
    it("webApps.list pages through every site of the subscription; list siteConfig may be null", async () => {
      const from = server.requests.length;
      const sites = await collect(web.webApps.list());
      expect(sites.map((s) => s.name)).toEqual(["web1", "web2", "func1", "win1", "code1"]);
      const web1 = sites[0];
      expect(web1).toMatchObject({
        id: `/subscriptions/${SUB}/resourceGroups/rg-web/providers/Microsoft.Web/sites/web1`,
        type: "Microsoft.Web/sites",
        kind: "app,linux,container",
        resourceGroup: "rg-web",
        reserved: true,
      });
      // real ARM: the list result's siteConfig is null (the SDK flattens properties onto Site)
      expect(web1?.siteConfig).toBeNull();
      expect(sites[1]?.siteConfig?.linuxFxVersion).toBe("SITECONTAINERS");
      const base = `/subscriptions/${SUB}/providers/Microsoft.Web/sites`;
      expect(since(from)).toEqual([
        `GET ${base}?api-version=${API.web}`,
        `GET ${base}?api-version=${API.web}&$skiptoken=2`,
        `GET ${base}?api-version=${API.web}&$skiptoken=4`,
      ]);
      expect(server.requests.at(-1)?.authorization).toBe("Bearer t");
    });

    it("listByResourceGroup pages and stays inside the resource group; byPage exposes nextLink", async () => {
      const sites = await collect(web.webApps.listByResourceGroup("rg-web"));
      expect(sites.map((s) => s.name)).toEqual(["web1", "web2", "func1"]);
      const pages = await collect(web.webApps.listByResourceGroup("rg-web").byPage());
      expect(pages.map((p) => p.length)).toEqual([2, 1]);
      expect(pages[0]?.continuationToken).toBe(
        `${server.endpoint}/subscriptions/${SUB}/resourceGroups/rg-web/providers/Microsoft.Web/sites?api-version=${API.web}&$skiptoken=2`,
      );
    });

    it("getConfiguration returns the production site config (GET …/config/web)", async () => {
      const from = server.requests.length;
      const cfg = await web.webApps.getConfiguration("rg-web", "web1");
      expect(cfg).toMatchObject({
        id: `/subscriptions/${SUB}/resourceGroups/rg-web/providers/Microsoft.Web/sites/web1/config/web`,
        name: "web1",
        type: "Microsoft.Web/sites/config",
        linuxFxVersion: "DOCKER|myacr.azurecr.io/web1:1.2.3",
      });
      const win = await web.webApps.getConfiguration("rg-other", "win1");
      expect(win.windowsFxVersion).toBe("DOCKER|myacr.azurecr.io/win1:ltsc2022");
      expect(win.linuxFxVersion).toBe("");
      expect(since(from)).toEqual([
        `GET /subscriptions/${SUB}/resourceGroups/rg-web/providers/Microsoft.Web/sites/web1/config/web?api-version=${API.web}`,
        `GET /subscriptions/${SUB}/resourceGroups/rg-other/providers/Microsoft.Web/sites/win1/config/web?api-version=${API.web}`,
      ]);
    });

    it("listSlots pages slots named 'site/slot'; getConfigurationSlot reads each slot's config", async () => {
      const from = server.requests.length;
      const slots = await collect(web.webApps.listSlots("rg-web", "web1"));
      expect(slots.map((s) => s.name)).toEqual(["web1/staging", "web1/blue", "web1/green"]);
      expect(slots[0]).toMatchObject({
        id: `/subscriptions/${SUB}/resourceGroups/rg-web/providers/Microsoft.Web/sites/web1/slots/staging`,
        type: "Microsoft.Web/sites/slots",
      });
      const configs: Record<string, string | undefined> = {};
      for (const slot of slots) {
        const slotName = (slot.name ?? "").split("/").at(-1) ?? "";
        configs[slotName] = (
          await web.webApps.getConfigurationSlot("rg-web", "web1", slotName)
        ).linuxFxVersion;
      }
      expect(configs).toEqual({
        staging: "DOCKER|myacr.azurecr.io/web1:1.3.0-rc1",
        blue: "DOCKER|myacr.azurecr.io/web1:1.1.0",
        green: "sitecontainers",
      });
      const site = `/subscriptions/${SUB}/resourceGroups/rg-web/providers/Microsoft.Web/sites/web1`;
      expect(since(from)).toEqual([
        `GET ${site}/slots?api-version=${API.web}`,
        `GET ${site}/slots?api-version=${API.web}&$skiptoken=2`,
        `GET ${site}/slots/staging/config/web?api-version=${API.web}`,
        `GET ${site}/slots/blue/config/web?api-version=${API.web}`,
        `GET ${site}/slots/green/config/web?api-version=${API.web}`,
      ]);
      expect(await collect(web.webApps.listSlots("rg-web", "web2"))).toEqual([]);
    });

    it("listApplicationSettings[Slot] POSTs …/config/appsettings/list and returns {properties}", async () => {
      const from = server.requests.length;
      const prod = await web.webApps.listApplicationSettings("rg-web", "web1");
      expect(prod).toMatchObject({
        id: `/subscriptions/${SUB}/resourceGroups/rg-web/providers/Microsoft.Web/sites/web1/config/appsettings`,
        name: "appsettings",
        type: "Microsoft.Web/sites/config",
        properties: { DOCKER_REGISTRY_SERVER_URL: "https://myacr.azurecr.io", WEBSITES_PORT: "8080" },
      });
      const slot = await web.webApps.listApplicationSettingsSlot("rg-web", "web1", "staging");
      expect(slot.properties).toEqual({ SLOT_ONLY: "yes" });
      expect(slot.type).toBe("Microsoft.Web/sites/slots/config");
      expect((await web.webApps.listApplicationSettings("rg-web", "func1")).properties).toEqual({});
      const site = `/subscriptions/${SUB}/resourceGroups/rg-web/providers/Microsoft.Web/sites`;
      expect(since(from)).toEqual([
        `POST ${site}/web1/config/appsettings/list?api-version=${API.web}`,
        `POST ${site}/web1/slots/staging/config/appsettings/list?api-version=${API.web}`,
        `POST ${site}/func1/config/appsettings/list?api-version=${API.web}`,
      ]);
    });

    it("listSiteContainers[Slot] pages sitecontainers", async () => {
      const from = server.requests.length;
      const prod = await collect(web.webApps.listSiteContainers("rg-web", "web2"));
      expect(prod.map((c) => [c.name, c.image, c.isMain])).toEqual([
        ["main", "myacr.azurecr.io/web2:4.0.0", true],
        ["proxy", "myacr.azurecr.io/envoy:1.30", false],
        ["logs", "myacr.azurecr.io/fluentbit:3", false],
      ]);
      expect(prod[0]).toMatchObject({
        id: `/subscriptions/${SUB}/resourceGroups/rg-web/providers/Microsoft.Web/sites/web2/sitecontainers/main`,
        type: "Microsoft.Web/sites/sitecontainers",
      });
      const slot = await collect(web.webApps.listSiteContainersSlot("rg-web", "web1", "green"));
      expect(slot.map((c) => c.image)).toEqual([
        "myacr.azurecr.io/web1:green",
        "myacr.azurecr.io/otel:0.9",
        "docker.io/datadog/serverless-init:1",
      ]);
      expect(await collect(web.webApps.listSiteContainers("rg-web", "web1"))).toEqual([]);
      const site = `/subscriptions/${SUB}/resourceGroups/rg-web/providers/Microsoft.Web/sites`;
      expect(since(from)).toEqual([
        `GET ${site}/web2/sitecontainers?api-version=${API.web}`,
        `GET ${site}/web2/sitecontainers?api-version=${API.web}&$skiptoken=2`,
        `GET ${site}/web1/slots/green/sitecontainers?api-version=${API.web}`,
        `GET ${site}/web1/slots/green/sitecontainers?api-version=${API.web}&$skiptoken=2`,
        `GET ${site}/web1/sitecontainers?api-version=${API.web}`,
      ]);
    });

    it("a missing site is a 404 ResourceNotFound RestError", async () => {
      await expect(web.webApps.getConfiguration("rg-web", "nope")).rejects.toMatchObject({
        name: "RestError",
        statusCode: 404,
        code: "ResourceNotFound",
      });
    });

    it("subscriptions are isolated", async () => {
      const other = new WebSiteManagementClient(webCred, OTHER_SUB, {
        endpoint: server.endpoint,
        httpClient,
      });
      expect((await collect(other.webApps.list())).map((s) => s.name)).toEqual(["elsewhere"]);
    });
  });

  describe("Container Apps (Microsoft.App)", () => {
    it("containerApps.listBySubscription pages apps with template containers and initContainers", async () => {
      const from = server.requests.length;
      const apps = await collect(aca.containerApps.listBySubscription());
      expect(apps.map((a) => a.name)).toEqual(["app1", "app2", "app3"]);
      expect(apps[0]).toMatchObject({
        id: `/subscriptions/${SUB}/resourceGroups/rg-aca/providers/Microsoft.App/containerApps/app1`,
        type: "Microsoft.App/containerApps",
        latestRevisionName: "app1--v3",
      });
      expect(apps[0]?.template?.containers?.map((c) => c.image)).toEqual(["myacr.azurecr.io/app1:3.0.0"]);
      expect(apps[0]?.template?.initContainers?.map((c) => c.image)).toEqual([
        "myacr.azurecr.io/app1-migrate:3.0.0",
      ]);
      // ARM returns initContainers: null when there are none
      expect(apps[1]?.template?.initContainers).toBeNull();
      expect(apps[2]?.template?.containers?.map((c) => c.image)).toEqual([
        "myacr.azurecr.io/web:1",
        "mcr.microsoft.com/dotnet/aspnet:8.0",
      ]);
      const base = `/subscriptions/${SUB}/providers/Microsoft.App/containerApps`;
      expect(since(from)).toEqual([
        `GET ${base}?api-version=${API.app}`,
        `GET ${base}?api-version=${API.app}&$skiptoken=2`,
      ]);
    });

    it("containerAppsRevisions.listRevisions returns active and inactive revisions", async () => {
      const from = server.requests.length;
      const revs = await collect(aca.containerAppsRevisions.listRevisions("rg-aca", "app1"));
      expect(revs.map((r) => [r.name, r.active])).toEqual([
        ["app1--v1", false],
        ["app1--v2", false],
        ["app1--v3", true],
      ]);
      expect(revs[0]?.createdTime).toEqual(new Date("2025-11-01T08:00:00Z"));
      expect(revs[0]?.template?.containers?.[0]?.image).toBe("myacr.azurecr.io/app1:1.0.0");
      expect(revs[0]?.template?.initContainers).toBeNull();
      expect(revs[1]?.template?.initContainers?.[0]?.image).toBe("myacr.azurecr.io/app1-migrate:2.0.0");
      expect(revs[0]).toMatchObject({
        id: `/subscriptions/${SUB}/resourceGroups/rg-aca/providers/Microsoft.App/containerApps/app1/revisions/app1--v1`,
        type: "Microsoft.App/containerApps/revisions",
      });
      // an app without explicit revisions has one active revision running its template
      const single = await collect(aca.containerAppsRevisions.listRevisions("rg-aca", "app2"));
      expect(single.map((r) => [r.name, r.active, r.template?.containers?.[0]?.image])).toEqual([
        ["app2--0000001", true, "myacr.azurecr.io/api:7"],
      ]);
      const base = `/subscriptions/${SUB}/resourceGroups/rg-aca/providers/Microsoft.App/containerApps`;
      expect(since(from)).toEqual([
        `GET ${base}/app1/revisions?api-version=${API.app}`,
        `GET ${base}/app1/revisions?api-version=${API.app}&$skiptoken=2`,
        `GET ${base}/app2/revisions?api-version=${API.app}`,
      ]);
    });

    it("jobs.listBySubscription pages jobs with template containers and initContainers", async () => {
      const from = server.requests.length;
      const jobs = await collect(aca.jobs.listBySubscription());
      expect(jobs.map((j) => j.name)).toEqual(["job1", "job2", "job3"]);
      expect(jobs[0]).toMatchObject({
        id: `/subscriptions/${SUB}/resourceGroups/rg-aca/providers/Microsoft.App/jobs/job1`,
        type: "Microsoft.App/jobs",
      });
      expect(jobs[0]?.template?.containers?.[0]?.image).toBe("myacr.azurecr.io/batch:1");
      expect(jobs[0]?.template?.initContainers?.[0]?.image).toBe("myacr.azurecr.io/fetch:1");
      expect(jobs[2]?.template?.containers?.[0]?.image).toBe("myacr.azurecr.io/report:9");
      const base = `/subscriptions/${SUB}/providers/Microsoft.App/jobs`;
      expect(since(from)).toEqual([
        `GET ${base}?api-version=${API.app}`,
        `GET ${base}?api-version=${API.app}&$skiptoken=2`,
      ]);
    });
  });

  describe("Container Instances (Microsoft.ContainerInstance)", () => {
    it("containerGroups.list pages groups with containers and initContainers", async () => {
      const from = server.requests.length;
      const groups = await collect(aci.containerGroups.list());
      expect(groups.map((g) => g.name)).toEqual(["cg1", "cg2", "cg3"]);
      expect(groups[0]).toMatchObject({
        id: `/subscriptions/${SUB}/resourceGroups/rg-aci/providers/Microsoft.ContainerInstance/containerGroups/cg1`,
        type: "Microsoft.ContainerInstance/containerGroups",
        osType: "Linux",
      });
      expect(groups[0]?.containers.map((c) => c.image)).toEqual(["myacr.azurecr.io/cg-web:1"]);
      expect(groups[0]?.initContainers?.map((c) => c.image)).toEqual(["myacr.azurecr.io/cg-init:1"]);
      expect(groups[1]?.initContainers).toEqual([]);
      expect(groups[2]?.containers.map((c) => c.image)).toEqual([
        "myacr.azurecr.io/a:1",
        "myacr.azurecr.io/b:1",
      ]);
      const base = `/subscriptions/${SUB}/providers/Microsoft.ContainerInstance/containerGroups`;
      expect(since(from)).toEqual([
        `GET ${base}?api-version=${API.aci}`,
        `GET ${base}?api-version=${API.aci}&$skiptoken=2`,
      ]);
    });
  });

  describe("Container registries (Microsoft.ContainerRegistry)", () => {
    it("registries.list pages every registry of the subscription with its loginServer and resource group in the id", async () => {
      const acr = new ContainerRegistryManagementClient(recordingCredential(), SUB, {
        endpoint: server.endpoint,
        httpClient,
      });
      const from = server.requests.length;
      const registries = await collect(acr.registries.list());
      expect(registries.map((r) => [r.name, r.loginServer, r.sku.name])).toEqual([
        ["MyAcr", "myacr.azurecr.io", "Premium"],
        ["second", "127.0.0.1:5000", "Standard"],
        ["third", "third.azurecr.io", "Standard"],
      ]);
      expect(registries[0]).toMatchObject({
        id: `/subscriptions/${SUB}/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/MyAcr`,
        type: "Microsoft.ContainerRegistry/registries",
        provisioningState: "Succeeded",
      });
      const base = `/subscriptions/${SUB}/providers/Microsoft.ContainerRegistry/registries`;
      expect(since(from)).toEqual([
        `GET ${base}?api-version=2025-11-01`,
        `GET ${base}?api-version=2025-11-01&$skiptoken=2`,
      ]);
    });

    it("registries.listByResourceGroup stays inside the resource group", async () => {
      const acr = new ContainerRegistryManagementClient(recordingCredential(), OTHER_SUB, {
        endpoint: server.endpoint,
        httpClient,
      });
      expect(await collect(acr.registries.list())).toEqual([]);
      const inGroup = new ContainerRegistryManagementClient(recordingCredential(), SUB, {
        endpoint: server.endpoint,
        httpClient,
      });
      expect((await collect(inGroup.registries.listByResourceGroup("RG-OTHER"))).map((r) => r.name)).toEqual([
        "third",
      ]);
    });
  });

  describe("Subscriptions (GET /subscriptions)", () => {
    it("lists every subscription with its id, display name and state, paged", async () => {
      const agent = new Agent({ connect: { ca: server.caCertPem } });
      const get = async (url: string) => {
        const res = await request(url, { headers: { authorization: "Bearer t" }, dispatcher: agent });
        return (await res.body.json()) as { value: Record<string, unknown>[]; nextLink?: string };
      };
      const page = await get(`${server.endpoint}/subscriptions?api-version=2022-12-01`);
      expect(page.value.map((s) => [s.subscriptionId, s.displayName, s.state])).toEqual([
        [SUB, "Production", "Enabled"],
        [OTHER_SUB, `Subscription ${OTHER_SUB}`, "Enabled"],
      ]);
      expect(page.value[0]?.id).toBe(`/subscriptions/${SUB}`);
      await agent.close();
    });
  });

  describe("AKS (Microsoft.ContainerService)", () => {
    it("managedClusters.list pages clusters", async () => {
      const from = server.requests.length;
      const clusters = await collect(aks.managedClusters.list());
      expect(clusters.map((c) => c.name)).toEqual(["aks1", "aks2", "aks3"]);
      expect(clusters[0]).toMatchObject({
        id: `/subscriptions/${SUB}/resourcegroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/aks1`,
        type: "Microsoft.ContainerService/ManagedClusters",
        // REST "enableAzureRBAC" is renamed by the SDK
        aadProfile: { managed: true, enableAzureRbac: true },
      });
      expect(clusters[2]?.apiServerAccessProfile?.enablePrivateCluster).toBe(true);
      const base = `/subscriptions/${SUB}/providers/Microsoft.ContainerService/managedClusters`;
      expect(since(from)).toEqual([
        `GET ${base}?api-version=${API.aks}`,
        `GET ${base}?api-version=${API.aks}&$skiptoken=2`,
      ]);
    });

    it("listClusterUserCredentials(format: exec) decodes to the kubeconfig YAML", async () => {
      const from = server.requests.length;
      const creds = await aks.managedClusters.listClusterUserCredentials("rg-aks", "aks1", {
        format: "exec",
      });
      expect(creds.kubeconfigs?.map((k) => k.name)).toEqual(["clusterUser"]);
      const value = creds.kubeconfigs?.[0]?.value;
      expect(value).toBeInstanceOf(Uint8Array);
      expect(new TextDecoder().decode(value)).toBe(KUBECONFIG);
      expect(since(from)).toEqual([
        `POST /subscriptions/${SUB}/resourceGroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/aks1/listClusterUserCredential?api-version=${API.aks}&format=exec`,
      ]);
    });
  });

  it("token scopes: the modular SDKs ask for the public-cloud ARM scope; the classic ACI SDK derives it from endpoint", () => {
    const distinct = (c: { scopes: string[][] }) => [...new Set(c.scopes.map((s) => s.join(" ")))];
    expect(distinct(webCred)).toEqual(["https://management.azure.com/.default"]);
    expect(distinct(appCred)).toEqual(["https://management.azure.com/.default"]);
    expect(distinct(aksCred)).toEqual(["https://management.azure.com/.default"]);
    expect(distinct(aciCred)).toEqual([`${server.endpoint}/.default`]);
  });

  it("scopes can be set explicitly: credentials.scopes (modular) and credentialScopes (ACI)", async () => {
    const cred = recordingCredential();
    const scope = "https://management.usgovcloudapi.net/.default";
    const w = new WebSiteManagementClient(cred, SUB, {
      endpoint: server.endpoint,
      httpClient,
      credentials: { scopes: [scope] },
    });
    await collect(w.webApps.listByResourceGroup("rg-other"));
    const c = new ContainerInstanceManagementClient(cred, SUB, {
      endpoint: server.endpoint,
      httpClient,
      credentialScopes: [scope],
    });
    await collect(c.containerGroups.list());
    expect([...new Set(cred.scopes.map((s) => s.join(" ")))]).toEqual([scope]);
  });

  it("tlsOptions: { ca } alone (no custom httpClient) also works for all four clients", async () => {
    const options = { endpoint: server.endpoint, tlsOptions: { ca: server.caCertPem } };
    const cred = recordingCredential();
    expect((await collect(new WebSiteManagementClient(cred, SUB, options).webApps.list())).length).toBe(5);
    expect(
      (await collect(new ContainerAppsAPIClient(cred, SUB, options).jobs.listBySubscription())).length,
    ).toBe(3);
    expect(
      (await collect(new ContainerInstanceManagementClient(cred, SUB, options).containerGroups.list()))
        .length,
    ).toBe(3);
    expect(
      (await collect(new ContainerServiceClient(cred, SUB, options).managedClusters.list())).length,
    ).toBe(3);
  });

  it("without the CA the TLS handshake is refused (the cert really is untrusted by default)", async () => {
    const w = new WebSiteManagementClient(recordingCredential(), SUB, {
      endpoint: server.endpoint,
      retryOptions: { maxRetries: 0 },
    });
    await expect(w.webApps.getConfiguration("rg-web", "web1")).rejects.toThrow(/certificate/i);
  });
});

describe("ARM test server: auth, api-version and injected failures", () => {
  let server: ArmServer;
  let dispatcher: Agent;

  beforeAll(async () => {
    server = await startArmServer(fixture, { token: "right-token" });
    dispatcher = new Agent({ connect: { ca: server.caCertPem } });
  });
  afterAll(async () => {
    await dispatcher?.close();
    await server?.stop();
  });

  it("answers 401 AuthenticationFailed without a bearer token", async () => {
    const res = await request(
      `${server.endpoint}/subscriptions/${SUB}/providers/Microsoft.Web/sites?api-version=${API.web}`,
      { dispatcher },
    );
    expect(res.statusCode).toBe(401);
    expect(res.headers["www-authenticate"]).toMatch(/^Bearer /);
    expect(await res.body.json()).toEqual({
      error: { code: "AuthenticationFailed", message: expect.stringContaining("Authorization") },
    });
    expect(server.requests.at(-1)?.authorization).toBeUndefined();
  });

  it("answers 400 MissingApiVersionParameter without api-version", async () => {
    const res = await request(`${server.endpoint}/subscriptions/${SUB}/providers/Microsoft.Web/sites`, {
      dispatcher,
      headers: { authorization: "Bearer right-token" },
    });
    expect(res.statusCode).toBe(400);
    expect(await res.body.json()).toMatchObject({ error: { code: "MissingApiVersionParameter" } });
  });

  it("rejects a token other than opts.token with 401 InvalidAuthenticationToken, which the SDK surfaces", async () => {
    const w = new WebSiteManagementClient(recordingCredential("wrong"), SUB, {
      endpoint: server.endpoint,
      httpClient: trustingHttpClient(server.caCertPem),
    });
    await expect(collect(w.webApps.list())).rejects.toMatchObject({
      statusCode: 401,
      code: "InvalidAuthenticationToken",
    });
    const ok = new WebSiteManagementClient(recordingCredential("right-token"), SUB, {
      endpoint: server.endpoint,
      httpClient: trustingHttpClient(server.caCertPem),
    });
    expect((await collect(ok.webApps.list())).length).toBe(5);
  });
});

describe("ARM test server: failWith", () => {
  it("fails matching paths with the given status and an ARM error body; other paths still work", async () => {
    const server = await startArmServer(fixture, { failWith: { pathIncludes: "/config/web", status: 403 } });
    try {
      const httpClient = trustingHttpClient(server.caCertPem);
      const w = new WebSiteManagementClient(recordingCredential(), SUB, {
        endpoint: server.endpoint,
        httpClient,
      });
      expect((await collect(w.webApps.list())).length).toBe(5);
      await expect(w.webApps.getConfiguration("rg-web", "web1")).rejects.toMatchObject({
        name: "RestError",
        statusCode: 403,
        code: "AuthorizationFailed",
      });
      await expect(w.webApps.getConfigurationSlot("rg-web", "web1", "staging")).rejects.toMatchObject({
        statusCode: 403,
      });
    } finally {
      await server.stop();
    }
  });

  it("failing list operations reject the iteration with a RestError (classic ACI and modular clients)", async () => {
    const server = await startArmServer(fixture, {
      failWith: { pathIncludes: "/containerGroups", status: 500 },
    });
    try {
      const httpClient = trustingHttpClient(server.caCertPem);
      const c = new ContainerInstanceManagementClient(recordingCredential(), SUB, {
        endpoint: server.endpoint,
        httpClient,
        retryOptions: { maxRetries: 0 },
      });
      await expect(collect(c.containerGroups.list())).rejects.toMatchObject({
        statusCode: 500,
        code: "InternalServerError",
      });
      expect(server.requests.filter((r) => r.path.includes("containerGroups"))).toHaveLength(1);
    } finally {
      await server.stop();
    }
    const paging = await startArmServer(fixture, { failWith: { pathIncludes: "/revisions", status: 429 } });
    try {
      const a = new ContainerAppsAPIClient(recordingCredential(), SUB, {
        endpoint: paging.endpoint,
        httpClient: trustingHttpClient(paging.caCertPem),
        retryOptions: { maxRetries: 0 },
      });
      await expect(collect(a.containerAppsRevisions.listRevisions("rg-aca", "app1"))).rejects.toMatchObject({
        statusCode: 429,
        code: "TooManyRequests",
      });
    } finally {
      await paging.stop();
    }
  });
});

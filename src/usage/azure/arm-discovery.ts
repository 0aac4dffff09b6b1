import { ContainerAppsAPIClient } from "@azure/arm-appcontainers";
import { WebSiteManagementClient } from "@azure/arm-appservice";
import { ContainerInstanceManagementClient } from "@azure/arm-containerinstance";
import { ContainerRegistryManagementClient } from "@azure/arm-containerregistry";
import { ContainerServiceClient } from "@azure/arm-containerservice";
import { Agent, request } from "undici";
import { z } from "zod";
import { type AzureContext, all, resourceGroupOf } from "./azure-context.js";

/** What the wizard offers: the subscriptions, registries and workloads an identity can see. */

const TIMEOUT_MS = 30_000;
/** GET /subscriptions pages; far more than any tenant has, so a looping nextLink still ends. */
const MAX_PAGES = 100;

export interface SubscriptionChoice {
  readonly id: string;
  readonly name: string;
  readonly state: string;
}

export interface RegistryChoice {
  readonly name: string;
  readonly loginServer: string;
  readonly resourceGroup: string;
}

/** The Azure usage source kinds a subscription can hold workloads of. */
export const WORKLOAD_KINDS = ["appservice", "aks", "containerapps", "containerinstances"] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

/** true: the subscription has some; false: none; a string: why it could not be told. */
export type WorkloadPresence = Record<WorkloadKind, boolean | string>;

const subscriptionPage = z.object({
  value: z.array(
    z.object({
      subscriptionId: z.string(),
      displayName: z.string().optional(),
      state: z.string().optional(),
    }),
  ),
  nextLink: z.string().nullish(),
});

function withTimeout(signal: AbortSignal | undefined): AbortSignal {
  const timeout = AbortSignal.timeout(TIMEOUT_MS);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

/**
 * Every subscription the credential sees (ARM `GET /subscriptions`, the call `az account list`
 * makes). No SDK package covers it among our dependencies, so it is one paged GET with the same
 * credential, endpoint and trusted CA as the SDK clients.
 */
export async function listSubscriptions(
  context: AzureContext,
  signal?: AbortSignal,
): Promise<SubscriptionChoice[]> {
  const { endpoint, credentialScopes, tlsOptions } = context.clientOptions;
  const token = await context.credential.getToken(credentialScopes, { abortSignal: withTimeout(signal) });
  if (!token) throw new Error(`no Azure token for ${endpoint}: sign in (az login)`);
  const dispatcher = new Agent({
    headersTimeout: TIMEOUT_MS,
    bodyTimeout: TIMEOUT_MS,
    connect: { timeout: TIMEOUT_MS, ...(tlsOptions ? { ca: tlsOptions.ca } : {}) },
  });
  const found: SubscriptionChoice[] = [];
  const seen = new Set<string>();
  try {
    let url: string | undefined = `${endpoint}/subscriptions?api-version=2022-12-01`;
    for (let page = 0; url; page++) {
      if (page >= MAX_PAGES || seen.has(url))
        throw new Error(`GET ${endpoint}/subscriptions: the listing does not end (nextLink repeats)`);
      seen.add(url);
      const res = await request(url, {
        headers: { authorization: `Bearer ${token.token}`, accept: "application/json" },
        dispatcher,
        signal: withTimeout(signal),
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) {
        const message = /"message"\s*:\s*"([^"]*)"/.exec(text)?.[1] ?? text.slice(0, 200);
        throw new Error(`GET ${endpoint}/subscriptions: HTTP ${res.statusCode} ${message}`);
      }
      const body = subscriptionPage.parse(JSON.parse(text));
      for (const s of body.value)
        found.push({ id: s.subscriptionId, name: s.displayName ?? s.subscriptionId, state: s.state ?? "" });
      url = body.nextLink ?? undefined;
    }
  } finally {
    await dispatcher.close();
  }
  return found;
}

/** The subscription's container registries, or only those of one resource group. */
export async function listRegistries(
  context: AzureContext,
  subscriptionId: string,
  resourceGroup?: string,
  signal?: AbortSignal,
): Promise<RegistryChoice[]> {
  const client = new ContainerRegistryManagementClient(
    context.credential,
    subscriptionId,
    context.clientOptions,
  );
  const op = { abortSignal: withTimeout(signal) };
  const registries = await all(
    resourceGroup ? client.registries.listByResourceGroup(resourceGroup, op) : client.registries.list(op),
  );
  return registries
    .filter((r) => r.name && r.loginServer)
    .map((r) => ({
      name: r.name as string,
      loginServer: r.loginServer as string,
      resourceGroup: resourceGroupOf(r.id),
    }));
}

/** Whether the subscription holds workloads of each kind (one page of each list is enough). */
export async function detectWorkloads(
  context: AzureContext,
  subscriptionId: string,
  signal?: AbortSignal,
): Promise<WorkloadPresence> {
  const { credential, clientOptions } = context;
  const op = () => ({ abortSignal: withTimeout(signal) });
  const any = async (...lists: (() => AsyncIterable<unknown>)[]): Promise<boolean | string> => {
    try {
      for (const list of lists) {
        for await (const _ of list()) return true;
      }
      return false;
    } catch (error) {
      const e = error as { statusCode?: number; message?: string };
      return `${e.statusCode ? `HTTP ${e.statusCode} ` : ""}${(e.message ?? String(error)).split("\n")[0]}`;
    }
  };
  const web = new WebSiteManagementClient(credential, subscriptionId, clientOptions);
  const aks = new ContainerServiceClient(credential, subscriptionId, clientOptions);
  const apps = new ContainerAppsAPIClient(credential, subscriptionId, clientOptions);
  const aci = new ContainerInstanceManagementClient(credential, subscriptionId, clientOptions);
  const [appservice, aksFound, containerapps, containerinstances] = await Promise.all([
    any(() => web.webApps.list(op())),
    any(() => aks.managedClusters.list(op())),
    any(
      () => apps.containerApps.listBySubscription(op()),
      () => apps.jobs.listBySubscription(op()),
    ),
    any(() => aci.containerGroups.list(op())),
  ]);
  return {
    appservice: appservice as boolean | string,
    aks: aksFound as boolean | string,
    containerapps: containerapps as boolean | string,
    containerinstances: containerinstances as boolean | string,
  };
}

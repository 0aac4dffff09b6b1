import { z } from "zod";

const optional = z
  .boolean()
  .default(false)
  .describe("a failing optional source is reported and skipped; a required one stops the run (exit 3)");
const subscriptions = z
  .array(z.string())
  .optional()
  .describe("subscription ids; default: azure.subscriptions");
const resourceGroups = z.array(z.string()).optional().describe("only these resource groups");
const namespaces = z
  .object({ include: z.array(z.string()).optional(), exclude: z.array(z.string()).optional() })
  .strict()
  .optional();

/** Where one query's image names are, by dotted path (arrays are walked). */
const mongoImageSchema = z.union([
  z.string().describe("dotted path of a field holding a whole image reference"),
  z
    .object({
      reference: z.string().optional().describe("dotted path of a whole reference"),
      repository: z.string().optional().describe("dotted path of the repository"),
      repositoryPrefix: z
        .string()
        .optional()
        .describe("put before the repository field's value, or the repository itself when there is no field"),
      tag: z.string().optional().describe("dotted path of the tag"),
      digest: z.string().optional().describe("dotted path of the digest"),
      owner: z.string().optional().describe("dotted path of who owns the record (size reports group by it)"),
    })
    .strict(),
]);

export const mongoQuerySchema = z
  .object({
    collection: z.string(),
    filter: z.record(z.string(), z.unknown()).optional().describe("a find filter; default every document"),
    pipeline: z
      .array(z.record(z.string(), z.unknown()))
      .optional()
      .describe("an aggregation instead of a filter"),
    image: mongoImageSchema,
    protect: z
      .boolean()
      .default(true)
      .describe("false: the records keep nothing; they give owners and afterDelete clean-ups"),
    afterDelete: z
      .union([
        z.object({ set: z.record(z.string(), z.unknown()) }).strict(),
        z.object({ delete: z.literal(true) }).strict(),
      ])
      .optional()
      .describe("once the record's image is deleted: set fields on the record, or delete it"),
  })
  .strict()
  .refine((q) => !q.afterDelete || q.protect === false, {
    message: "afterDelete needs protect: false (a record that keeps its image never sees it deleted)",
    path: ["afterDelete"],
  });
// As written: protect may be left out (it defaults to true).
export type MongoQuery = z.input<typeof mongoQuerySchema>;

export const usageSourceSchema = z.discriminatedUnion("type", [
  z
    .object({
      type: z.literal("mongodb"),
      uri: z.string().optional().describe("mongodb://…; prefer uriEnv, so the file holds no credential"),
      uriEnv: z.string().optional().describe("the environment variable holding the URI, e.g. MONGODB_URI"),
      database: z.string().optional().describe("default: the URI's database, or domino for the preset"),
      preset: z.enum(["domino"]).optional().describe("the collections and fields the Domino cleaner reads"),
      queries: z.array(mongoQuerySchema).optional(),
      registry: z
        .string()
        .optional()
        .describe("the registry host the database's image names refer to when they name none"),
      unusedSinceDays: z
        .number()
        .int()
        .positive()
        .optional()
        .describe("domino preset: runs last used longer ago than this keep nothing (--unused-since-days)"),
      archive: z
        .boolean()
        .default(false)
        .describe(
          "domino preset: set isArchived on an environment once its active revision's image is deleted",
        ),
      objectIds: z
        .array(z.string())
        .optional()
        .describe(
          "domino preset: environment:<id> … lines (--object-ids): only these objects' images may go",
        ),
      keycloak: z
        .object({
          url: z.string().describe("https://keycloak.example.com"),
          realm: z.string().default("DominoRealm"),
          clientId: z.string(),
          secretEnv: z.string().describe("the environment variable holding the client secret"),
        })
        .strict()
        .optional()
        .describe(
          "domino preset: private environments of users Keycloak has deactivated are not kept by their own records",
        ),
      optional,
    })
    .strict()
    .refine((s) => s.uri || s.uriEnv, { message: "give uri or uriEnv", path: ["uri"] })
    .refine(
      (s) => s.preset || (s.unusedSinceDays === undefined && !s.archive && !s.objectIds && !s.keycloak),
      {
        message: "unusedSinceDays, archive, objectIds and keycloak belong to preset: domino",
        path: ["preset"],
      },
    )
    .refine((s) => s.preset || s.queries?.length, {
      message: "give queries, or preset: domino",
      path: ["queries"],
    }),
  z
    .object({
      type: z.literal("file"),
      path: z.string().describe("one image reference per line; - for stdin"),
      optional,
    })
    .strict(),
  z
    .object({
      type: z.literal("kubernetes"),
      kubeconfig: z.string().optional().describe("default: $KUBECONFIG or ~/.kube/config"),
      contexts: z
        .union([z.array(z.string()).min(1), z.literal("all")])
        .optional()
        .describe("contexts to read, or all; default: the current context"),
      namespaces,
      optional,
    })
    .strict(),
  z.object({ type: z.literal("appservice"), subscriptions, resourceGroups, optional }).strict(),
  z.object({ type: z.literal("containerapps"), subscriptions, resourceGroups, optional }).strict(),
  z.object({ type: z.literal("containerinstances"), subscriptions, resourceGroups, optional }).strict(),
  z
    .object({
      type: z.literal("aks"),
      subscriptions,
      clusters: z
        .record(
          z.string(),
          z.object({ name: z.string(), subscriptionId: z.string(), resourceGroup: z.string() }).strict(),
        )
        .optional()
        .describe(
          "alias -> cluster, as the AKS cleanup script's config; default: every cluster in the subscriptions",
        ),
      namespaces,
      access: z
        .enum(["api", "run-command", "auto"])
        .default("api")
        .describe(
          "api: the API server with user credentials; run-command: kubectl inside the cluster (private clusters); auto: run-command when the cluster is private or its API server does not answer",
        ),
      optional,
    })
    .strict(),
  z
    .object({
      type: z.literal("acrPullLogs"),
      workspaceId: z
        .string()
        .min(1)
        .describe(
          "the Log Analytics workspace (customer) id the registry's diagnostic setting sends logs to",
        ),
      within: z
        .string()
        .optional()
        .describe("how recent a pull keeps an image: 30d; default policy.protectPulledWithin"),
      registry: z
        .string()
        .optional()
        .describe("the registry's login server (myregistry.azurecr.io); default the registry being cleaned"),
      endpoint: z
        .string()
        .optional()
        .describe("the Logs query API; default https://api.loganalytics.io (tests, other clouds)"),
      optional,
    })
    .strict(),
]);
export type UsageSourceConfig = z.infer<typeof usageSourceSchema>;

export const PULL_REQUEST_STATUSES = [
  "active",
  "abandoned",
  "completed",
  "notSet",
  "open",
  "closed",
  "merged",
] as const;

/** Tags of closed pull requests go (SEEDS 002): which provider, which PRs, which tags. */
export const pullRequestRuleSchema = z
  .object({
    provider: z.enum(["azure-devops", "github"]),
    organization: z
      .string()
      .describe("azure-devops: the organization URL (https://dev.azure.com/contoso); github: owner/repo"),
    project: z.string().optional().describe("azure-devops: the project holding the pull requests"),
    baseUrl: z
      .string()
      .optional()
      .describe("github: the API of GitHub Enterprise (https://ghe.example.com/api/v3)"),
    tagPattern: z
      .string()
      .default("^PR(\\d+)")
      .describe("first capture group = PR number; matched case-insensitively"),
    deleteWhen: z
      .array(z.enum(PULL_REQUEST_STATUSES))
      .optional()
      .describe(
        "statuses whose tags go; default azure-devops [abandoned, completed], github [closed, merged]",
      ),
    action: z
      .enum(["delete", "untag"])
      .default("delete")
      .describe("delete: the manifests whose every tag names a closed PR; untag: only the closed PRs' tags"),
    untaggedAfterUntag: z
      .boolean()
      .default(false)
      .describe("with untag: delete, in the same run, a manifest left with no tag (as --untagged does)"),
  })
  .strict()
  .superRefine((rule, ctx) => {
    if (rule.provider === "azure-devops" && !rule.project)
      ctx.addIssue({ code: "custom", path: ["project"], message: "azure-devops needs the project" });
    if (rule.provider === "github" && !/^[^/\s]+\/[^/\s]+$/.test(rule.organization))
      ctx.addIssue({ code: "custom", path: ["organization"], message: "github needs owner/repo" });
    try {
      new RegExp(rule.tagPattern);
    } catch (error) {
      ctx.addIssue({ code: "custom", path: ["tagPattern"], message: (error as Error).message });
    }
  });
export type PullRequestRuleConfig = z.infer<typeof pullRequestRuleSchema>;

/** A self-hosted distribution registry running in Kubernetes: deletes on only while apply needs them (SEEDS 004). */
export const inClusterRegistrySchema = z
  .object({
    kubeconfig: z.string().optional().describe("default: $KUBECONFIG or ~/.kube/config"),
    context: z.string().optional().describe("default: the kubeconfig's current context"),
    namespace: z.string().default("default"),
    statefulset: z
      .string()
      .optional()
      .describe("the registry's StatefulSet; default docker-registry unless deployment is given"),
    deployment: z.string().optional().describe("the registry's Deployment, instead of a StatefulSet"),
    container: z
      .string()
      .optional()
      .describe("the registry container; default the workload's only container"),
    configPath: z
      .string()
      .default("/etc/docker/registry/config.yml")
      .describe("the registry's configuration file inside the container, for garbage-collect"),
    garbageCollect: z
      .boolean()
      .default(true)
      .describe("run registry garbage-collect in a registry pod after deleting (never --delete-untagged)"),
    readyTimeoutSeconds: z
      .number()
      .int()
      .positive()
      .default(300)
      .describe("how long to wait for the registry's pods to be ready after each change"),
  })
  .strict()
  .refine((k) => !(k.statefulset && k.deployment), {
    message: "give statefulset or deployment, not both",
    path: ["deployment"],
  });
export type InClusterRegistryConfig = z.infer<typeof inClusterRegistrySchema>;

export const AZURE_CLOUDS = ["AzurePublicCloud", "AzureUSGovernment", "AzureChinaCloud"] as const;

export const configSchema = z
  .object({
    registry: z
      .object({
        url: z.string().optional().describe("https://host[:port], http://127.0.0.1:PORT or oci:DIR"),
        aliases: z
          .array(z.string())
          .default([])
          .describe("other host names references use for this registry"),
        insecure: z.boolean().default(false),
        caFile: z.string().optional(),
        username: z.string().optional(),
        concurrency: z.number().int().positive().default(8),
        rps: z.number().int().positive().optional(),
        cacheDir: z.string().optional(),
        kubernetes: inClusterRegistrySchema
          .optional()
          .describe(
            "the registry runs in Kubernetes: apply enables deletes only while it deletes, then garbage-collects",
          ),
      })
      .strict()
      .default({ aliases: [], insecure: false, concurrency: 8 }),
    policy: z
      .object({
        // No default here: purge must tell a filter someone set from none (it requires one, as acr
        // purge); plan and run take every repository and tag when none is set.
        filters: z
          .array(z.string())
          .optional()
          .describe("REPO_REGEX:TAG_REGEX, as acr purge --filter; plan and run default to .*:.*"),
        ago: z.string().optional().describe("only older than this: 30d, 1d12h, 90m"),
        keep: z.number().int().nonnegative().optional(),
        untagged: z.boolean().default(false),
        untaggedOnly: z
          .boolean()
          .optional()
          .describe("only untagged manifests, no tagged ones (acr purge --untagged-only)"),
        ageFrom: z
          .enum(["created", "updated"])
          .optional()
          .describe("which time ago and keep read: created (default) or updated (ACR's lastUpdateTime)"),
        protectTags: z
          .array(z.string().min(1))
          .optional()
          .describe(
            "tag regexes matched whole (the filters' RE2 dialect): a manifest carrying a matching tag stays (--protect-tag)",
          ),
        protectPulledWithin: z
          .string()
          .optional()
          .describe("keep what the registry says was pulled within this long: 30d (ECR records pulls)"),
        scope: z
          .enum(["all", "used-repositories"])
          .default("all")
          .describe("used-repositories: only delete in repositories some usage source references"),
        rules: z
          .array(z.object({ pullRequest: pullRequestRuleSchema }).strict())
          .max(1, "one pullRequest rule per configuration")
          .default([]),
      })
      .strict()
      .default({ untagged: false, scope: "all", rules: [] }),
    azure: z
      .object({
        cloud: z.enum(AZURE_CLOUDS).default("AzurePublicCloud"),
        subscriptions: z.array(z.string()).default([]),
        registryResourceGroup: z
          .string()
          .optional()
          .describe(
            "the registry's resource group (AZURE_ACR_RESOURCE_GROUP); the wizard lists registries there",
          ),
        tenantId: z.string().optional(),
        resourceManagerEndpoint: z
          .string()
          .optional()
          .describe("override the cloud's ARM endpoint (tests, private clouds)"),
        caFile: z.string().optional().describe("extra CA certificate (PEM) trusted for Azure calls"),
      })
      .strict()
      .default({ cloud: "AzurePublicCloud", subscriptions: [] }),
    usage: z.array(usageSourceSchema).default([]),
    owner: z
      .object({
        annotation: z
          .string()
          .min(1)
          .optional()
          .describe("a manifest annotation, e.g. org.opencontainers.image.authors"),
        label: z.string().min(1).optional().describe("an image config label (config.Labels)"),
      })
      .strict()
      .refine((o) => (o.annotation === undefined) !== (o.label === undefined), {
        message: "give exactly one of annotation or label",
      })
      .optional()
      .describe(
        "who owns an image when no usage source says: plan entries carry it, report --by owner groups by it",
      ),
    audit: z
      .object({ dir: z.string().default("audits") })
      .strict()
      .default({ dir: "audits" }),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;

/** The published JSON Schema of the configuration file (`regsweep config schema`). */
export function configJsonSchema(): unknown {
  return z.toJSONSchema(configSchema, { io: "input" });
}

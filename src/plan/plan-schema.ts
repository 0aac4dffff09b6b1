import { z } from "zod";
import { isDigest } from "../oci/digest.js";

const digest = z.string().refine(isDigest, "not a sha256 digest");

export const reasonSchema = z.object({
  rule: z.string(),
  detail: z.string(),
  source: z.string().optional(),
});

/** What every plan entry says of its manifest. */
export const keepEntrySchema = z.object({
  repository: z.string(),
  digest,
  tags: z.array(z.string()),
  mediaType: z.string(),
  created: z.string().nullable(),
  ageSource: z.enum(["registry", "config", "child", "unknown"]),
  sizeBytes: z.number().int().nonnegative(),
  reasons: z.array(reasonSchema).min(1),
  /**
   * Every blob the manifest holds, its own body included, so reports can count each shared layer
   * once across the registry. Optional: plans made before it existed have none.
   */
  blobs: z.array(z.object({ digest, size: z.number().int().nonnegative() })).optional(),
  /** Who the image belongs to, where a usage source knows (the MongoDB preset). */
  owner: z.string().optional(),
});

export const deleteEntrySchema = keepEntrySchema.extend({
  /** Index children and referral subject, so apply can hold back what depends on a skipped item. */
  children: z.array(digest).optional(),
  subject: digest.optional(),
});

/** Plan JSON, version 1: the artefact a human reviews and `apply` executes. */
export const planSchema = z.object({
  version: z.literal(1),
  /** The registry host, as image references name it. */
  registry: z.string(),
  /** Where the plan's registry was reached (`https://…`, `http://…`, `oci:DIR`), for apply. */
  registryUrl: z.string().optional(),
  /** `acr` when the plan was made through ACR's API, so apply signs in and lists the same way. */
  registryType: z.enum(["distribution", "acr", "ecr"]).optional(),
  /** The usage sources the plan was made with, which apply reads again before deleting. */
  usage: z
    .object({
      config: z.string().optional(),
      inUseFiles: z.array(z.string()),
      kubeconfig: z.string().optional(),
      contexts: z.array(z.string()),
      aliases: z.array(z.string()),
      /** --unused-since-days and --object-ids (the file), so apply reads the Domino preset the same way. */
      unusedSinceDays: z.number().int().positive().optional(),
      objectIds: z.string().optional(),
    })
    .optional(),
  createdAt: z.string(),
  options: z.object({
    filters: z.array(z.string()),
    ago: z.string().nullable(),
    keep: z.number().int().nonnegative().nullable(),
    untagged: z.boolean(),
    /** acr purge --untagged-only; absent in plans of older versions: false. */
    untaggedOnly: z.boolean().optional(),
    /** The time --ago and --keep read; absent in plans of older versions: created. */
    ageFrom: z.enum(["created", "updated"]).optional(),
    /** --protect-tag patterns as written (matched whole); absent: none. */
    protectTags: z.array(z.string()).optional(),
  }),
  /**
   * With `--shard I/N`: this plan covers only the repositories whose name hashes to shard `index`
   * of `count` (the other shards' runs plan the rest).
   */
  shard: z
    .object({ index: z.number().int().nonnegative(), count: z.number().int().positive() })
    .refine((s) => s.index < s.count, "shard index must be below count")
    .optional(),
  summary: z.object({
    repositories: z.number().int().nonnegative(),
    manifests: z.number().int().nonnegative(),
    delete: z.number().int().nonnegative(),
    keep: z.number().int().nonnegative(),
    inUse: z.number().int().nonnegative(),
    reclaimableBytes: z.number().int().nonnegative(),
  }),
  /** In deletion order: a subject before its referrers, an index before its children. */
  delete: z.array(deleteEntrySchema),
  keep: z.array(keepEntrySchema),
  warnings: z.array(z.string()),
  /**
   * With a pull-request rule: every pull-request tag looked at, as the PR cleanup script printed them —
   * the ones deleted (their PR closed) and the ones preserved, with why.
   */
  pullRequests: z
    .object({
      provider: z.string(),
      deleted: z.array(
        z.object({
          repository: z.string(),
          tag: z.string(),
          pr: z.number().int(),
          status: z.string(),
          digest,
        }),
      ),
      preserved: z.array(
        z.object({
          repository: z.string(),
          tag: z.string(),
          pr: z.number().int(),
          status: z.string().nullable(),
          reason: z.string(),
          digest,
        }),
      ),
    })
    .optional(),
  /**
   * Tags to remove, the manifests staying (a pull-request rule with `action: untag`): each re-checked
   * before it goes, like a deletion.
   */
  untag: z
    .array(
      z.object({ repository: z.string(), tag: z.string(), digest, reasons: z.array(reasonSchema).min(1) }),
    )
    .optional(),
  /**
   * Database records to change once their images are deleted (a query's afterDelete, the Domino
   * preset's archive): apply does each only after every image it lists was deleted, and journals it.
   */
  recordCleanups: z
    .array(
      z.object({
        /** The usage source (its name) whose connection carries it out. */
        source: z.string(),
        database: z.string(),
        collection: z.string(),
        id: z.string(),
        change: z.union([
          z.object({ set: z.record(z.string(), z.unknown()) }).strict(),
          z.object({ delete: z.literal(true) }).strict(),
        ]),
        /** The record as reasons name it. */
        record: z.string(),
        images: z.array(z.object({ repository: z.string(), digest })).min(1),
      }),
    )
    .optional(),
  /** Kept because in use although older than --ago: the images teams should move off, and who uses them. */
  oldInUse: z
    .array(
      z.object({
        repository: z.string(),
        digest,
        tags: z.array(z.string()),
        created: z.string(),
        daysOverThreshold: z.number().int().nonnegative(),
        usedBy: z.array(z.string()),
      }),
    )
    .default([]),
});

export type Plan = z.infer<typeof planSchema>;
export type DeleteEntry = z.infer<typeof deleteEntrySchema>;
export type KeepEntry = z.infer<typeof keepEntrySchema>;
export type UntagEntry = NonNullable<Plan["untag"]>[number];
export type RecordCleanupEntry = NonNullable<Plan["recordCleanups"]>[number];

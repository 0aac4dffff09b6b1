import type { ImageReference } from "../oci/reference.js";
import type { ImageRecord, RecordCleanup, Usage } from "./usage.js";

/**
 * Which images a Domino deployment still uses, from its database as the Domino registry cleaner
 * reads it (SEEDS 004). Pure: the adapter (domino-source.ts) reads the collections into this shape.
 *
 * An image is kept when:
 * - it is the active revision of an environment that is not archived (a private environment of a
 *   deactivated user excepted), or any revision of such an environment whose active revision is unknown;
 * - it is a version of a model that is not archived (or whose model record is missing);
 * - a run names its revision or environment (with `unusedSinceDays`, only runs used within that many days);
 * - any other record (workspaces, sessions, projects, scheduler jobs, organizations, app versions, user
 *   preferences, models) names its revision, its environment (then the active revision), its model
 *   version or its model, in whatever field.
 * Where the database leaves it unsure (an environment or model record missing, an environment
 * without an active revision), it keeps. Every other revision and model version image is a record:
 * it carries its owner for size reports, and whether `--object-ids` targets it.
 */

export interface DominoEnvironment {
  readonly id: string;
  readonly activeRevisionId?: string;
  readonly archived: boolean;
  readonly private: boolean;
  readonly ownerId?: string;
}

export interface DominoRevision {
  readonly id: string;
  readonly environmentId?: string;
  /** `repository:tag` as the revision records it, if it has an image. */
  readonly image?: string;
}

export interface DominoModel {
  readonly id: string;
  readonly archived: boolean;
  readonly ownerId?: string;
  readonly projectId?: string;
}

export interface DominoModelVersion {
  readonly id: string;
  readonly modelId?: string;
  readonly images: readonly string[];
}

export interface DominoRun {
  readonly id: string;
  readonly environmentIds: readonly string[];
  readonly revisionIds: readonly string[];
  /** The latest of its `last_used`, `completed` and `started` times; absent when it has none. */
  readonly lastUsed?: Date;
}

/** A record of any other collection, with every id it holds and where. */
export interface DominoReference {
  readonly collection: string;
  readonly id: string;
  readonly ids: readonly { readonly path: string; readonly id: string }[];
}

export interface DominoDatabase {
  readonly environments: readonly DominoEnvironment[];
  readonly revisions: readonly DominoRevision[];
  readonly models: readonly DominoModel[];
  readonly modelVersions: readonly DominoModelVersion[];
  readonly runs: readonly DominoRun[];
  readonly references: readonly DominoReference[];
  /** Domino user id → user name. */
  readonly userNames: ReadonlyMap<string, string>;
  /** Project id → its owner's user id. */
  readonly projectOwners: ReadonlyMap<string, string>;
}

export type ObjectKind = "environment" | "environmentRevision" | "model" | "modelVersion";
export interface ObjectTarget {
  readonly kind: ObjectKind;
  readonly id: string;
}

export interface DominoOptions {
  /** How reasons name the source, e.g. `mongodb (domino preset)`. */
  readonly source: string;
  readonly database: string;
  /** Turns an image name as the database writes it into a reference (registry host added). */
  readonly toReference: (raw: string, record: string) => { reference: ImageReference; raw: string };
  readonly now: Date;
  /** Runs last used longer ago than this do not keep their images. */
  readonly unusedSinceDays?: number;
  /** Keycloak ids and user names of deactivated users (lower case): their private environments are not kept by their own records. */
  readonly deactivated?: ReadonlySet<string>;
  /** `--object-ids`: these objects' own records keep nothing, and only their images may go. */
  readonly targets?: readonly ObjectTarget[];
  /** Mark an environment archived once its (active) images are deleted. */
  readonly archive?: boolean;
}

export interface DominoFindings {
  readonly usages: Usage[];
  readonly records: ImageRecord[];
  readonly warnings: string[];
}

export function dominoFindings(db: DominoDatabase, options: DominoOptions): DominoFindings {
  const { database } = options;
  const where = (collection: string, id: string) => `${options.source} ${database}.${collection} ${id}`;
  const environments = new Map(db.environments.map((e) => [e.id, e]));
  const models = new Map(db.models.map((m) => [m.id, m]));
  const revisionsOf = group(db.revisions, (r) => r.environmentId);
  const versionsOf = group(db.modelVersions, (v) => v.modelId);
  const revisions = new Map(db.revisions.map((r) => [r.id, r]));
  const versions = new Map(db.modelVersions.map((v) => [v.id, v]));
  const targeted = new Set((options.targets ?? []).map((t) => `${t.kind}:${t.id}`));
  const warnings: string[] = [];
  for (const t of options.targets ?? []) {
    const known =
      t.kind === "environment"
        ? environments.has(t.id)
        : t.kind === "environmentRevision"
          ? revisions.has(t.id)
          : t.kind === "model"
            ? models.has(t.id)
            : versions.has(t.id);
    if (!known)
      warnings.push(
        `--object-ids ${t.kind}:${t.id}: no such record in ${database}; nothing is targeted for it`,
      );
  }

  const userName = (id: string | undefined) => (id ? (db.userNames.get(id) ?? id) : undefined);
  const environmentOwner = (e: DominoEnvironment | undefined) => userName(e?.ownerId);
  const modelOwner = (m: DominoModel | undefined) =>
    userName(m?.ownerId ?? (m?.projectId ? db.projectOwners.get(m.projectId) : undefined));

  const usages = new ReasonList();
  /** Why an image stays: the record (its collection counts reasons), as the reason reads. */
  const why = (collection: string, id: string, more = ""): Why => ({
    collection,
    text: `${where(collection, id)}${more}`,
  });
  const keepRevision = (revision: DominoRevision, source: Why) => {
    if (!revision.image) return;
    const owner = environmentOwner(environments.get(revision.environmentId ?? ""));
    const ref = options.toReference(revision.image, where("environment_revisions", revision.id));
    usages.push({ ...ref, source: source.text, ...(owner ? { owner } : {}) }, source.collection);
  };
  const keepVersion = (version: DominoModelVersion, source: Why) => {
    const owner = modelOwner(models.get(version.modelId ?? ""));
    for (const image of version.images) {
      const ref = options.toReference(image, where("model_versions", version.id));
      usages.push({ ...ref, source: source.text, ...(owner ? { owner } : {}) }, source.collection);
    }
  };
  /** An environment named by id uses its active revision; unknown which, every revision stays. */
  const keepEnvironment = (environmentId: string, source: Why) => {
    const active = environments.get(environmentId)?.activeRevisionId;
    const revision = active ? revisions.get(active) : undefined;
    if (revision) keepRevision(revision, source);
    else for (const r of revisionsOf.get(environmentId) ?? []) keepRevision(r, source);
  };

  for (const e of db.environments) {
    if (e.archived || targeted.has(`environment:${e.id}`)) continue;
    const owner = e.ownerId;
    const ownerName = owner ? db.userNames.get(owner) : undefined;
    const deactivated =
      e.private &&
      owner !== undefined &&
      (options.deactivated?.has(owner.toLowerCase()) ||
        (ownerName !== undefined && options.deactivated?.has(ownerName.toLowerCase())));
    if (deactivated) continue;
    keepEnvironment(e.id, why("environments_v2", e.id, " (active revision)"));
  }
  for (const r of db.revisions) {
    if (!r.environmentId || !environments.has(r.environmentId))
      keepRevision(
        r,
        why(
          "environment_revisions",
          r.id,
          ` (its environment ${r.environmentId ?? "(none named)"} has no record)`,
        ),
      );
  }
  for (const v of db.modelVersions) {
    const model = v.modelId ? models.get(v.modelId) : undefined;
    if (targeted.has(`modelVersion:${v.id}`) || (model && targeted.has(`model:${model.id}`))) continue;
    if (!model) keepVersion(v, why("model_versions", v.id, " (its model has no record)"));
    else if (!model.archived) keepVersion(v, why("models", model.id, " (a version of a model not archived)"));
  }

  const since =
    options.unusedSinceDays === undefined
      ? undefined
      : options.now.getTime() - options.unusedSinceDays * 86_400_000;
  for (const run of db.runs) {
    // A run that says nothing of when it was used might be running now: it keeps.
    if (since !== undefined && run.lastUsed && run.lastUsed.getTime() < since) continue;
    const source = why("runs", run.id, run.lastUsed ? ` (last used ${run.lastUsed.toISOString()})` : "");
    for (const id of run.revisionIds) {
      const r = revisions.get(id);
      if (r) keepRevision(r, source);
    }
    for (const id of run.environmentIds) keepEnvironment(id, source);
  }
  for (const ref of db.references) {
    // A model's records name the model and its versions themselves; there, only environments count.
    const environmentsOnly = ref.collection === "models" || ref.collection === "model_versions";
    for (const { path, id } of ref.ids) {
      const source = why(ref.collection, ref.id, ` ${path}`);
      const revision = revisions.get(id);
      if (revision) keepRevision(revision, source);
      if (environments.has(id) || revisionsOf.has(id)) keepEnvironment(id, source);
      if (environmentsOnly) continue;
      const version = versions.get(id);
      if (version) keepVersion(version, source);
      for (const v of versionsOf.get(id) ?? []) keepVersion(v, source);
    }
  }

  const records: ImageRecord[] = [];
  for (const r of db.revisions) {
    if (!r.image) continue;
    const environment = environments.get(r.environmentId ?? "");
    const owner = environmentOwner(environment);
    const isTarget =
      targeted.has(`environmentRevision:${r.id}`) || targeted.has(`environment:${r.environmentId}`);
    const archives =
      options.archive &&
      environment &&
      !environment.archived &&
      (environment.activeRevisionId && revisions.has(environment.activeRevisionId)
        ? environment.activeRevisionId === r.id
        : true);
    const cleanup: RecordCleanup | undefined = archives
      ? {
          source: options.source,
          database,
          collection: "environments_v2",
          id: environment.id,
          change: { set: { isArchived: true } },
        }
      : undefined;
    const record = where("environment_revisions", r.id);
    records.push({
      ...options.toReference(r.image, record),
      record,
      ...(owner ? { owner } : {}),
      ...(isTarget ? { targeted: true } : {}),
      ...(cleanup ? { cleanup } : {}),
    });
  }
  for (const v of db.modelVersions) {
    const owner = modelOwner(models.get(v.modelId ?? ""));
    const isTarget = targeted.has(`modelVersion:${v.id}`) || targeted.has(`model:${v.modelId}`);
    const record = where("model_versions", v.id);
    for (const image of v.images) {
      records.push({
        ...options.toReference(image, record),
        record,
        ...(owner ? { owner } : {}),
        ...(isTarget ? { targeted: true } : {}),
      });
    }
  }
  return { usages: usages.list(), records, warnings };
}

/** Reasons an image is kept, with at most a few per image and collection: a revision a million runs used needs no million reasons. */
const REASONS_PER_COLLECTION = 3;
type Why = { readonly collection: string; readonly text: string };
class ReasonList {
  private readonly usages: Usage[] = [];
  private readonly counts = new Map<string, { count: number; last: number }>();

  push(usage: Usage, collection: string): void {
    const key = `${usage.raw}\u0000${collection}`;
    const seen = this.counts.get(key) ?? { count: 0, last: -1 };
    seen.count++;
    if (seen.count <= REASONS_PER_COLLECTION) seen.last = this.usages.push(usage) - 1;
    this.counts.set(key, seen);
  }

  list(): Usage[] {
    const out = [...this.usages];
    for (const [key, { count, last }] of this.counts) {
      if (count <= REASONS_PER_COLLECTION) continue;
      const u = out[last] as Usage;
      const collection = key.split("\u0000")[1];
      out[last] = {
        ...u,
        source: `${u.source} (and ${count - REASONS_PER_COLLECTION} more ${collection} records)`,
      };
    }
    return out;
  }
}

function group<T>(items: readonly T[], key: (item: T) => string | undefined): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    if (k === undefined) continue;
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

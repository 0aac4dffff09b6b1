import type { Db, Document } from "mongodb";
import type { MongoQuery } from "../config/config-schema.js";
import { AbortedError, UsageSourceError } from "../errors.js";
import { InvalidReferenceError, parseReference } from "../oci/reference.js";
import {
  type DominoDatabase,
  type DominoReference,
  type DominoRun,
  dominoFindings,
  type ObjectTarget,
} from "./domino-usage.js";
import { idsIn, nameValue, objectIdHex, valuesAt } from "./mongo-fields.js";
import { namesAHost, runQueries, withDatabase } from "./mongodb-source.js";
import type { Findings, UsageSource } from "./usage.js";

/** Domino keeps model images in one repository, tagged `<modelId>-v<N>-…`. */
export const DOMINO_MODEL_REPOSITORY = "dominodatalab/model";

/** Records that may name an environment, revision, model or model version, in any field. */
export const DOMINO_REFERENCE_COLLECTIONS = [
  "workspace",
  "workspace_session",
  "projects",
  "scheduler_jobs",
  "organizations",
  "app_versions",
  "userPreferences",
  "models",
  "model_versions",
] as const;

export interface DominoSourceOptions {
  readonly uri: string;
  readonly database: string;
  readonly registry?: string;
  readonly optional?: boolean;
  readonly label?: string;
  /** More queries read through the same connection (a site's own collections). */
  readonly queries?: readonly MongoQuery[];
  readonly unusedSinceDays?: number;
  readonly objectIds?: readonly ObjectTarget[];
  readonly archive?: boolean;
  /** Users Keycloak says are deactivated; their private environments are not kept by their own records. */
  readonly deactivatedUsers?: (signal?: AbortSignal) => Promise<readonly { id: string; username: string }[]>;
  readonly now?: () => Date;
}

/** The Domino preset: reads what the Domino cleaner reads and decides as domino-usage.ts says. */
export function dominoSource(options: DominoSourceOptions): UsageSource {
  const name = options.label ?? "mongodb (domino preset)";
  const find = async (signal?: AbortSignal): Promise<Findings> => {
    const deactivated = options.deactivatedUsers
      ? await options.deactivatedUsers(signal).catch((error: Error) => {
          if (signal?.aborted) throw new AbortedError(`${name}: cancelled`);
          throw new UsageSourceError(name, `keycloak: ${error.message}`, { cause: error });
        })
      : undefined;
    return withDatabase(options.uri, options.database, name, signal, async (db) => {
      const data = await readDomino(db, name, signal);
      const found = dominoFindings(data, {
        source: name,
        database: options.database,
        now: options.now?.() ?? new Date(),
        toReference: (raw, record) => toReference(raw, record, options.registry, name),
        ...(options.unusedSinceDays !== undefined ? { unusedSinceDays: options.unusedSinceDays } : {}),
        ...(deactivated
          ? {
              deactivated: new Set(
                deactivated.flatMap((u) => [u.id.toLowerCase(), u.username.toLowerCase()]),
              ),
            }
          : {}),
        ...(options.objectIds ? { targets: options.objectIds } : {}),
        ...(options.archive ? { archive: true } : {}),
      });
      const extra = options.queries?.length
        ? await runQueries(db, options.queries, options, name, signal)
        : { usages: [], records: [] };
      return {
        usages: [...found.usages, ...extra.usages],
        records: [...found.records, ...extra.records],
        warnings: found.warnings,
        ...(options.objectIds ? { targeting: true } : {}),
      };
    });
  };
  return {
    name,
    optional: options.optional ?? false,
    find,
    load: async (signal) => (await find(signal)).usages,
  };
}

async function readDomino(db: Db, name: string, signal: AbortSignal | undefined): Promise<DominoDatabase> {
  const each = async (collection: string, projection: Document | undefined, use: (doc: Document) => void) => {
    if (signal?.aborted) throw new AbortedError(`${name}: cancelled`);
    const cursor = db
      .collection(collection)
      .find({}, { batchSize: 1000, ...(projection ? { projection } : {}) });
    for await (const doc of cursor) use(doc);
  };
  const id = (v: unknown) => objectIdHex(v) ?? (v === undefined || v === null ? undefined : String(v));
  const environments: DominoDatabase["environments"][number][] = [];
  await each(
    "environments_v2",
    { activeRevisionId: 1, isArchived: 1, visibility: 1, ownerId: 1, owner: 1 },
    (d) => {
      const ownerId = id(d.ownerId ?? (d.owner as Document | undefined)?.id ?? d.owner);
      const activeRevisionId = id(d.activeRevisionId);
      environments.push({
        id: id(d._id) as string,
        archived: d.isArchived === true,
        private: String(d.visibility ?? "").toLowerCase() === "private",
        ...(activeRevisionId ? { activeRevisionId } : {}),
        ...(ownerId ? { ownerId } : {}),
      });
    },
  );
  const revisions: DominoDatabase["revisions"][number][] = [];
  await each("environment_revisions", { environmentId: 1, "metadata.dockerImageName": 1 }, (d) => {
    const repository = nameValue(valuesAt(d, "metadata.dockerImageName.repository")[0]);
    const tag = nameValue(valuesAt(d, "metadata.dockerImageName.tag")[0]);
    const environmentId = id(d.environmentId);
    revisions.push({
      id: id(d._id) as string,
      ...(environmentId ? { environmentId } : {}),
      ...(repository && tag ? { image: `${repository}:${tag}` } : {}),
    });
  });
  const models: DominoDatabase["models"][number][] = [];
  const modelVersions: DominoDatabase["modelVersions"][number][] = [];
  const references: DominoReference[] = [];
  const projectOwners = new Map<string, string>();
  const reference = (collection: string, d: Document) => {
    const ids = idsIn(d).filter((x) => x.path !== "_id");
    if (ids.length) references.push({ collection, id: id(d._id) ?? "?", ids });
  };
  for (const collection of DOMINO_REFERENCE_COLLECTIONS) {
    await each(collection, undefined, (d) => {
      reference(collection, d);
      if (collection === "models") {
        const ownerId = id(d.ownerId);
        const projectId = id(d.projectId);
        models.push({
          id: id(d._id) as string,
          archived: d.isArchived === true,
          ...(ownerId ? { ownerId } : {}),
          ...(projectId ? { projectId } : {}),
        });
      } else if (collection === "model_versions") {
        const modelId = id(d.modelId);
        const images = new Set<string>();
        for (const image of valuesAt(d, "metadata.builds.slug.image")) {
          const tag = nameValue((image as Document | undefined)?.tag);
          const repository =
            nameValue((image as Document | undefined)?.repository) ?? DOMINO_MODEL_REPOSITORY;
          if (tag) images.add(`${repository}:${tag}`);
        }
        modelVersions.push({ id: id(d._id) as string, ...(modelId ? { modelId } : {}), images: [...images] });
      } else if (collection === "projects") {
        const owner = id(d.ownerId);
        if (owner) projectOwners.set(id(d._id) as string, owner);
      }
    });
  }
  const runs: DominoRun[] = [];
  await each(
    "runs",
    { environmentId: 1, environmentRevisionId: 1, last_used: 1, lastUsed: 1, completed: 1, started: 1 },
    (d) => {
      const times = [d.last_used, d.lastUsed, d.completed, d.started]
        .map((t) =>
          t instanceof Date ? t : typeof t === "string" || typeof t === "number" ? new Date(t) : undefined,
        )
        .filter((t): t is Date => t !== undefined && !Number.isNaN(t.getTime()));
      const latest = times.length ? new Date(Math.max(...times.map((t) => t.getTime()))) : undefined;
      runs.push({
        id: id(d._id) ?? "?",
        environmentIds: valuesAt(d, "environmentId")
          .map(id)
          .filter((x): x is string => !!x),
        revisionIds: valuesAt(d, "environmentRevisionId")
          .map(id)
          .filter((x): x is string => !!x),
        ...(latest ? { lastUsed: latest } : {}),
      });
    },
  );
  const userNames = new Map<string, string>();
  await each("users", { "loginId.id": 1, userName: 1, username: 1 }, (d) => {
    const userName =
      nameValue(valuesAt(d, "loginId.id")[0]) ?? nameValue(d.userName) ?? nameValue(d.username);
    if (userName) userNames.set(id(d._id) as string, userName);
  });
  return { environments, revisions, models, modelVersions, runs, references, userNames, projectOwners };
}

function toReference(raw: string, record: string, registry: string | undefined, name: string) {
  const full = registry && !namesAHost(raw) ? `${registry}/${raw}` : raw;
  try {
    return { reference: parseReference(full), raw: full };
  } catch (error) {
    if (!(error instanceof InvalidReferenceError)) throw error;
    // A record whose image name cannot be read keeps nothing safe by being skipped silently.
    throw new UsageSourceError(name, `${record.replace(`${name} `, "")}: ${error.message}`);
  }
}

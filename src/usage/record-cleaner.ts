import type { Document } from "mongodb";
import type { UsageSourceConfig } from "../config/config-schema.js";
import { UsageError } from "../errors.js";
import { mongoSourceTarget } from "./build-sources.js";
import { withDatabase } from "./mongodb-source.js";
import type { RecordCleanup } from "./usage.js";

/** Carries out one database clean-up; rejects when the record could not be changed. */
export type RecordCleaner = (cleanup: RecordCleanup, signal?: AbortSignal) => Promise<string>;

/**
 * A cleaner for the configured MongoDB sources: each clean-up goes through the connection of the
 * source that found its record (by name and database), read from the environment as at plan time.
 */
export function mongoRecordCleaner(
  sources: readonly UsageSourceConfig[],
  env: Record<string, string | undefined>,
): RecordCleaner {
  return async (cleanup, signal) => {
    const uris = new Set<string>();
    for (const s of sources) {
      if (s.type !== "mongodb") continue;
      const target = mongoSourceTarget(s, env);
      if (target.label === cleanup.source && target.database === cleanup.database && target.uri)
        uris.add(target.uri);
    }
    const [uri, ...others] = uris;
    if (!uri || others.length) {
      throw new UsageError(
        `${cleanup.source} ${cleanup.database}.${cleanup.collection} ${cleanup.id}: ${uri ? "several" : "no"} configured source${uri ? "s" : ""} of that name and database: give the configuration the plan was made with (and its uriEnv)`,
      );
    }
    return withDatabase(uri, cleanup.database, cleanup.source, signal, async (db) => {
      const { ObjectId } = await import("mongodb");
      const _id = /^[0-9a-f]{24}$/i.test(cleanup.id) ? new ObjectId(cleanup.id) : cleanup.id;
      const collection = db.collection(cleanup.collection);
      if ("delete" in cleanup.change) {
        const r = await collection.deleteOne({ _id } as Document);
        return r.deletedCount ? "deleted" : "already gone";
      }
      const r = await collection.updateOne({ _id } as Document, { $set: { ...cleanup.change.set } });
      return r.matchedCount ? `set ${Object.keys(cleanup.change.set).join(", ")}` : "already gone";
    });
  };
}

import type { Db } from "mongodb";
import type { MongoQuery } from "../config/config-schema.js";
import { AbortedError, UsageSourceError } from "../errors.js";
import { InvalidReferenceError, parseReference } from "../oci/reference.js";
import { commonContexts, nameValue, valuesAt } from "./mongo-fields.js";
import type { Findings, ImageRecord, RecordCleanup, Usage, UsageSource } from "./usage.js";

export interface MongoDbSourceOptions {
  /** The connection string; it never appears in names, reasons, logs or errors. */
  readonly uri: string;
  readonly database: string;
  readonly queries: readonly MongoQuery[];
  /** The registry host image names refer to when they name none (Domino stores `repo:tag`). */
  readonly registry?: string;
  readonly optional?: boolean;
  /** e.g. `mongodb (domino preset)`. */
  readonly label?: string;
}

/**
 * Image references a platform database still records: each query (a find filter or an
 * aggregation) yields documents, and its image fields — a whole reference, or repository plus
 * tag or digest, by dotted path — become references, each naming the record it came from. A
 * database that cannot be read fails the source (closed); a field that is not an image name is
 * reported, never guessed at.
 */
export function mongoDbSource(options: MongoDbSourceOptions): UsageSource {
  const name = options.label ?? `mongodb ${hostOf(options.uri)}/${options.database}`;
  const find = (signal?: AbortSignal) =>
    withDatabase(options.uri, options.database, name, signal, (db) =>
      runQueries(db, options.queries, options, name, signal),
    );
  return {
    name,
    optional: options.optional ?? false,
    find,
    load: async (signal) => (await find(signal)).usages,
  };
}

/** Every query's findings, read through one connection. */
export async function runQueries(
  db: Db,
  queries: readonly MongoQuery[],
  options: { readonly registry?: string; readonly database: string },
  name: string,
  signal: AbortSignal | undefined,
): Promise<Findings> {
  const usages: Usage[] = [];
  const records: ImageRecord[] = [];
  for (const query of queries) {
    if (signal?.aborted) throw new AbortedError(`${name}: cancelled`);
    const collection = db.collection(query.collection);
    const cursor = query.pipeline
      ? collection.aggregate(query.pipeline as object[], { batchSize: 1000 })
      : collection.find(query.filter ?? {}, { batchSize: 1000 });
    for await (const doc of cursor) {
      const found = referencesOf(doc, query, options, name);
      // Every record is listed (owners, unused references); only protecting ones keep their image.
      records.push(...found.map((u) => recordOf(u, doc, query, options, name)));
      if (query.protect !== false) usages.push(...found);
    }
  }
  return { usages, records };
}

/** A record that keeps nothing: it names its image, and what to change in it once the image is deleted. */
function recordOf(
  usage: Usage,
  doc: Record<string, unknown>,
  query: MongoQuery,
  options: { readonly database: string },
  name: string,
): ImageRecord {
  const cleanup: RecordCleanup | undefined =
    query.afterDelete && doc._id !== undefined
      ? {
          source: name,
          database: options.database,
          collection: query.collection,
          id: String(doc._id),
          change: "delete" in query.afterDelete ? { delete: true } : { set: query.afterDelete.set },
        }
      : undefined;
  return {
    reference: usage.reference,
    record: usage.source,
    ...(usage.owner ? { owner: usage.owner } : {}),
    ...(cleanup ? { cleanup } : {}),
  };
}

/**
 * Connects, runs `work`, and closes, whatever happens. A database that cannot be read fails the
 * source (closed); the URI's credentials never reach a message.
 */
export async function withDatabase<T>(
  uri: string,
  database: string,
  name: string,
  signal: AbortSignal | undefined,
  work: (db: Db) => Promise<T>,
): Promise<T> {
  const { MongoClient } = await import("mongodb");
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: 15_000,
    // The driver ignores timeoutMS (v7); a hung server is ended by this, or by the abort below.
    socketTimeoutMS: 60_000,
    connectTimeoutMS: 15_000,
    appName: "regsweep",
  });
  const close = () => void client.close(true).catch(() => {});
  signal?.addEventListener("abort", close, { once: true });
  try {
    await client.connect();
    return await work(client.db(database));
  } catch (error) {
    if (signal?.aborted || error instanceof AbortedError) throw error;
    if (error instanceof UsageSourceError) throw error;
    // The driver's messages can carry the connection string's host, never its password.
    throw new UsageSourceError(
      name,
      `${oneLine(redact((error as Error).message, uri))} — check the URI (uriEnv), the network and the database user's access`,
      { cause: error },
    );
  } finally {
    signal?.removeEventListener("abort", close);
    await client.close(true).catch(() => {});
  }
}

/** The references one document names under a query's image spec. */
export function referencesOf(
  doc: Record<string, unknown>,
  query: MongoQuery,
  options: { readonly registry?: string; readonly database: string },
  sourceName: string,
): Usage[] {
  const id = doc._id === undefined ? "?" : String(doc._id);
  const where = `${sourceName.startsWith("mongodb") ? sourceName : `mongodb ${sourceName}`} ${options.database}.${query.collection} ${id}`;
  const spec = typeof query.image === "string" ? { reference: query.image } : query.image;
  const raws: string[] = [];
  if (spec.reference) {
    for (const v of valuesAt(doc, spec.reference)) {
      const text = nameValue(v);
      if (text) raws.push(text);
    }
  } else {
    const fields = [spec.repository, spec.tag, spec.digest].filter((f): f is string => Boolean(f));
    const { contexts, rests } = commonContexts(doc, fields);
    const restOf = (path: string | undefined) => (path ? rests[fields.indexOf(path)] : undefined);
    for (const context of contexts) {
      const repositories = spec.repository
        ? valuesAt(context, restOf(spec.repository) as string)
            .map(nameValue)
            .filter((v): v is string => !!v)
        : [""];
      const tags = spec.tag
        ? valuesAt(context, restOf(spec.tag) as string)
            .map(nameValue)
            .filter((v): v is string => !!v)
        : [];
      const digests = spec.digest
        ? valuesAt(context, restOf(spec.digest) as string)
            .map(nameValue)
            .filter((v): v is string => !!v)
        : [];
      for (const repository of repositories) {
        const repo = `${spec.repositoryPrefix ?? ""}${spec.repositoryPrefix && repository ? "/" : ""}${repository}`;
        if (!repo) continue;
        for (const tag of tags) raws.push(`${repo}:${tag}`);
        for (const digest of digests) raws.push(`${repo}@${digest}`);
      }
    }
  }
  const owner =
    typeof query.image === "string" || !query.image.owner
      ? undefined
      : nameValue(valuesAt(doc, query.image.owner)[0]);
  const usages: Usage[] = [];
  for (const raw of new Set(raws)) {
    const full = options.registry && !namesAHost(raw) ? `${options.registry}/${raw}` : raw;
    try {
      usages.push({ reference: parseReference(full), raw: full, source: where, ...(owner ? { owner } : {}) });
    } catch (error) {
      if (!(error instanceof InvalidReferenceError)) throw error;
      // A record whose image name cannot be read keeps nothing safe by being skipped silently.
      throw new UsageSourceError(
        sourceName,
        `${options.database}.${query.collection} ${id}: ${error.message}`,
      );
    }
  }
  return usages;
}

/** Docker's rule: the first component names a host when it has a dot or a colon, or is localhost. */
export function namesAHost(reference: string): boolean {
  const first = reference.split("/")[0] ?? "";
  return reference.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
}

export function hostOf(uri: string): string {
  const m = /^mongodb(?:\+srv)?:\/\/(?:[^@/]*@)?([^/?]+)/.exec(uri);
  return m?.[1] ?? "(mongodb)";
}

/** The URI's credentials, should a message quote it. */
function redact(message: string, uri: string): string {
  const credentials = /^mongodb(?:\+srv)?:\/\/([^@/]*)@/.exec(uri)?.[1];
  let out = message.split(uri).join(uri.replace(credentials ?? "\u0000", "***"));
  if (credentials) out = out.split(credentials).join("***");
  return out;
}

function oneLine(text: string): string {
  return text.split("\n")[0] ?? text;
}

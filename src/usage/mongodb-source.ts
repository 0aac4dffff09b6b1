import type { MongoQuery } from "../config/config-schema.js";
import { AbortedError, UsageSourceError } from "../errors.js";
import { InvalidReferenceError, parseReference } from "../oci/reference.js";
import { commonContexts, nameValue, valuesAt } from "./mongo-fields.js";
import type { Usage, UsageSource } from "./usage.js";

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
  const host = hostOf(options.uri);
  const name = options.label ?? `mongodb ${host}/${options.database}`;
  return {
    name,
    optional: options.optional ?? false,
    async load(signal) {
      const { MongoClient } = await import("mongodb");
      const client = new MongoClient(options.uri, {
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
        const db = client.db(options.database);
        const usages: Usage[] = [];
        for (const query of options.queries) {
          if (signal?.aborted) throw new AbortedError(`${name}: cancelled`);
          const collection = db.collection(query.collection);
          const cursor = query.pipeline
            ? collection.aggregate(query.pipeline as object[], { batchSize: 1000 })
            : collection.find(query.filter ?? {}, { batchSize: 1000 });
          for await (const doc of cursor) usages.push(...referencesOf(doc, query, options, name));
        }
        return usages;
      } catch (error) {
        if (signal?.aborted || error instanceof AbortedError) throw error;
        // The driver's messages can carry the connection string's host, never its password.
        throw new UsageSourceError(
          name,
          `${oneLine(redact((error as Error).message, options.uri))} — check the URI (uriEnv), the network and the database user's read access`,
          { cause: error },
        );
      } finally {
        signal?.removeEventListener("abort", close);
        await client.close(true).catch(() => {});
      }
    },
  };
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
function namesAHost(reference: string): boolean {
  const first = reference.split("/")[0] ?? "";
  return reference.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
}

function hostOf(uri: string): string {
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

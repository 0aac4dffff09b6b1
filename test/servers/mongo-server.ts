/**
 * A small MongoDB server for tests, spoken to by the official `mongodb` driver over the real wire
 * protocol (no server can be installed here: Debian ships none and memory-server packages download
 * binaries at run time). Queries, projections, sorts, aggregation pipelines and update operators
 * are evaluated by mingo; framing is bson (test/servers/mongo/wire.ts).
 *
 * Deliberately like a real standalone mongod (wire version 21, i.e. 7.0):
 * - the first handshake comes as legacy OP_QUERY `isMaster` and is answered with OP_REPLY; the
 *   rest is OP_MSG (kind-1 document sequences are folded into the command body);
 * - cursors are real: `find`/`aggregate` return a first batch (default 101) and keep the rest
 *   server-side for `getMore`, paged by `batchSize`; an unknown cursor is error 43 CursorNotFound;
 * - ObjectIds match only ObjectIds, never their hex strings; Dates compare as dates;
 * - with a username, SCRAM-SHA-256 and SCRAM-SHA-1 users live in the `admin` database (the
 *   driver's default authSource); commands before authentication fail with 13 Unauthorized, a
 *   wrong password with 18 AuthenticationFailed;
 * - unknown commands fail with 59 CommandNotFound; query errors with 2 BadValue.
 * Not served: compression, TLS, transactions, $clusterTime gossip, `topologyVersion` (so the
 * driver's monitor polls instead of streaming), indexes, write concerns (always acknowledged).
 *
 * Hang mode answers the handshake (hello/isMaster and SASL authentication) but never any other
 * command, to test that a client times out; the unanswered commands are still recorded.
 */
import { createServer, type Socket } from "node:net";
import { Binary, type Document, deserialize, Long, ObjectId, serialize } from "bson";
import { Aggregator, find } from "mingo";
import type { AnyObject, Options } from "mingo/types";
import { updateMany, updateOne } from "mingo/updater";
import { ScramConversation, type ScramMechanism } from "./mongo/scram.js";
import { encodeReply, MessageReader, parseRequest, type Request } from "./mongo/wire.js";

export interface MongoServerOptions {
  /** Initial contents: database → collection → documents (copied through BSON, so types survive). */
  databases?: Record<string, Record<string, object[]>>;
  /** With username and password, clients must authenticate (SCRAM, authSource admin). */
  username?: string;
  password?: string;
  /** Start in hang mode (see setHang). */
  hang?: boolean;
}

export interface SeenCommand {
  db: string;
  name: string;
  body: Document;
}

export interface MongoServer {
  /** mongodb://[user:pass@]127.0.0.1:PORT/?directConnection=true */
  uri: string;
  host: string;
  port: number;
  /** The live documents of a collection (created empty when absent); changes show in queries. */
  data(db: string, collection: string): Document[];
  /** Every command received, in order, handshake included. */
  commands: SeenCommand[];
  /** On: answer only the handshake and authentication, leave every other command unanswered. */
  setHang(on: boolean): void;
  stop(): Promise<void>;
}

const MAX_BSON_OBJECT_SIZE = 16 * 1024 * 1024;
const DEFAULT_FIRST_BATCH = 101;
const HANDSHAKE = new Set(["hello", "isMaster", "ismaster", "saslStart", "saslContinue"]);
const NO_AUTH_NEEDED = new Set([...HANDSHAKE, "ping", "buildInfo", "buildinfo"]);

class CommandError extends Error {
  constructor(
    readonly code: number,
    readonly codeName: string,
    message: string,
  ) {
    super(message);
  }
}

interface ServerCursor {
  ns: string;
  docs: Document[];
  position: number;
}

interface ConnectionState {
  id: number;
  authenticated: boolean;
  conversation?: ScramConversation;
}

export async function startMongoServer(options: MongoServerOptions = {}): Promise<MongoServer> {
  const databases = new Map<string, Map<string, Document[]>>();
  const collection = (db: string, name: string): Document[] => {
    let colls = databases.get(db);
    if (!colls) {
      colls = new Map();
      databases.set(db, colls);
    }
    let docs = colls.get(name);
    if (!docs) {
      docs = [];
      colls.set(name, docs);
    }
    return docs;
  };
  for (const [db, colls] of Object.entries(options.databases ?? {})) {
    for (const [name, docs] of Object.entries(colls)) {
      collection(db, name).push(...docs.map((d) => deserialize(serialize(d))));
    }
  }

  const commands: SeenCommand[] = [];
  const cursors = new Map<string, ServerCursor>();
  let nextCursorId = 1_000_000 + Math.floor(Math.random() * 1_000_000);
  let nextConnectionId = 1;
  let hang = options.hang ?? false;
  const auth = options.username !== undefined && options.password !== undefined;

  const mingoOptions = (db: string): Partial<Options> => ({
    collectionResolver: (name: string) => collection(db, name) as AnyObject[],
  });

  const openCursor = (ns: string, docs: Document[], firstBatchSize: number | undefined, single: boolean) => {
    const size = firstBatchSize ?? DEFAULT_FIRST_BATCH;
    const firstBatch = docs.slice(0, size);
    let id = 0;
    if (!single && docs.length > size) {
      id = nextCursorId++;
      cursors.set(String(id), { ns, docs, position: size });
    }
    return { cursor: { firstBatch, id: Long.fromNumber(id), ns }, ok: 1 };
  };

  const hello = (name: string, body: Document, conn: ConnectionState): Document => {
    const reply: Document = {
      helloOk: true,
      [name === "hello" ? "isWritablePrimary" : "ismaster"]: true,
      maxBsonObjectSize: MAX_BSON_OBJECT_SIZE,
      maxMessageSizeBytes: 48_000_000,
      maxWriteBatchSize: 100_000,
      localTime: new Date(),
      logicalSessionTimeoutMinutes: 30,
      connectionId: conn.id,
      minWireVersion: 0,
      maxWireVersion: 21,
      readOnly: false,
    };
    if (auth && body.saslSupportedMechs === `admin.${options.username}`) {
      reply.saslSupportedMechs = ["SCRAM-SHA-1", "SCRAM-SHA-256"];
    }
    return { ...reply, ok: 1 };
  };

  const authFailed = () => new CommandError(18, "AuthenticationFailed", "Authentication failed.");

  const run = (req: Request, name: string, conn: ConnectionState): Document => {
    const { body, db } = req;
    if (auth && !conn.authenticated && !NO_AUTH_NEEDED.has(name)) {
      throw new CommandError(13, "Unauthorized", `Command ${name} requires authentication`);
    }
    switch (name) {
      case "hello":
      case "isMaster":
      case "ismaster":
        return hello(name, body, conn);
      case "ping":
      case "endSessions":
        return { ok: 1 };
      case "buildInfo":
      case "buildinfo":
        return {
          version: "7.0.0",
          versionArray: [7, 0, 0, 0],
          bits: 64,
          maxBsonObjectSize: MAX_BSON_OBJECT_SIZE,
          ok: 1,
        };
      case "saslStart": {
        const mechanism = body.mechanism as ScramMechanism;
        if (!auth || db !== "admin" || (mechanism !== "SCRAM-SHA-256" && mechanism !== "SCRAM-SHA-1")) {
          throw authFailed();
        }
        const conversation = new ScramConversation(mechanism, options.username ?? "", options.password ?? "");
        const serverFirst = conversation.start(payloadText(body.payload));
        if (serverFirst === undefined) throw authFailed();
        conn.conversation = conversation;
        return { conversationId: 1, done: false, payload: new Binary(Buffer.from(serverFirst)), ok: 1 };
      }
      case "saslContinue": {
        const conversation = conn.conversation;
        conn.conversation = undefined;
        const serverFinal = conversation?.finish(payloadText(body.payload));
        if (serverFinal === undefined) throw authFailed();
        conn.authenticated = true;
        return { conversationId: 1, done: true, payload: new Binary(Buffer.from(serverFinal)), ok: 1 };
      }
      case "find": {
        const coll = String(body.find);
        let limit = Number(body.limit ?? 0);
        const single = body.singleBatch === true || limit < 0;
        limit = Math.abs(limit);
        let cursor = find(
          collection(db, coll) as AnyObject[],
          body.filter ?? {},
          body.projection,
          mingoOptions(db),
        );
        if (body.sort && Object.keys(body.sort).length > 0) cursor = cursor.sort(body.sort);
        if (body.skip) cursor = cursor.skip(Number(body.skip));
        if (limit > 0) cursor = cursor.limit(limit);
        const docs = cursor.all() as Document[];
        const batchSize = body.batchSize === undefined ? undefined : Number(body.batchSize);
        return openCursor(`${db}.${coll}`, docs, batchSize, single);
      }
      case "aggregate": {
        if (typeof body.aggregate !== "string") {
          throw new CommandError(
            59,
            "CommandNotFound",
            "collectionless aggregate is not supported by this test server",
          );
        }
        if (!Array.isArray(body.pipeline))
          throw new CommandError(14, "TypeMismatch", "'pipeline' option must be specified as an array");
        if (typeof body.cursor !== "object")
          throw new CommandError(
            9,
            "FailedToParse",
            "The 'cursor' option is required, except for aggregate with the explain argument",
          );
        const docs = new Aggregator(body.pipeline, mingoOptions(db)).run(
          collection(db, body.aggregate) as AnyObject[],
        );
        const batchSize = body.cursor.batchSize === undefined ? undefined : Number(body.cursor.batchSize);
        return openCursor(`${db}.${body.aggregate}`, docs as Document[], batchSize, false);
      }
      case "getMore": {
        const id = String(body.getMore);
        const cursor = cursors.get(id);
        if (!cursor) throw new CommandError(43, "CursorNotFound", `cursor id ${id} not found`);
        const size = body.batchSize ? Number(body.batchSize) : cursor.docs.length;
        const nextBatch = cursor.docs.slice(cursor.position, cursor.position + size);
        cursor.position += nextBatch.length;
        const done = cursor.position >= cursor.docs.length;
        if (done) cursors.delete(id);
        return { cursor: { nextBatch, id: done ? Long.ZERO : Long.fromString(id), ns: cursor.ns }, ok: 1 };
      }
      case "killCursors": {
        const ids = (body.cursors as unknown[]).map(String);
        const killed = ids.filter((id) => cursors.delete(id));
        const toLong = (list: string[]) => list.map((id) => Long.fromString(id));
        return {
          cursorsKilled: toLong(killed),
          cursorsNotFound: toLong(ids.filter((id) => !killed.includes(id))),
          cursorsAlive: [],
          cursorsUnknown: [],
          ok: 1,
        };
      }
      case "listCollections": {
        const infos = [...(databases.get(db)?.keys() ?? [])].map((collName) => ({
          name: collName,
          type: "collection",
          options: {},
          info: { readOnly: false },
        }));
        const docs = find(infos, body.filter ?? {}).all() as Document[];
        return openCursor(`${db}.$cmd.listCollections`, docs, body.cursor?.batchSize, false);
      }
      case "listDatabases":
        return {
          databases: [...databases.keys()].map((n) => ({ name: n, sizeOnDisk: 0, empty: false })),
          totalSize: 0,
          ok: 1,
        };
      case "count": {
        let cursor = find(
          collection(db, String(body.count)) as AnyObject[],
          body.query ?? {},
          undefined,
          mingoOptions(db),
        );
        if (body.skip) cursor = cursor.skip(Number(body.skip));
        if (body.limit) cursor = cursor.limit(Math.abs(Number(body.limit)));
        return { n: cursor.all().length, ok: 1 };
      }
      case "insert": {
        const docs = collection(db, String(body.insert));
        const input = (body.documents ?? []) as Document[];
        for (const doc of input) docs.push(doc._id === undefined ? { _id: new ObjectId(), ...doc } : doc);
        return { n: input.length, ok: 1 };
      }
      case "update":
        return runUpdates(
          collection(db, String(body.update)),
          (body.updates ?? []) as Document[],
          mingoOptions(db),
        );
      case "delete": {
        const docs = collection(db, String(body.delete));
        let n = 0;
        for (const spec of (body.deletes ?? []) as Document[]) {
          const matches = find(docs as AnyObject[], spec.q ?? {}, undefined, mingoOptions(db)).all();
          const victims = new Set(Number(spec.limit) === 1 ? matches.slice(0, 1) : matches);
          for (let i = docs.length - 1; i >= 0; i--) {
            if (victims.has(docs[i] as AnyObject)) docs.splice(i, 1);
          }
          n += victims.size;
        }
        return { n, ok: 1 };
      }
      default:
        throw new CommandError(59, "CommandNotFound", `no such command: '${name}'`);
    }
  };

  const handle = (socket: Socket, conn: ConnectionState, message: Buffer) => {
    const req = parseRequest(message);
    const name = Object.keys(req.body)[0] ?? "";
    commands.push({ db: req.db, name, body: req.body });
    if (hang && !HANDSHAKE.has(name)) return;
    let reply: Document;
    try {
      reply = run(req, name, conn);
    } catch (error) {
      reply =
        error instanceof CommandError
          ? { ok: 0, errmsg: error.message, code: error.code, codeName: error.codeName }
          : { ok: 0, errmsg: (error as Error).message, code: 2, codeName: "BadValue" };
    }
    if (!req.noReply) socket.write(encodeReply(req, reply));
  };

  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    const conn: ConnectionState = { id: nextConnectionId++, authenticated: false };
    const reader = new MessageReader();
    socket.on("data", (chunk: Buffer) => {
      try {
        for (const message of reader.push(chunk)) handle(socket, conn, message);
      } catch {
        // A frame we cannot parse: a real server drops the connection too.
        socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string")
    throw new Error("mongo test server has no TCP address");
  const host = "127.0.0.1";
  const port = address.port;
  const credentials = auth
    ? `${encodeURIComponent(options.username ?? "")}:${encodeURIComponent(options.password ?? "")}@`
    : "";

  return {
    uri: `mongodb://${credentials}${host}:${port}/?directConnection=true`,
    host,
    port,
    data: collection,
    commands,
    setHang(on: boolean) {
      hang = on;
    },
    stop() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function payloadText(payload: unknown): string {
  if (payload instanceof Binary) return Buffer.from(payload.buffer).toString("utf8");
  if (payload instanceof Uint8Array) return Buffer.from(payload).toString("utf8");
  return String(payload ?? "");
}

/** Applies an `update` command's statements the way mongod counts them: n matched, nModified changed. */
function runUpdates(docs: Document[], updates: Document[], options: Partial<Options>): Document {
  let n = 0;
  let nModified = 0;
  const upserted: Document[] = [];
  updates.forEach((spec, index) => {
    const q = (spec.q ?? {}) as AnyObject;
    const u = spec.u as AnyObject | AnyObject[];
    const config = spec.arrayFilters ? { arrayFilters: spec.arrayFilters as AnyObject[] } : {};
    const isReplacement = !Array.isArray(u) && Object.keys(u).every((k) => !k.startsWith("$"));
    let matched = 0;
    if (isReplacement) {
      const target = find(docs as AnyObject[], q, undefined, options).all()[0];
      if (target) {
        matched = 1;
        const i = docs.indexOf(target as Document);
        const replacement = { _id: target._id, ...u };
        const changed = !Buffer.from(serialize(target)).equals(Buffer.from(serialize(replacement)));
        docs[i] = replacement;
        if (changed) nModified += 1;
      }
    } else {
      const result = spec.multi
        ? updateMany(docs as AnyObject[], q, u as never, config, options)
        : updateOne(docs as AnyObject[], q, u as never, config, options);
      matched = result.matchedCount;
      nModified += result.modifiedCount;
    }
    n += matched;
    if (matched === 0 && spec.upsert === true) {
      // The new document starts from the filter's plain equality fields, as mongod's does.
      const base: AnyObject = {};
      for (const [k, v] of Object.entries(q)) {
        if (
          !k.startsWith("$") &&
          !k.includes(".") &&
          !(v && typeof v === "object" && Object.keys(v).some((o) => o.startsWith("$")))
        ) {
          base[k] = v;
        }
      }
      const doc: AnyObject = isReplacement ? { ...u } : base;
      if (doc._id === undefined) doc._id = base._id ?? new ObjectId();
      const fresh = [doc];
      if (!isReplacement) updateOne(fresh, {}, u as never, config, options);
      docs.push(fresh[0] as Document);
      upserted.push({ index, _id: doc._id });
      n += 1;
    }
  });
  return upserted.length > 0 ? { n, nModified, upserted, ok: 1 } : { n, nModified, ok: 1 };
}

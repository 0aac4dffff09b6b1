import { connect as connectTcp } from "node:net";
import { deserialize, ObjectId as ServerObjectId, serialize } from "bson";
import { MongoClient, MongoServerError, ObjectId } from "mongodb";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type MongoServer, startMongoServer } from "./mongo-server.js";

const fast = { serverSelectionTimeoutMS: 2000 };

const releaseIds: [ObjectId, ObjectId, ObjectId] = [new ObjectId(), new ObjectId(), new ObjectId()];
const images = [
  {
    _id: 1,
    repo: "team-a/api",
    tag: "1.0",
    pushed: new Date("2024-01-01T00:00:00Z"),
    release: releaseIds[0],
  },
  {
    _id: 2,
    repo: "team-a/api",
    tag: "1.1",
    pushed: new Date("2024-02-01T00:00:00Z"),
    release: releaseIds[1],
  },
  {
    _id: 3,
    repo: "team-a/web",
    tag: "2.0",
    pushed: new Date("2024-03-01T00:00:00Z"),
    release: releaseIds[2],
  },
  { _id: 4, repo: "team-b/job", tag: "0.9", pushed: new Date("2024-04-01T00:00:00Z") },
  { _id: 5, repo: "team-b/job", tag: "1.0", pushed: new Date("2024-05-01T00:00:00Z") },
];
const releases = releaseIds.map((_id, i) => ({ _id, name: `release-${i}`, approved: i !== 1 }));

describe("MongoDB test server, driven by the official driver", () => {
  let server: MongoServer;
  let client: MongoClient;

  beforeAll(async () => {
    server = await startMongoServer({ databases: { platform: { images, releases } } });
    client = new MongoClient(server.uri, fast);
    await client.connect();
  });
  afterAll(async () => {
    await client.close();
    await server.stop();
  });

  it("answers the handshake as a standalone server and pings", async () => {
    expect(await client.db("admin").command({ ping: 1 })).toEqual({ ok: 1 });
    const hello = await client.db("admin").command({ hello: 1 });
    expect(hello).toMatchObject({ isWritablePrimary: true, maxWireVersion: 21, ok: 1 });
    // The driver opens with the legacy OP_QUERY spelling before it knows the server speaks OP_MSG.
    expect(server.commands[0]?.name).toBe("ismaster");
  });

  it("finds with filter, projection, sort and limit", async () => {
    const found = await client
      .db("platform")
      .collection("images")
      .find({ repo: { $regex: "^team-a/" } }, { projection: { _id: 0, tag: 1 } })
      .sort({ pushed: -1 })
      .limit(2)
      .toArray();
    expect(found).toEqual([{ tag: "2.0" }, { tag: "1.1" }]);
  });

  it("pages a cursor with getMore when the batch is smaller than the result", async () => {
    const before = server.commands.length;
    const cursor = client.db("platform").collection("images").find({}, { batchSize: 2 }).sort({ _id: 1 });
    const ids = (await cursor.toArray()).map((d) => d._id);
    expect(ids).toEqual([1, 2, 3, 4, 5]);
    const seen = server.commands.slice(before).map((c) => c.name);
    expect(seen.filter((n) => n === "getMore")).toHaveLength(2);
    expect(seen).toContain("find");
  });

  it("kills a cursor the client abandons, and then forgets it", async () => {
    const cursor = client.db("platform").collection("images").find({}, { batchSize: 2 });
    await cursor.next();
    const id = cursor.id;
    await cursor.close();
    expect(server.commands.at(-1)?.name).toBe("killCursors");
    const error = await client
      .db("platform")
      .command({ getMore: id, collection: "images" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MongoServerError);
    expect((error as MongoServerError).code).toBe(43);
  });

  it("aggregates with $match, $lookup, $unwind and $project", async () => {
    const rows = await client
      .db("platform")
      .collection("images")
      .aggregate(
        [
          { $match: { release: { $exists: true } } },
          { $lookup: { from: "releases", localField: "release", foreignField: "_id", as: "rel" } },
          { $unwind: "$rel" },
          { $match: { "rel.approved": true } },
          { $project: { _id: 0, image: { $concat: ["$repo", ":", "$tag"] }, release: "$rel.name" } },
          { $sort: { image: 1 } },
        ],
        { batchSize: 1 },
      )
      .toArray();
    expect(rows).toEqual([
      { image: "team-a/api:1.0", release: "release-0" },
      { image: "team-a/web:2.0", release: "release-2" },
    ]);
  });

  it("matches ObjectIds by value, with $in, and never by their hex string", async () => {
    const coll = client.db("platform").collection("releases");
    const oneId = releaseIds[1];
    const copy = new ObjectId(oneId.toHexString());
    expect((await coll.findOne({ _id: copy }))?.name).toBe("release-1");
    const two = await coll.find({ _id: { $in: [releaseIds[0], releaseIds[2]] } }).toArray();
    expect(two.map((r) => r.name).sort()).toEqual(["release-0", "release-2"]);
    expect(two[0]?._id).toBeInstanceOf(ObjectId);
    expect(await coll.findOne({ _id: oneId.toHexString() as never })).toBeNull();
  });

  it("compares Dates with $lt and returns them as Dates", async () => {
    const old = await client
      .db("platform")
      .collection("images")
      .find({ pushed: { $lt: new Date("2024-02-15T00:00:00Z") } })
      .toArray();
    expect(old.map((d) => d._id)).toEqual([1, 2]);
    expect(old[0]?.pushed).toEqual(new Date("2024-01-01T00:00:00Z"));
  });

  it("rejects unknown commands with CommandNotFound", async () => {
    const error = await client
      .db("platform")
      .command({ frobnicate: 1 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MongoServerError);
    expect(error).toMatchObject({
      code: 59,
      codeName: "CommandNotFound",
      message: "no such command: 'frobnicate'",
    });
  });

  it("lists collections and counts documents", async () => {
    const names = (await client.db("platform").listCollections().toArray()).map((c) => c.name).sort();
    expect(names).toEqual(["images", "releases"]);
    expect(await client.db("platform").collection("images").countDocuments({ repo: "team-b/job" })).toBe(2);
  });
});

describe("MongoDB test server writes", () => {
  let server: MongoServer;
  let client: MongoClient;

  beforeAll(async () => {
    server = await startMongoServer({ databases: { platform: { images } } });
    client = new MongoClient(server.uri, fast);
  });
  afterAll(async () => {
    await client.close();
    await server.stop();
  });

  it("updates many with $set and counts matched and modified like mongod", async () => {
    const coll = client.db("platform").collection("images");
    const result = await coll.updateMany({ repo: "team-a/api" }, { $set: { keep: true } });
    expect(result).toMatchObject({ matchedCount: 2, modifiedCount: 2 });
    const again = await coll.updateMany({ repo: "team-a/api" }, { $set: { keep: true } });
    expect(again).toMatchObject({ matchedCount: 2, modifiedCount: 0 });
    expect(
      server
        .data("platform", "images")
        .filter((d) => d.keep === true)
        .map((d) => d._id),
    ).toEqual([1, 2]);
    const one = await coll.updateOne({ repo: "team-b/job" }, { $unset: { pushed: "" } });
    expect(one).toMatchObject({ matchedCount: 1, modifiedCount: 1 });
    expect(await coll.countDocuments({ pushed: { $exists: false } })).toBe(1);
  });

  it("deletes one or many and inserts", async () => {
    const coll = client.db("platform").collection("images");
    expect((await coll.deleteOne({ repo: "team-b/job" })).deletedCount).toBe(1);
    expect((await coll.deleteMany({ repo: { $in: ["team-a/api", "team-a/web"] } })).deletedCount).toBe(3);
    expect(server.data("platform", "images")).toHaveLength(1);
    await coll.insertOne({ repo: "team-c/new", tag: "1" });
    // data() holds the server's own bson values (the driver bundles its own bson build).
    expect(server.data("platform", "images")[1]?._id).toBeInstanceOf(ServerObjectId);
  });
});

describe("MongoDB test server authentication", () => {
  let server: MongoServer;
  const clients: MongoClient[] = [];
  const connect = (uri: string, extra: object = {}) => {
    const c = new MongoClient(uri, { ...fast, ...extra });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    server = await startMongoServer({
      username: "sweeper",
      password: "s3cr@t/pw",
      databases: { platform: { images } },
    });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await server.stop();
  });

  it("authenticates with SCRAM-SHA-256 and the right password", async () => {
    expect(server.uri).toMatch(
      /^mongodb:\/\/sweeper:s3cr%40t%2Fpw@127\.0\.0\.1:\d+\/\?directConnection=true$/,
    );
    const client = connect(server.uri);
    expect(await client.db("platform").collection("images").countDocuments()).toBe(5);
    const start = server.commands.find((c) => c.name === "saslStart");
    expect(start?.body.mechanism).toBe("SCRAM-SHA-256");
  });

  it("authenticates with SCRAM-SHA-1 when the client asks for it", async () => {
    const client = connect(server.uri, { authMechanism: "SCRAM-SHA-1" });
    expect(await client.db("platform").collection("images").countDocuments()).toBe(5);
  });

  it("fails a wrong password with AuthenticationFailed", async () => {
    const client = connect(server.uri.replace("s3cr%40t%2Fpw", "wrong"));
    const error = await client
      .db("platform")
      .collection("images")
      .findOne({})
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MongoServerError);
    expect(error).toMatchObject({
      code: 18,
      codeName: "AuthenticationFailed",
      message: "Authentication failed.",
    });
  });

  it("refuses commands from a client that did not authenticate", async () => {
    const client = connect(`mongodb://${server.host}:${server.port}/?directConnection=true`);
    const error = await client
      .db("platform")
      .collection("images")
      .findOne({})
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 13, codeName: "Unauthorized" });
  });
});

describe("MongoDB test server in hang mode", () => {
  it("answers the handshake but not the query, so the driver's socket timeout fires and the client closes", async () => {
    const server = await startMongoServer({ databases: { platform: { images } }, hang: true });
    // Driver v7 ignores timeoutMS (deprecated, "has no effect"); socketTimeoutMS is what bounds a hung server.
    const client = new MongoClient(server.uri, { ...fast, socketTimeoutMS: 200 });
    try {
      const error = await client
        .db("platform")
        .collection("images")
        .find({})
        .toArray()
        .catch((e: unknown) => e);
      expect((error as Error).name).toBe("MongoNetworkTimeoutError");
      expect(server.commands.map((c) => c.name)).toContain("find");
      expect(server.commands.some((c) => c.name === "ismaster")).toBe(true);
      server.setHang(false);
      expect(await client.db("platform").collection("images").countDocuments()).toBe(5);
      server.setHang(true);
      await expect(client.db("platform").command({ ping: 1 })).rejects.toThrow(/timed out/);
    } finally {
      await client.close();
      await server.stop();
    }
  });
});

/** One OP_MSG over a raw socket, for the framing the driver does not use against a 7.0 server. */
async function rawOpMsg(server: MongoServer, body: object, sequence: { id: string; docs: object[] }) {
  const docs = sequence.docs.map((d) => serialize(d));
  const name = Buffer.from(`${sequence.id}\0`);
  const seqSize = Buffer.alloc(4);
  seqSize.writeInt32LE(4 + name.length + docs.reduce((n, d) => n + d.length, 0));
  const sections = Buffer.concat([
    Buffer.from([0]),
    serialize(body),
    Buffer.from([1]),
    seqSize,
    name,
    ...docs,
    Buffer.alloc(4), // CRC-32C placeholder; checksumPresent says to skip it
  ]);
  const header = Buffer.alloc(20);
  header.writeInt32LE(20 + sections.length, 0);
  header.writeInt32LE(7, 4);
  header.writeInt32LE(2013, 12);
  header.writeUInt32LE(1, 16); // checksumPresent
  const socket = connectTcp(server.port, server.host);
  const chunks: Buffer[] = [];
  const reply = await new Promise<Buffer>((resolve, reject) => {
    socket.on("error", reject);
    socket.on("close", () => reject(new Error("server closed the connection without a reply")));
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      const all = Buffer.concat(chunks);
      if (all.length >= 4 && all.length >= all.readInt32LE(0)) resolve(all);
    });
    socket.write(Buffer.concat([header, sections]));
  });
  socket.destroy();
  expect(reply.readInt32LE(8)).toBe(7); // responseTo
  return deserialize(reply.subarray(21));
}

describe("MongoDB test server framing", () => {
  it("reads kind-1 document sequences and skips a checksum", async () => {
    const server = await startMongoServer();
    try {
      const reply = await rawOpMsg(
        server,
        { insert: "things", $db: "platform" },
        { id: "documents", docs: [{ _id: 1 }, { _id: 2 }] },
      );
      expect(reply).toEqual({ n: 2, ok: 1 });
      expect(server.data("platform", "things")).toEqual([{ _id: 1 }, { _id: 2 }]);
    } finally {
      await server.stop();
    }
  });
});

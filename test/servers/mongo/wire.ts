/**
 * MongoDB wire-protocol framing for the test server: the two request opcodes a driver sends
 * (OP_QUERY for the legacy first handshake, OP_MSG for everything after) and the two replies.
 * https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/
 */
import { type Document, deserialize, serialize } from "bson";

export const OP_REPLY = 1;
export const OP_QUERY = 2004;
export const OP_COMPRESSED = 2012;
export const OP_MSG = 2013;

const CHECKSUM_PRESENT = 1;
const MORE_TO_COME = 2;

export interface Request {
  requestId: number;
  opCode: number;
  /** Database the command runs in ($db for OP_MSG, the "db.$cmd" prefix for OP_QUERY). */
  db: string;
  /** The command, with kind-1 document sequences folded in under their identifiers. */
  body: Document;
  /** The client asked for no reply (OP_MSG moreToCome, i.e. unacknowledged writes). */
  noReply: boolean;
}

/** Splits a byte stream into whole messages; keeps a partial tail for the next chunk. */
export class MessageReader {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const messages: Buffer[] = [];
    while (this.pending.length >= 4) {
      const length = this.pending.readInt32LE(0);
      if (length < 16) throw new Error(`invalid message length ${length}`);
      if (this.pending.length < length) break;
      messages.push(this.pending.subarray(0, length));
      this.pending = this.pending.subarray(length);
    }
    return messages;
  }
}

export function parseRequest(message: Buffer): Request {
  const requestId = message.readInt32LE(4);
  const opCode = message.readInt32LE(12);
  if (opCode === OP_MSG) return parseOpMsg(message, requestId);
  if (opCode === OP_QUERY) return parseOpQuery(message, requestId);
  // Compression is never agreed (the hello reply lists no compressors), so OP_COMPRESSED is a client bug.
  throw new Error(`unsupported opCode ${opCode}`);
}

function parseOpMsg(message: Buffer, requestId: number): Request {
  const flags = message.readUInt32LE(16);
  const end = flags & CHECKSUM_PRESENT ? message.length - 4 : message.length;
  let offset = 20;
  let body: Document | undefined;
  const sequences: Record<string, Document[]> = {};
  while (offset < end) {
    const kind = message[offset];
    offset += 1;
    if (kind === 0) {
      const size = message.readInt32LE(offset);
      body = deserialize(message.subarray(offset, offset + size));
      offset += size;
    } else if (kind === 1) {
      const size = message.readInt32LE(offset);
      const sectionEnd = offset + size;
      const nameEnd = message.indexOf(0, offset + 4);
      const identifier = message.toString("utf8", offset + 4, nameEnd);
      let docOffset = nameEnd + 1;
      const docs: Document[] = [];
      while (docOffset < sectionEnd) {
        const docSize = message.readInt32LE(docOffset);
        docs.push(deserialize(message.subarray(docOffset, docOffset + docSize)));
        docOffset += docSize;
      }
      sequences[identifier] = docs;
      offset = sectionEnd;
    } else {
      throw new Error(`unknown OP_MSG section kind ${kind}`);
    }
  }
  if (body === undefined) throw new Error("OP_MSG without a body section");
  Object.assign(body, sequences);
  return {
    requestId,
    opCode: OP_MSG,
    db: typeof body.$db === "string" ? body.$db : "admin",
    body,
    noReply: (flags & MORE_TO_COME) !== 0,
  };
}

function parseOpQuery(message: Buffer, requestId: number): Request {
  const nameEnd = message.indexOf(0, 20);
  const collection = message.toString("utf8", 20, nameEnd);
  // Skip numberToSkip and numberToReturn: a command query always returns one document.
  const queryOffset = nameEnd + 1 + 8;
  const size = message.readInt32LE(queryOffset);
  let body = deserialize(message.subarray(queryOffset, queryOffset + size));
  // Drivers wrap commands that carry a read preference as {$query: cmd, $readPreference}.
  if (body.$query && typeof body.$query === "object") body = body.$query as Document;
  return { requestId, opCode: OP_QUERY, db: collection.split(".")[0] ?? "admin", body, noReply: false };
}

let nextRequestId = 1;

function header(length: number, responseTo: number, opCode: number): Buffer {
  const h = Buffer.alloc(16);
  h.writeInt32LE(length, 0);
  h.writeInt32LE(nextRequestId++, 4);
  h.writeInt32LE(responseTo, 8);
  h.writeInt32LE(opCode, 12);
  return h;
}

/** The reply to `request` in the opcode it came in: OP_MSG for OP_MSG, OP_REPLY for OP_QUERY. */
export function encodeReply(request: Request, reply: Document): Buffer {
  const doc = serialize(reply, { ignoreUndefined: true });
  if (request.opCode === OP_MSG) {
    const flags = Buffer.alloc(5); // flagBits 0, then section kind 0
    const length = 16 + flags.length + doc.length;
    return Buffer.concat([header(length, request.requestId, OP_MSG), flags, doc]);
  }
  const fields = Buffer.alloc(20);
  fields.writeInt32LE(0, 0); // responseFlags
  // cursorID (int64) and startingFrom stay 0: a command reply is a single document.
  fields.writeInt32LE(1, 16); // numberReturned
  const length = 16 + fields.length + doc.length;
  return Buffer.concat([header(length, request.requestId, OP_REPLY), fields, doc]);
}

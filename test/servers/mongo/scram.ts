/**
 * The server half of SCRAM (RFC 5802 / RFC 7677) as MongoDB runs it: saslStart carries the
 * client-first message, saslContinue the client-final with the proof; the server answers with
 * its signature and `done: true` (the driver then skips the empty third round trip).
 * SCRAM-SHA-1 hashes MongoDB's legacy password digest md5("user:mongo:password") instead of the
 * password itself. saslprep is approximated by NFKC normalisation (enough for test passwords).
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";

export type ScramMechanism = "SCRAM-SHA-1" | "SCRAM-SHA-256";

const ITERATIONS = 4096; // the driver refuses fewer

export class ScramConversation {
  private readonly hash: "sha1" | "sha256";
  private clientFirstBare = "";
  private serverFirst = "";
  private nonce = "";
  private readonly salt = randomBytes(16);

  constructor(
    readonly mechanism: ScramMechanism,
    private readonly username: string,
    private readonly password: string,
  ) {
    this.hash = mechanism === "SCRAM-SHA-1" ? "sha1" : "sha256";
  }

  /** Handles the client-first message; undefined when it is malformed or names another user. */
  start(clientFirst: string): string | undefined {
    const bare = clientFirst.replace(/^[nyp][^,]*,[^,]*,/, "");
    const fields = parseFields(bare);
    const user = fields.n?.replace(/=2C/g, ",").replace(/=3D/g, "=");
    if (user !== this.username || !fields.r) return undefined;
    this.clientFirstBare = bare;
    this.nonce = fields.r + randomBytes(18).toString("base64");
    this.serverFirst = `r=${this.nonce},s=${this.salt.toString("base64")},i=${ITERATIONS}`;
    return this.serverFirst;
  }

  /** Checks the client proof; returns the server-final message, or undefined when the proof is wrong. */
  finish(clientFinal: string): string | undefined {
    const withoutProof = clientFinal.replace(/,p=[^,]*$/, "");
    const fields = parseFields(clientFinal);
    if (fields.r !== this.nonce || !fields.p) return undefined;
    const secret =
      this.hash === "sha1"
        ? createHash("md5").update(`${this.username}:mongo:${this.password}`, "utf8").digest("hex")
        : this.password.normalize("NFKC");
    const salted = pbkdf2Sync(secret, this.salt, ITERATIONS, this.hash === "sha1" ? 20 : 32, this.hash);
    const clientKey = this.hmac(salted, "Client Key");
    const storedKey = createHash(this.hash).update(clientKey).digest();
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const clientSignature = this.hmac(storedKey, authMessage);
    const proof = Buffer.from(fields.p, "base64");
    if (proof.length !== clientSignature.length) return undefined;
    const claimedKey = Buffer.from(proof.map((byte, i) => byte ^ (clientSignature[i] ?? 0)));
    const claimedStored = createHash(this.hash).update(claimedKey).digest();
    if (!timingSafeEqual(claimedStored, storedKey)) return undefined;
    const serverKey = this.hmac(salted, "Server Key");
    return `v=${this.hmac(serverKey, authMessage).toString("base64")}`;
  }

  private hmac(key: Buffer, text: string): Buffer {
    return createHmac(this.hash, key).update(text, "utf8").digest();
  }
}

function parseFields(message: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const part of message.split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0) fields[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return fields;
}

import { describe, expect, it } from "vitest";
import { sha256Digest } from "../../src/oci/digest.js";
import { verifiedStream } from "../../src/oci/verified-stream.js";

const chunks = (...parts: string[]) => parts.map((p) => Buffer.from(p));

describe("verifiedStream", () => {
  const good = { digest: sha256Digest("hello world"), size: 11 };

  it("passes a correct blob through unchanged", async () => {
    const out: Buffer[] = [];
    for await (const c of verifiedStream(chunks("hello ", "wor", "ld"), good)) out.push(Buffer.from(c));
    expect(Buffer.concat(out).toString()).toBe("hello world");
  });

  it("never hands over the whole of a wrong blob: it fails before the last chunk", async () => {
    const out: Buffer[] = [];
    const run = async () => {
      for await (const c of verifiedStream(chunks("hello ", "wor", "LD"), good)) out.push(Buffer.from(c));
    };
    await expect(run()).rejects.toThrow(/corrupt/);
    expect(Buffer.concat(out).toString()).toBe("hello wor");
  });

  it("fails as soon as a blob runs long, and on a short one", async () => {
    await expect(
      (async () => {
        for await (const _ of verifiedStream(chunks("hello world!"), good));
      })(),
    ).rejects.toThrow(/longer/);
    await expect(
      (async () => {
        for await (const _ of verifiedStream(chunks("hello"), good));
      })(),
    ).rejects.toThrow(/5 bytes/);
  });
});

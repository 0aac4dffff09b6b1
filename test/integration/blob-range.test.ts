import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, inject, it } from "vitest";
import { resumableRead } from "../../src/apply/backup/resumable-read.js";
import { type Digest, sha256Digest } from "../../src/oci/digest.js";
import { verifiedStream } from "../../src/oci/verified-stream.js";
import { connect, uniqueRepo } from "./helpers.js";

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of stream) parts.push(chunk);
  return Buffer.concat(parts);
}

describe("reading a blob from an offset", () => {
  const url = inject("registryUrl");

  it("the registry answers a Range request with the rest of the blob", async () => {
    const { registry, transport } = connect(url);
    const repo = uniqueRepo("range");
    const blob = randomBytes(50_000);
    const digest = sha256Digest(blob);
    await registry.putBlob(repo, digest, blob);
    expect((await collect(await registry.openBlob(repo, digest, 12_345))).equals(blob.subarray(12_345))).toBe(
      true,
    );
    expect((await collect(await registry.openBlob(repo, digest))).equals(blob)).toBe(true);
    await transport.close();
  });

  it("a registry that ignores Range and sends the whole blob: the bytes already read are passed over", async () => {
    const blob = randomBytes(40_000);
    const digest = sha256Digest(blob);
    const ranges: (string | undefined)[] = [];
    const server = createServer((req, res) => {
      ranges.push(req.headers.range);
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": blob.byteLength });
      res.end(blob);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { registry, transport } = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const rest = await collect(await registry.openBlob("any", digest, 30_001));
      expect(rest.equals(blob.subarray(30_001))).toBe(true);
      expect(ranges).toEqual(["bytes=30001-"]);
    } finally {
      await transport.close();
      server.close();
    }
  });
});

describe("resumableRead", () => {
  const blob = randomBytes(10_000);
  const expected = { digest: sha256Digest(blob) as Digest, size: blob.byteLength };

  /** A source whose first `breaks` reads stop with an error after `span` bytes. */
  function flaky(breaks: number, span = 3000) {
    const offsets: number[] = [];
    const open = async (offset: number) => {
      offsets.push(offset);
      const broken = offsets.length <= breaks;
      return (async function* () {
        const end = broken ? Math.min(offset + span, blob.byteLength) : blob.byteLength;
        for (let at = offset; at < end; at += 1000) yield blob.subarray(at, Math.min(at + 1000, end));
        if (broken) throw new Error("other side closed");
      })();
    };
    return { open, offsets };
  }

  it("continues each break from the first byte not yet passed on; the whole blob verifies", async () => {
    const source = flaky(3);
    const body = await collect(verifiedStream(resumableRead(source.open, expected, "blob r@x"), expected));
    expect(body.equals(blob)).toBe(true);
    expect(source.offsets).toEqual([0, 3000, 6000, 9000]);
  });

  it("fails after three resumptions, naming the blob, how far it got and why", async () => {
    const source = flaky(4, 2000);
    await expect(collect(resumableRead(source.open, expected, "blob r@x"))).rejects.toThrow(
      /blob r@x: the transfer broke 4 times, the last at byte 8000 of 10000 \(other side closed\)/,
    );
  });
});

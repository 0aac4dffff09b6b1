import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { Digest } from "../../oci/digest.js";
import { blobPathOf, type HashedBlob, type LayoutFile, type StoredBlob } from "../../oci/image-layout.js";
import type { LayoutStore } from "./layout-store.js";

export interface S3Options {
  /** An S3-compatible endpoint (MinIO, Ceph, s3rver …); AWS itself when absent. */
  readonly s3Endpoint?: string;
  readonly s3ForcePathStyle?: boolean;
  readonly s3Region?: string;
}

const MIN_PART = 5 * 1024 * 1024; // S3's minimum part size
const MAX_PARTS = 10_000; // S3's maximum part count

/** Credentials come from the SDK's default chain (environment, profile, SSO, instance role …). */
export function createS3Client(options: S3Options): S3Client {
  const region =
    options.s3Region ??
    process.env.AWS_REGION ??
    process.env.AWS_DEFAULT_REGION ??
    // S3-compatible stores ignore the region, but the SDK refuses to sign without one.
    (options.s3Endpoint ? "us-east-1" : undefined);
  return new S3Client({
    ...(options.s3Endpoint ? { endpoint: options.s3Endpoint } : {}),
    ...(region ? { region } : {}),
    forcePathStyle: options.s3ForcePathStyle ?? false,
    // Every network call has a timeout; requestTimeout is per idle socket, so big uploads still work.
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000 },
    // Many S3-compatible stores reject the CRC trailers newer SDKs add by default. Integrity does
    // not depend on them: every blob is re-read and hashed after upload.
    ...(options.s3Endpoint
      ? { requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" }
      : {}),
  });
}

/** An OCI image layout under `s3://bucket/prefix/`. */
export class S3Store implements LayoutStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly prefix: string,
    readonly description: string,
  ) {}

  async statBlob(digest: Digest): Promise<StoredBlob | undefined> {
    const key = this.key(blobPathOf(digest));
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: head.ContentLength ?? -1, fingerprint: head.ETag ?? "" };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw this.failure("HeadObject", key, error);
    }
  }

  async writeBlob(digest: Digest, data: Uint8Array | AsyncIterable<Uint8Array>, size: number): Promise<void> {
    const key = this.key(blobPathOf(digest));
    try {
      // lib-storage sends one PutObject for small bodies and a multipart upload for big ones;
      // a failed multipart upload is aborted, so no partial object is ever visible under the key.
      await new Upload({
        client: this.client,
        params: {
          Bucket: this.bucket,
          Key: key,
          Body: data instanceof Uint8Array ? data : Readable.from(data),
          ContentType: "application/octet-stream",
        },
        partSize: Math.max(MIN_PART, Math.ceil(size / MAX_PARTS)),
        queueSize: 4,
        leavePartsOnError: false,
      }).done();
    } catch (error) {
      throw this.failure("upload", key, error);
    }
  }

  async hashBlob(digest: Digest): Promise<HashedBlob> {
    const key = this.key(blobPathOf(digest));
    try {
      const got = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const hash = createHash("sha256");
      let size = 0;
      for await (const chunk of got.Body as AsyncIterable<Uint8Array>) {
        hash.update(chunk);
        size += chunk.byteLength;
      }
      // The ETag of this very GET names the object version whose bytes were hashed.
      return { digest: `sha256:${hash.digest("hex")}` as Digest, size, fingerprint: got.ETag ?? "" };
    } catch (error) {
      throw this.failure("GetObject", key, error);
    }
  }

  async openBlob(digest: Digest): Promise<AsyncIterable<Uint8Array>> {
    const key = this.key(blobPathOf(digest));
    try {
      const got = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return got.Body as AsyncIterable<Uint8Array>;
    } catch (error) {
      throw this.failure("GetObject", key, error);
    }
  }

  async readBlob(digest: Digest): Promise<Buffer> {
    const key = this.key(blobPathOf(digest));
    const bytes = await this.get(key);
    if (!bytes) throw new Error(`${this.description}: blob ${digest} is missing`);
    return bytes;
  }

  readFile(name: LayoutFile): Promise<Buffer | undefined> {
    return this.get(this.key(name));
  }

  async writeFile(name: LayoutFile, bytes: Uint8Array): Promise<void> {
    const key = this.key(name);
    try {
      // A PutObject replaces the object atomically: readers see the old index or the new one.
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentType: "application/json" }),
      );
    } catch (error) {
      throw this.failure("PutObject", key, error);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private async get(key: string): Promise<Buffer | undefined> {
    try {
      const got = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return Buffer.from(
        await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
      );
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw this.failure("GetObject", key, error);
    }
  }

  private key(path: string): string {
    return this.prefix ? `${this.prefix}/${path}` : path;
  }

  private failure(what: string, key: string, error: unknown): Error {
    return new Error(`S3 ${what} s3://${this.bucket}/${key}: ${describeError(error)}`, { cause: error });
  }
}

function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === "NotFound" || e.name === "NoSuchKey" || e.$metadata?.httpStatusCode === 404;
}

/** SDK errors for refused connections are AggregateErrors with an empty message; say what happened. */
function describeError(error: unknown): string {
  const e = error as Error & { code?: string; errors?: Error[]; $metadata?: { httpStatusCode?: number } };
  const message = e.message || e.errors?.[0]?.message || e.code || String(error);
  const status = e.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : "";
  return `${e.name && e.name !== "Error" ? `${e.name}: ` : ""}${message}${status}`;
}

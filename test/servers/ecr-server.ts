/**
 * A small Amazon ECR API server for tests: the JSON 1.1 protocol the official
 * `@aws-sdk/client-ecr` speaks (`POST /`, `X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<Op>`,
 * `content-type: application/x-amz-json-1.1`), answering GetAuthorizationToken,
 * DescribeRepositories, DescribeImages and BatchDeleteImage in the documented shapes. /v2/ is
 * not here: it is the real registry, started with htpasswd `AWS:<the token's password>`.
 *
 * Deliberately like ECR:
 * - a request with no SigV4 `authorization` header is a 403 MissingAuthenticationTokenException;
 *   one signed with an access key it does not know a 400 UnrecognizedClientException (the
 *   signature itself is not checked);
 * - timestamps are epoch seconds; pages are cut at `maxResults` (or the server's page size) and
 *   continue with an opaque `nextToken`;
 * - an unknown repository is a 400 RepositoryNotFoundException; errors carry `__type` and
 *   `x-amzn-errortype`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

const TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921.";

export interface EcrImage {
  digest: string;
  tags: string[];
  /** Epoch milliseconds. */
  pushedAt: number;
  /** Epoch milliseconds; absent: never pulled (ECR omits the field). */
  lastPulledAt?: number;
  sizeBytes?: number;
  mediaType?: string;
}

export interface EcrServerOptions {
  /** The 12-digit account, the registryId of every answer. */
  account: string;
  /** The password GetAuthorizationToken hands out (user AWS), as the registry's htpasswd has it. */
  password: string;
  /** The registry URL answered as proxyEndpoint. */
  proxyEndpoint: string;
  /** Access key ids the server accepts (default: any). */
  accessKeyIds?: string[];
  /** Token lifetime (default 12 h). */
  tokenLifetimeMs?: number;
  /** At most this many entries a page, whatever maxResults asks (default 1000). */
  pageSize?: number;
  now?: () => number;
}

export interface EcrCall {
  operation: string;
  body: Record<string, unknown>;
  /** When the request arrived (performance.now(), milliseconds). */
  at: number;
}

export interface EcrServer {
  url: string;
  /** Images by repository name; tests add to and inspect it. */
  repositories: Map<string, EcrImage[]>;
  /** Every call answered or refused, in order. */
  calls: EcrCall[];
  /** Paging fault: every page of this operation links to the same nextToken (a loop). */
  repeatNextToken(operation: string | undefined): void;
  /** A hung API: requests of this operation are recorded and never answered (until stop). */
  hold(operation: string | undefined): void;
  stop(): Promise<void>;
}

export async function startEcrServer(options: EcrServerOptions): Promise<EcrServer> {
  const repositories = new Map<string, EcrImage[]>();
  const calls: EcrCall[] = [];
  const now = options.now ?? Date.now;
  let looping: string | undefined;
  let holding: string | undefined;

  const answer = (res: ServerResponse, status: number, body: unknown, errorType?: string) => {
    res.writeHead(status, {
      "content-type": "application/x-amz-json-1.1",
      "x-amzn-requestid": `req-${calls.length}`,
      ...(errorType ? { "x-amzn-errortype": errorType } : {}),
    });
    res.end(JSON.stringify(body));
  };
  const fail = (res: ServerResponse, status: number, type: string, message: string) =>
    answer(res, status, { __type: type, message }, type);

  const page = <T>(items: T[], body: Record<string, unknown>, operation: string) => {
    const size = Math.min(Number(body.maxResults ?? 1000), options.pageSize ?? 1000);
    const start = typeof body.nextToken === "string" ? Number(body.nextToken.replace(/^page-/, "")) : 0;
    const slice = items.slice(start, start + size);
    const more = start + size < items.length;
    const nextToken = looping === operation ? "page-1" : more ? `page-${start + size}` : undefined;
    return { slice, nextToken };
  };

  const operations: Record<string, (body: Record<string, unknown>, res: ServerResponse) => void> = {
    GetAuthorizationToken: (_body, res) => {
      const expiresAt = (now() + (options.tokenLifetimeMs ?? 12 * 3_600_000)) / 1000;
      answer(res, 200, {
        authorizationData: [
          {
            authorizationToken: Buffer.from(`AWS:${options.password}`).toString("base64"),
            expiresAt,
            proxyEndpoint: options.proxyEndpoint,
          },
        ],
      });
    },
    DescribeRepositories: (body, res) => {
      const names = [...repositories.keys()].sort();
      const { slice, nextToken } = page(names, body, "DescribeRepositories");
      answer(res, 200, {
        repositories: slice.map((name) => ({
          registryId: options.account,
          repositoryName: name,
          repositoryArn: `arn:aws:ecr:eu-west-1:${options.account}:repository/${name}`,
          repositoryUri: `${new URL(options.proxyEndpoint).host}/${name}`,
          createdAt: now() / 1000,
          imageTagMutability: "MUTABLE",
          imageScanningConfiguration: { scanOnPush: false },
          encryptionConfiguration: { encryptionType: "AES256" },
        })),
        ...(nextToken ? { nextToken } : {}),
      });
    },
    DescribeImages: (body, res) => {
      const name = String(body.repositoryName);
      const images = repositories.get(name);
      if (!images) {
        fail(
          res,
          400,
          "RepositoryNotFoundException",
          `The repository with name '${name}' does not exist in the registry with id '${options.account}'`,
        );
        return;
      }
      const { slice, nextToken } = page(images, body, "DescribeImages");
      answer(res, 200, {
        imageDetails: slice.map((i) => ({
          registryId: options.account,
          repositoryName: name,
          imageDigest: i.digest,
          ...(i.tags.length > 0 ? { imageTags: i.tags } : {}),
          imageSizeInBytes: i.sizeBytes ?? 1000,
          imagePushedAt: i.pushedAt / 1000,
          imageManifestMediaType: i.mediaType ?? "application/vnd.oci.image.manifest.v1+json",
          ...(i.lastPulledAt !== undefined ? { lastRecordedPullTime: i.lastPulledAt / 1000 } : {}),
        })),
        ...(nextToken ? { nextToken } : {}),
      });
    },
    BatchDeleteImage: (body, res) => {
      const name = String(body.repositoryName);
      const images = repositories.get(name);
      if (!images) {
        fail(res, 400, "RepositoryNotFoundException", `The repository with name '${name}' does not exist`);
        return;
      }
      const imageIds: { imageDigest?: string; imageTag?: string }[] = [];
      const failures: unknown[] = [];
      for (const id of (body.imageIds ?? []) as { imageDigest?: string; imageTag?: string }[]) {
        const index = images.findIndex(
          (i) => i.digest === id.imageDigest || (id.imageTag !== undefined && i.tags.includes(id.imageTag)),
        );
        const image = images[index];
        if (!image) {
          failures.push({
            imageId: id,
            failureCode: "ImageNotFound",
            failureReason: "Requested image not found",
          });
          continue;
        }
        // As ECR does: removing a tag deletes the image only when it was the last tag.
        if (id.imageTag !== undefined && !id.imageDigest && image.tags.length > 1) {
          image.tags = image.tags.filter((t) => t !== id.imageTag);
        } else {
          images.splice(index, 1);
        }
        imageIds.push({ imageDigest: image.digest, ...(id.imageTag ? { imageTag: id.imageTag } : {}) });
      }
      answer(res, 200, { imageIds, failures });
    },
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const target = String(req.headers["x-amz-target"] ?? "");
      const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : "";
      let body: Record<string, unknown> = {};
      try {
        body = chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString("utf8")) as typeof body) : {};
      } catch {
        fail(res, 400, "SerializationException", "the request body is not JSON");
        return;
      }
      calls.push({ operation, body, at: performance.now() });
      if (operation === holding) return;
      const handler = operations[operation];
      if (req.method !== "POST" || req.url !== "/" || !handler) {
        fail(res, 400, "UnknownOperationException", `unknown operation ${target}`);
        return;
      }
      const authorization = String(req.headers.authorization ?? "");
      if (!authorization.startsWith("AWS4-HMAC-SHA256 ")) {
        fail(res, 403, "MissingAuthenticationTokenException", "Missing Authentication Token");
        return;
      }
      const key = /Credential=([^/]+)\//.exec(authorization)?.[1];
      if (options.accessKeyIds && (!key || !options.accessKeyIds.includes(key))) {
        fail(
          res,
          400,
          "UnrecognizedClientException",
          "The security token included in the request is invalid.",
        );
        return;
      }
      handler(body, res);
    });
  });
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    repositories,
    calls,
    repeatNextToken: (operation) => {
      looping = operation;
    },
    hold: (operation) => {
      holding = operation;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

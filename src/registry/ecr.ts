import {
  DescribeImagesCommand,
  type DescribeImagesCommandOutput,
  DescribeRepositoriesCommand,
  type DescribeRepositoriesCommandOutput,
  ECRClient,
  GetAuthorizationTokenCommand,
  type GetAuthorizationTokenCommandOutput,
} from "@aws-sdk/client-ecr";
import { z } from "zod";
import { RegistryError } from "../errors.js";
import { type Digest, isDigest } from "../oci/digest.js";
import type { RegistryLocation } from "../oci/reference.js";
import type { CredentialSource, Credentials } from "./auth.js";
import { type DistributionOptions, DistributionRegistry } from "./distribution.js";
import type { HttpTransport } from "./transport.js";
import type { RegistryMetadata } from "./types.js";

/** ECR's tokens last 12 hours; one is renewed this long before it expires, so none expires mid-request. */
export const ECR_TOKEN_RENEW_MS = 5 * 60_000;
/** 10,000 pages of 1,000: beyond that a listing is a loop, not a registry. */
const MAX_PAGES = 10_000;
const DEFAULT_TIMEOUT_MS = 30_000;

/** The calls regsweep makes, as the official client sends them (an ECRClient, or a test double of its send). */
export interface EcrApi {
  send(
    command: GetAuthorizationTokenCommand,
    options?: { abortSignal?: AbortSignal },
  ): Promise<GetAuthorizationTokenCommandOutput>;
  send(
    command: DescribeRepositoriesCommand,
    options?: { abortSignal?: AbortSignal },
  ): Promise<DescribeRepositoriesCommandOutput>;
  send(
    command: DescribeImagesCommand,
    options?: { abortSignal?: AbortSignal },
  ): Promise<DescribeImagesCommandOutput>;
}

export interface EcrClientOptions {
  /** From the host name, else the SDK's own (AWS_REGION, the profile). */
  readonly region?: string;
  /** The ECR API endpoint; absent: AWS's own, or AWS_ENDPOINT_URL_ECR. */
  readonly endpoint?: string;
  readonly timeoutMs?: number;
}

/** The official client, signed in through the AWS default credential chain (environment, profile, SSO, instance role). */
export function createEcrClient(options: EcrClientOptions = {}): ECRClient {
  const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new ECRClient({
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    requestHandler: { connectionTimeout: timeout, requestTimeout: timeout },
  });
}

export interface EcrOptions extends DistributionOptions {
  readonly client: EcrApi;
  /** The account the host name names; absent: the caller's own account. */
  readonly registryId?: string;
  /** Each ECR API call ends after this long (default 30 s). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly now?: () => number;
  /** The region the client signs for, as doctor reports it; absent: the client's own setting. */
  readonly region?: string;
}

/** What an identity needs for regsweep to list, read and delete in ECR. */
export const ECR_IAM_ACTIONS = [
  "ecr:GetAuthorizationToken",
  "ecr:DescribeRepositories",
  "ecr:DescribeImages",
  "ecr:BatchGetImage",
  "ecr:BatchDeleteImage",
] as const;

/** What doctor learns from ECR's API: the sign-in worked until when, and the repository list answered. */
export interface EcrCheck {
  readonly region: string | undefined;
  /** ISO time the GetAuthorizationToken token expires. */
  readonly tokenExpiresAt: string;
  /** Repositories DescribeRepositories listed, counted up to `limit`. */
  readonly repositories: number;
}

/** The run's one budget (concurrency, --rps), which ECR's API calls share with /v2/ requests. */
type Scheduler = Pick<HttpTransport, "schedule">;

const imageDetailSchema = z
  .object({
    imageDigest: z.string().refine(isDigest, "not a sha256 digest"),
    imageTags: z.array(z.string()).nullish(),
    imagePushedAt: z.date().optional(),
    lastRecordedPullTime: z.date().optional(),
  })
  .passthrough();

const repositorySchema = z.object({ repositoryName: z.string().min(1) }).passthrough();

const authorizationSchema = z.object({
  authorizationToken: z.string().min(1),
  expiresAt: z.date(),
});

/**
 * Amazon ECR: the distribution API for manifests, blobs and deletes, plus ECR's own API, where
 * `DescribeImages` describes a page of images at once (digest, tags, push time, last pull) —
 * untagged ones too, which the distribution API cannot list. `/v2/` is signed in with the token
 * `GetAuthorizationToken` gives (Basic `AWS:<password>`), renewed shortly before it expires.
 */
export class EcrRegistry extends DistributionRegistry {
  override readonly listsUntagged = true;
  private readonly metadata = new Map<string, Promise<RegistryMetadata>>();
  private readonly client: EcrApi;
  private readonly registryId: string | undefined;
  private readonly timeoutMs: number;
  private readonly ecrPageSize: number;
  private readonly ecrMaxPages: number;
  private readonly signal: AbortSignal | undefined;
  private readonly scheduler: Scheduler;
  private readonly givenRegion: string | undefined;
  private readonly getToken: () => Promise<GetAuthorizationTokenCommandOutput>;

  constructor(location: RegistryLocation, transport: HttpTransport, options: EcrOptions) {
    const getToken = () =>
      ecrCall(location.host, "GetAuthorizationToken", { ...options, scheduler: transport }, (abortSignal) =>
        // registryIds is deprecated: the token opens every registry the identity may use.
        options.client.send(new GetAuthorizationTokenCommand({}), { abortSignal }),
      );
    super(location, transport, {
      ...options,
      // A user name and password given (`aws ecr get-login-password`) win over the SDK's token.
      credentials: options.credentials ?? ecrTokenSource(getToken, location.host, options.now),
    });
    this.scheduler = transport;
    this.givenRegion = options.region;
    this.getToken = getToken;
    this.client = options.client;
    this.registryId = options.registryId;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.ecrPageSize = Math.min(1000, Math.max(1, options.pageSize ?? 1000));
    this.ecrMaxPages = options.maxPages ?? MAX_PAGES;
    this.signal = options.signal;
  }

  override withSignal(signal: AbortSignal): this {
    const view = super.withSignal(signal);
    Object.defineProperty(view, "signal", {
      value: this.signal ? AbortSignal.any([this.signal, signal]) : signal,
    });
    return view;
  }

  override async *repositories(): AsyncIterable<string> {
    const pages = this.pages("DescribeRepositories", "the ECR repository list", (nextToken, abortSignal) =>
      this.client
        .send(
          new DescribeRepositoriesCommand({
            ...this.registry(),
            maxResults: this.ecrPageSize,
            ...(nextToken ? { nextToken } : {}),
          }),
          { abortSignal },
        )
        .then((out) => ({ items: out.repositories ?? [], nextToken: out.nextToken })),
    );
    for await (const raw of pages)
      yield this.parse(repositorySchema, raw, "DescribeRepositories").repositoryName;
  }

  override async *untagged(repository: string): AsyncIterable<Digest> {
    for (const [digest, m] of await this.registryMetadata(repository)) if (m.tags.length === 0) yield digest;
  }

  /**
   * Every image of a repository as ECR describes it. Unlike ACR, ECR also lists the platform
   * manifests of a multi-platform index, untagged: the scan sees them as the index's children,
   * which the policy never selects on their own.
   */
  registryMetadata(repository: string): Promise<RegistryMetadata> {
    let pending = this.metadata.get(repository);
    if (!pending) {
      pending = this.describeImages(repository);
      this.metadata.set(repository, pending);
    }
    return pending;
  }

  private async describeImages(repository: string): Promise<RegistryMetadata> {
    const result = new Map<
      Digest,
      { created?: string; locked: boolean; tags: string[]; lastPulled?: string }
    >();
    const pages = this.pages(
      "DescribeImages",
      `the ECR image list of ${repository}`,
      (nextToken, abortSignal) =>
        this.client
          .send(
            new DescribeImagesCommand({
              ...this.registry(),
              repositoryName: repository,
              maxResults: this.ecrPageSize,
              ...(nextToken ? { nextToken } : {}),
            }),
            { abortSignal },
          )
          .then((out) => ({ items: out.imageDetails ?? [], nextToken: out.nextToken })),
    );
    try {
      for await (const raw of pages) {
        const image = this.parse(imageDetailSchema, raw, `DescribeImages of ${repository}`);
        const digest = image.imageDigest as Digest;
        const seen = result.get(digest);
        result.set(digest, {
          ...(image.imagePushedAt ? { created: image.imagePushedAt.toISOString() } : {}),
          // ECR has no per-image lock; tag immutability stops overwrites, not deletes.
          locked: false,
          tags: [...new Set([...(seen?.tags ?? []), ...(image.imageTags ?? [])])],
          ...(image.lastRecordedPullTime ? { lastPulled: image.lastRecordedPullTime.toISOString() } : {}),
        });
      }
    } catch (error) {
      // As a distribution registry answers 404 for a repository never pushed: nothing in it.
      if (error instanceof EcrRepositoryNotFound) return new Map();
      throw error;
    }
    return result;
  }

  private registry(): { registryId?: string } {
    return this.registryId ? { registryId: this.registryId } : {};
  }

  private parse<T>(schema: z.ZodType<T>, raw: unknown, what: string): T {
    const parsed = schema.safeParse(raw);
    if (parsed.success) return parsed.data;
    throw new RegistryError(
      `ECR ${what} for ${this.host} answered an entry regsweep cannot read (${parsed.error.issues[0]?.message ?? "malformed"}): nothing was deleted`,
      200,
      "http",
    );
  }

  /**
   * Follows `nextToken` page by page. A listing that cannot be completed — a token already
   * followed, more than the page bound — fails the run: a list taken as complete when it is not
   * hides images, and a hidden image can be an in-use one.
   */
  private async *pages<T>(
    operation: string,
    what: string,
    fetchPage: (
      nextToken: string | undefined,
      abortSignal: AbortSignal,
    ) => Promise<{ items: T[]; nextToken?: string | undefined }>,
  ): AsyncIterable<T> {
    const tokens = new Set<string>();
    let nextToken: string | undefined;
    for (let page = 1; ; page++) {
      if (page > this.ecrMaxPages) throw this.ecrIncomplete(what, `more than ${this.ecrMaxPages} pages`);
      const out = await ecrCall(
        this.host,
        operation,
        {
          timeoutMs: this.timeoutMs,
          scheduler: this.scheduler,
          ...(this.signal ? { signal: this.signal } : {}),
        },
        (abortSignal) => fetchPage(nextToken, abortSignal),
      );
      yield* out.items;
      if (!out.nextToken) return;
      if (tokens.has(out.nextToken))
        throw this.ecrIncomplete(what, "a nextToken came back that was already followed (a loop)");
      tokens.add(out.nextToken);
      nextToken = out.nextToken;
    }
  }

  /** The region calls are signed for: the one given, else the official client's own setting. */
  async region(): Promise<string | undefined> {
    if (this.givenRegion) return this.givenRegion;
    const config = (this.client as { config?: { region?: unknown } }).config;
    try {
      const region = typeof config?.region === "function" ? await config.region() : config?.region;
      return typeof region === "string" && region !== "" ? region : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * doctor's check of ECR's API: a token from GetAuthorizationToken and an answer from
   * DescribeRepositories. A missing or refused credential becomes one line naming the region and
   * every IAM action regsweep needs, since a policy missing one fails later, mid-run.
   */
  async check(limit = 1000): Promise<EcrCheck> {
    const region = await this.region();
    try {
      const out = await this.getToken();
      const expiresAt = authorizationSchema.safeParse(out.authorizationData?.[0]);
      if (!expiresAt.success)
        throw new RegistryError(
          `ECR GetAuthorizationToken for ${this.host} answered no usable token (expected base64 "AWS:<password>" and expiresAt): check the ECR endpoint`,
          200,
          "unauthorized",
        );
      let repositories = 0;
      for await (const _ of this.repositories()) if (++repositories >= limit) break;
      return { region, tokenExpiresAt: expiresAt.data.expiresAt.toISOString(), repositories };
    } catch (error) {
      if (error instanceof EcrAccessError) {
        const where = region ? `in region ${region}` : "with no region set (AWS_REGION)";
        throw new RegistryError(
          `ECR ${error.operation} for ${this.host} ${where}: ${error.missingCredentials ? "no AWS credentials" : "refused"} (${error.detail}) — the AWS identity needs ${ECR_IAM_ACTIONS.join(", ")}${error.missingCredentials ? "; set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run aws sso login" : " (check it with aws sts get-caller-identity)"}`,
          error.status,
          error.code,
        );
      }
      throw error;
    }
  }

  private ecrIncomplete(what: string, why: string): RegistryError {
    return new RegistryError(
      `${what} on ${this.host} cannot be completed: ${why} — ECR's paging is broken, so the run stops rather than take a partial list as complete`,
      undefined,
      "incomplete-listing",
    );
  }
}

class EcrRepositoryNotFound extends RegistryError {}

/** ECR refused the identity, or there was none: which call, and what the SDK said. */
class EcrAccessError extends RegistryError {
  constructor(
    message: string,
    status: number,
    code: "unauthorized" | "denied",
    readonly operation: string,
    readonly detail: string,
    readonly missingCredentials: boolean,
  ) {
    super(message, status, code);
  }
}

/**
 * Basic credentials from `GetAuthorizationToken`, kept until ECR_TOKEN_RENEW_MS before they
 * expire; concurrent requests share one pending call.
 */
export function ecrTokenSource(
  getToken: () => Promise<GetAuthorizationTokenCommandOutput>,
  host: string,
  now: () => number = Date.now,
): CredentialSource {
  let current: Promise<{ credentials: Credentials; expiresAt: number }> | undefined;
  const fetchToken = async () => {
    const out = await getToken();
    const data = authorizationSchema.safeParse(out.authorizationData?.[0]);
    const decoded = data.success ? Buffer.from(data.data.authorizationToken, "base64").toString("utf8") : "";
    const colon = decoded.indexOf(":");
    if (!data.success || colon <= 0) {
      throw new RegistryError(
        `ECR GetAuthorizationToken for ${host} answered no usable token (expected base64 "AWS:<password>" and expiresAt): check the ECR endpoint`,
        200,
        "unauthorized",
      );
    }
    return {
      credentials: { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) },
      expiresAt: data.data.expiresAt.getTime(),
    };
  };
  return async () => {
    const held = await current?.catch(() => undefined);
    if (held && held.expiresAt - ECR_TOKEN_RENEW_MS > now()) return held.credentials;
    current = fetchToken();
    return (await current).credentials;
  };
}

/**
 * One ECR API call with the run's signal and a timeout; the SDK's errors become one line that
 * names the registry and the call and says what to do.
 */
async function ecrCall<T>(
  host: string,
  operation: string,
  options: { readonly timeoutMs?: number; readonly signal?: AbortSignal; readonly scheduler: Scheduler },
  send: (abortSignal: AbortSignal) => Promise<T>,
): Promise<T> {
  let timeout: AbortSignal | undefined;
  try {
    return await options.scheduler.schedule(`ECR ${operation} for ${host}`, (stopped) => {
      // Started in the slot: a call waiting for the --rps budget is not timing out meanwhile.
      timeout = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      return send(AbortSignal.any([stopped, timeout, ...(options.signal ? [options.signal] : [])]));
    });
  } catch (error) {
    if (error instanceof RegistryError) throw error;
    if (options.signal?.aborted) throw error;
    const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode;
    const detail = `${e.name ?? "Error"}${e.message ? `: ${e.message}` : ""}`;
    if (e.name === "RepositoryNotFoundException") throw new EcrRepositoryNotFound(detail, 400, "http");
    if (timeout?.aborted) {
      const ms = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      throw new RegistryError(
        `ECR ${operation} for ${host} got no answer within ${ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`}: check the network, or raise --timeout`,
        undefined,
        "http",
      );
    }
    if (e.name === "CredentialsProviderError" || /credential/i.test(e.name ?? "")) {
      throw new EcrAccessError(
        `ECR ${operation} for ${host}: no AWS credentials (${detail}) — set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, run aws sso login, or run where an instance or task role applies`,
        401,
        "unauthorized",
        operation,
        detail,
        true,
      );
    }
    if (/region/i.test(detail) && !status) {
      throw new RegistryError(
        `ECR ${operation} for ${host}: ${detail} — use the registry's host name (<account>.dkr.ecr.<region>.amazonaws.com) or set AWS_REGION`,
        undefined,
        "http",
      );
    }
    if (
      status === 401 ||
      status === 403 ||
      /AccessDenied|UnrecognizedClient|InvalidSignature|ExpiredToken/.test(e.name ?? "")
    ) {
      throw new EcrAccessError(
        `ECR ${operation} for ${host} was refused (${detail}): the AWS identity needs ecr:${operation} on the registry (check it with aws sts get-caller-identity)`,
        status ?? 403,
        status === 401 ? "unauthorized" : "denied",
        operation,
        detail,
        false,
      );
    }
    throw new RegistryError(
      `ECR ${operation} for ${host} failed (${detail}): check the network, and the ECR endpoint if AWS_ENDPOINT_URL_ECR sets one`,
      status,
      "http",
    );
  }
}

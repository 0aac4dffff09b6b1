import { z } from "zod";
import { type Digest, isDigest } from "./digest.js";
import { isIndexMediaType, MediaType } from "./media-types.js";

const digestSchema = z
  .string()
  .refine(isDigest, "not a sha256 digest")
  .transform((d) => d as Digest);

const descriptorSchema = z.object({
  mediaType: z.string(),
  digest: digestSchema,
  size: z.number().int().nonnegative(),
  artifactType: z.string().optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  platform: z
    .object({ architecture: z.string(), os: z.string(), variant: z.string().optional() })
    .passthrough()
    .optional(),
});
export type Descriptor = z.infer<typeof descriptorSchema>;

const rawManifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  config: descriptorSchema.optional(),
  layers: z.array(descriptorSchema).optional(),
  manifests: z.array(descriptorSchema).optional(),
  subject: descriptorSchema.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

export interface ImageManifest {
  readonly kind: "image";
  readonly mediaType: string;
  readonly artifactType?: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface IndexManifest {
  readonly kind: "index";
  readonly mediaType: string;
  readonly artifactType?: string;
  readonly manifests: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Readonly<Record<string, string>>;
}

export type Manifest = ImageManifest | IndexManifest;

/**
 * Parses a manifest body. The media type comes from the body when present, else from the
 * Content-Type the registry sent (Docker schema 2 bodies always carry it; OCI ones may not).
 */
export function parseManifest(body: Uint8Array | string, contentType?: string): Manifest {
  const text = typeof body === "string" ? body : Buffer.from(body).toString("utf8");
  const raw = rawManifestSchema.parse(JSON.parse(text));
  const mediaType =
    raw.mediaType ?? contentType ?? (raw.manifests ? MediaType.ociIndex : MediaType.ociManifest);
  const extra = {
    ...(raw.artifactType ? { artifactType: raw.artifactType } : {}),
    ...(raw.subject ? { subject: raw.subject } : {}),
    ...(raw.annotations ? { annotations: raw.annotations } : {}),
  };
  if (isIndexMediaType(mediaType) || (raw.manifests && !raw.config)) {
    return { kind: "index", mediaType, manifests: raw.manifests ?? [], ...extra };
  }
  if (!raw.config) throw new Error(`manifest of type ${mediaType} has no config`);
  return { kind: "image", mediaType, config: raw.config, layers: raw.layers ?? [], ...extra };
}

/**
 * parseManifest for bytes from outside: any failure becomes one line naming where the manifest came
 * from and what is wrong with it, never a JSON parser position or a dump of schema issues.
 */
export function parseRegistryManifest(
  body: Uint8Array | string,
  contentType: string | undefined,
  where: string,
): Manifest {
  try {
    return parseManifest(body, contentType);
  } catch (error) {
    throw new InvalidManifestError(
      `manifest ${where} is not a valid image manifest or index: ${whatIsWrong(error)}`,
    );
  }
}

export class InvalidManifestError extends Error {
  override name = "InvalidManifestError";
}

function whatIsWrong(error: unknown): string {
  if (error instanceof SyntaxError) return "the body is not JSON";
  if (error instanceof z.ZodError) {
    return error.issues
      .slice(0, 3)
      .map((i) => `${i.path.length ? i.path.join(".") : "the body"}: ${i.message}`)
      .join("; ");
  }
  return (error as Error).message;
}

const configSchema = z.object({ created: z.string().optional() }).passthrough();

/** The image config's `created` time; zero or unparsable times (cosign writes year 1) count as unknown. */
export function configCreated(body: Uint8Array | string): Date | undefined {
  try {
    const text = typeof body === "string" ? body : Buffer.from(body).toString("utf8");
    const created = configSchema.parse(JSON.parse(text)).created;
    if (!created) return undefined;
    const date = new Date(created);
    if (Number.isNaN(date.getTime()) || date.getUTCFullYear() < 1971) return undefined;
    return date;
  } catch {
    return undefined;
  }
}

const labelsSchema = z
  .object({
    config: z
      .object({ Labels: z.record(z.string(), z.unknown()).nullish() })
      .passthrough()
      .nullish(),
  })
  .passthrough();

/** The image config's `config.Labels` value for `key`, when it is a non-empty string. */
export function configLabel(body: Uint8Array | string, key: string): string | undefined {
  try {
    const text = typeof body === "string" ? body : Buffer.from(body).toString("utf8");
    const value = labelsSchema.parse(JSON.parse(text)).config?.Labels?.[key];
    return typeof value === "string" && value !== "" ? value : undefined;
  } catch {
    return undefined;
  }
}

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

export const rawManifestSchema = z.object({
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
  const text = utf8Text(body);
  return manifestFromJson(JSON.parse(text), contentType);
}

/** parseManifest for a body already parsed as JSON (a referrers answer is an index). */
export function manifestFromJson(json: unknown, contentType?: string): Manifest {
  // The schema check, written out for the well-formed case (zod's was most of a scan's parsing
  // time); anything it is unsure of goes through the schema, which accepts the same and words the error.
  const raw = wellFormedManifest(json) ?? rawManifestSchema.parse(json);
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

/** A body as text, without copying it first (Buffer.from(buffer) copies, and every body is read). */
function utf8Text(body: Uint8Array | string): string {
  if (typeof body === "string") return body;
  return (Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength)).toString(
    "utf8",
  );
}

type RawManifest = z.infer<typeof rawManifestSchema>;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const optionalString = (v: unknown) => v === undefined || typeof v === "string";

/** A copy of a string-to-string map, or undefined when it is not one (or has a key JSON objects treat specially). */
function stringRecord(v: unknown): Record<string, string> | undefined {
  if (!isObject(v) || Object.hasOwn(v, "__proto__")) return undefined;
  for (const key in v) if (typeof v[key] !== "string") return undefined;
  return { ...(v as Record<string, string>) };
}

/** What descriptorSchema gives for `v`, or undefined where the schema must decide. */
function wellFormedDescriptor(v: unknown): Descriptor | undefined {
  if (!isObject(v)) return undefined;
  const { mediaType, digest, size, artifactType, annotations, platform } = v;
  if (typeof mediaType !== "string" || typeof digest !== "string" || !isDigest(digest)) return undefined;
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) return undefined;
  if (!optionalString(artifactType)) return undefined;
  const notes = annotations === undefined ? undefined : stringRecord(annotations);
  if (annotations !== undefined && !notes) return undefined;
  if (platform !== undefined) {
    if (!isObject(platform) || Object.hasOwn(platform, "__proto__")) return undefined;
    if (typeof platform.architecture !== "string" || typeof platform.os !== "string") return undefined;
    if (!optionalString(platform.variant)) return undefined;
  }
  return {
    mediaType,
    digest,
    size,
    ...(artifactType !== undefined ? { artifactType: artifactType as string } : {}),
    ...(notes ? { annotations: notes } : {}),
    ...(platform !== undefined ? { platform: { ...(platform as NonNullable<Descriptor["platform"]>) } } : {}),
  };
}

function wellFormedDescriptors(v: unknown): Descriptor[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: Descriptor[] = [];
  for (const item of v) {
    const d = wellFormedDescriptor(item);
    if (!d) return undefined;
    out.push(d);
  }
  return out;
}

/** What rawManifestSchema gives for `json`, or undefined where the schema must decide. */
export function wellFormedManifest(json: unknown): RawManifest | undefined {
  if (!isObject(json) || json.schemaVersion !== 2) return undefined;
  const { mediaType, artifactType, config, layers, manifests, subject, annotations } = json;
  if (!optionalString(mediaType) || !optionalString(artifactType)) return undefined;
  const raw: RawManifest = { schemaVersion: 2 };
  if (mediaType !== undefined) raw.mediaType = mediaType as string;
  if (artifactType !== undefined) raw.artifactType = artifactType as string;
  if (config !== undefined) {
    const d = wellFormedDescriptor(config);
    if (!d) return undefined;
    raw.config = d;
  }
  if (layers !== undefined) {
    const ds = wellFormedDescriptors(layers);
    if (!ds) return undefined;
    raw.layers = ds;
  }
  if (manifests !== undefined) {
    const ds = wellFormedDescriptors(manifests);
    if (!ds) return undefined;
    raw.manifests = ds;
  }
  if (subject !== undefined) {
    const d = wellFormedDescriptor(subject);
    if (!d) return undefined;
    raw.subject = d;
  }
  if (annotations !== undefined) {
    const notes = stringRecord(annotations);
    if (!notes) return undefined;
    raw.annotations = notes;
  }
  return raw;
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

/** The image config's `created` time; zero or unparsable times (cosign writes year 1) count as unknown. */
export function configCreated(body: Uint8Array | string): Date | undefined {
  try {
    const text = utf8Text(body);
    // configSchema, written out: an object whose `created`, if any, is a string.
    const json: unknown = JSON.parse(text);
    if (!isObject(json)) return undefined;
    const created = json.created;
    if (typeof created !== "string" || !created) return undefined;
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
    const text = utf8Text(body);
    const value = labelsSchema.parse(JSON.parse(text)).config?.Labels?.[key];
    return typeof value === "string" && value !== "" ? value : undefined;
  } catch {
    return undefined;
  }
}

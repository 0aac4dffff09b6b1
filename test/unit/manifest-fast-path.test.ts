/**
 * parseManifest checks a well-formed manifest without zod (issue 13: the schema was most of a
 * scan's parsing time). The hand check must accept nothing the schema refuses and give exactly the
 * schema's result; whatever it is unsure of goes to the schema.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rawManifestSchema, wellFormedManifest } from "../../src/oci/manifest.js";

const hex = fc.stringMatching(/^[a-f0-9]{64}$/);
const digestish = fc.oneof(
  { weight: 30, arbitrary: hex.map((h) => `sha256:${h}`) },
  fc.constantFrom("nope", "sha256:ABC", "sha512:00", ""),
);
const stringish = fc.oneof(
  { weight: 5, arbitrary: fc.string() },
  fc.constant(null),
  fc.integer(),
  fc.constant(undefined),
);
const record = fc.oneof(
  { weight: 40, arbitrary: fc.dictionary(fc.string(), fc.string()) },
  fc.dictionary(fc.string(), stringish),
  fc.constant(["a"]),
  fc.constant(null),
);
const platform = fc.record(
  { architecture: stringish, os: stringish, variant: stringish, features: fc.array(fc.string()) },
  { requiredKeys: [] },
);
const descriptor = fc.record(
  {
    mediaType: stringish,
    digest: digestish,
    size: fc.oneof({ weight: 40, arbitrary: fc.nat() }, fc.constantFrom(-1, 1.5, 2 ** 60, "3")),
    artifactType: stringish,
    annotations: record,
    platform: fc.oneof({ weight: 30, arbitrary: platform }, fc.constant(null)),
    extra: fc.string(),
  },
  { requiredKeys: ["mediaType", "digest", "size"] },
);
const manifest = fc.record(
  {
    schemaVersion: fc.oneof({ weight: 30, arbitrary: fc.constant(2) }, fc.constantFrom(1, "2")),
    mediaType: stringish,
    artifactType: stringish,
    config: fc.oneof({ weight: 30, arbitrary: descriptor }, fc.constant(null)),
    layers: fc.oneof({ weight: 30, arbitrary: fc.array(descriptor, { maxLength: 3 }) }, fc.constant({})),
    manifests: fc.array(descriptor, { maxLength: 3 }),
    subject: descriptor,
    annotations: record,
    unknownField: fc.anything(),
  },
  { requiredKeys: ["schemaVersion"] },
);

const validDescriptor = fc.record(
  {
    mediaType: fc.string(),
    digest: hex.map((h) => `sha256:${h}`),
    size: fc.nat(),
    artifactType: fc.string(),
    annotations: fc.dictionary(fc.string(), fc.string()),
    platform: fc.record(
      { architecture: fc.string(), os: fc.string(), variant: fc.string(), features: fc.array(fc.string()) },
      { requiredKeys: ["architecture", "os"] },
    ),
  },
  { requiredKeys: ["mediaType", "digest", "size"] },
);
const validManifest = fc.record(
  {
    schemaVersion: fc.constant(2),
    mediaType: fc.string(),
    artifactType: fc.string(),
    config: validDescriptor,
    layers: fc.array(validDescriptor, { maxLength: 3 }),
    manifests: fc.array(validDescriptor, { maxLength: 3 }),
    subject: validDescriptor,
    annotations: fc.dictionary(fc.string(), fc.string()),
    unknownField: fc.anything(),
  },
  { requiredKeys: ["schemaVersion"] },
);

// What JSON.parse would hand over: no undefined values, plain objects.
const asJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

describe("the manifest fast path", () => {
  it("accepts only what the schema accepts, and gives what the schema gives", () => {
    let fast = 0;
    fc.assert(
      fc.property(fc.oneof(manifest, validManifest), (m) => {
        const json = asJson(m);
        const quick = wellFormedManifest(json);
        const schema = rawManifestSchema.safeParse(json);
        if (quick !== undefined) {
          fast++;
          expect(schema.success).toBe(true);
          expect(quick).toStrictEqual(schema.data);
        }
      }),
      { numRuns: 3000 },
    );
    expect(fast).toBeGreaterThan(1000);
  });

  it("takes the fast path for the manifests registries serve", () => {
    const d = (n: number) => ({ mediaType: "m", digest: `sha256:${String(n).repeat(64)}`, size: n });
    const image = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: d(1),
      layers: [d(2), { ...d(3), annotations: { a: "b" } }],
      subject: d(4),
      annotations: { "org.opencontainers.image.created": "2025-01-01T00:00:00Z" },
    };
    const index = {
      schemaVersion: 2,
      manifests: [{ ...d(5), platform: { architecture: "arm64", os: "linux", variant: "v8" } }],
    };
    for (const m of [image, index]) {
      expect(wellFormedManifest(m)).toStrictEqual(rawManifestSchema.parse(m));
    }
  });

  it("leaves a key JSON objects treat specially to the schema", () => {
    const json = JSON.parse('{"schemaVersion":2,"annotations":{"__proto__":"x"}}');
    expect(wellFormedManifest(json)).toBeUndefined();
  });
});

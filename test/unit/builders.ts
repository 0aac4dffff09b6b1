/**
 * Tiny builders for the pure core: manifests, repositories, inventories, usages and policies.
 * Digests are sha256 of a readable name, so a failing test can say `image("web-v1")`.
 * Cosign-style referrers get their `subject` from the tag, as the inventory contract
 * (src/inventory/graph.ts) says the scan does.
 */
import type { BlobRef, Inventory, ManifestNode, RepositoryInventory } from "../../src/inventory/graph.js";
import { type Digest, referrersTagFor, sha256Digest } from "../../src/oci/digest.js";
import { MediaType } from "../../src/oci/media-types.js";
import { parseReference } from "../../src/oci/reference.js";
import type { DeleteEntry } from "../../src/plan/plan-schema.js";
import { parseFilter } from "../../src/policy/filter.js";
import type { PurgePolicy } from "../../src/policy/purge-policy.js";
import { decideRepository } from "../../src/policy/purge-policy.js";
import type { Decision } from "../../src/policy/reasons.js";
import type { Usage } from "../../src/usage/usage.js";

export const NOW = new Date("2025-06-01T12:00:00.000Z");
export const DAY = 86_400_000;
export const REGISTRY = "registry.example.com";

export function digestOf(name: string): Digest {
  return sha256Digest(`manifest:${name}`);
}

export function blobOf(name: string, size: number): BlobRef {
  return { digest: sha256Digest(`blob:${name}`), size };
}

/** ISO time `days` before NOW (fractions allowed). */
export function daysAgo(days: number): string {
  return new Date(NOW.getTime() - days * DAY).toISOString();
}

export interface NodeOptions {
  readonly tags?: readonly string[];
  /** Age in days before NOW; omitted means the age is unknown. */
  readonly age?: number;
  readonly locked?: boolean;
  readonly subject?: Digest | ManifestNode;
  readonly blobs?: readonly BlobRef[];
  readonly manifestSize?: number;
  readonly digest?: Digest;
  /** The owner the scan read from the manifest's annotation or label. */
  readonly owner?: string;
}

function subjectDigest(s: Digest | ManifestNode | undefined): Digest | undefined {
  return s === undefined ? undefined : typeof s === "string" ? s : s.digest;
}

function base(name: string, mediaType: string, o: NodeOptions, children: readonly Digest[]): ManifestNode {
  const blobs = o.blobs ?? [];
  const manifestSize = o.manifestSize ?? 500;
  const subject = subjectDigest(o.subject);
  return {
    digest: o.digest ?? digestOf(name),
    mediaType,
    tags: [...(o.tags ?? [])].sort(),
    manifestSize,
    blobs,
    children,
    ...(subject ? { subject } : {}),
    ...(o.age !== undefined ? { created: daysAgo(o.age) } : {}),
    ageSource: o.age !== undefined ? (children.length > 0 ? "child" : "config") : "unknown",
    sizeBytes: manifestSize + blobs.reduce((s, b) => s + b.size, 0),
    ...(o.locked ? { locked: true } : {}),
    ...(o.owner ? { owner: o.owner } : {}),
  };
}

/** An image manifest (config + layers). */
export function image(name: string, o: NodeOptions = {}): ManifestNode {
  return base(name, MediaType.ociManifest, o, []);
}

/** An index listing `children` (images or nested indexes). */
export function index(name: string, children: readonly ManifestNode[], o: NodeOptions = {}): ManifestNode {
  return base(
    name,
    MediaType.ociIndex,
    o,
    children.map((c) => c.digest),
  );
}

/** An OCI artifact whose `subject` field names `subject` (untagged unless told). */
export function artifact(name: string, subject: ManifestNode | Digest, o: NodeOptions = {}): ManifestNode {
  return base(name, MediaType.ociManifest, { ...o, subject }, []);
}

/** A cosign signature / attestation / SBOM found through its `sha256-<hex>.<kind>` tag. */
export function cosign(
  subject: ManifestNode | Digest,
  kind: "sig" | "att" | "sbom" = "sig",
  o: NodeOptions = {},
): ManifestNode {
  const s = subjectDigest(subject) as Digest;
  const tag = `${referrersTagFor(s)}.${kind}`;
  return base(
    `${kind}-of-${s}`,
    MediaType.ociManifest,
    { ...o, subject: s, tags: [tag, ...(o.tags ?? [])] },
    [],
  );
}

/** The referrers tag-schema fallback: an index tagged `sha256-<hex>` listing the subject's referrers. */
export function fallbackIndex(
  subject: ManifestNode | Digest,
  referrers: readonly ManifestNode[],
  o: NodeOptions = {},
) {
  const s = subjectDigest(subject) as Digest;
  return base(
    `fallback-of-${s}`,
    MediaType.ociIndex,
    { ...o, subject: s, tags: [referrersTagFor(s), ...(o.tags ?? [])] },
    referrers.map((r) => r.digest),
  );
}

export function repo(name: string, ...manifests: ManifestNode[]): RepositoryInventory {
  return { name, manifests };
}

export function inventory(...repositories: RepositoryInventory[]): Inventory {
  return { registry: REGISTRY, listsUntagged: true, scannedAt: NOW.toISOString(), repositories };
}

export function usage(reference: string, source = "test"): Usage {
  return { reference: parseReference(reference), raw: reference, source };
}

/** An in-use map for decideRepository: each node used by digest. */
export function usedByDigest(repository: string, ...nodes: ManifestNode[]): Map<Digest, Usage[]> {
  return new Map(nodes.map((n) => [n.digest, [usage(`${REGISTRY}/${repository}@${n.digest}`)]]));
}

export interface PolicyOptions {
  readonly filter?: string | readonly string[];
  readonly ago?: number;
  readonly keep?: number;
  readonly untagged?: boolean;
}

/** Defaults to `--filter '.*:.*'`, no --ago, no --keep, no --untagged. */
export function policy(o: PolicyOptions = {}): PurgePolicy {
  const filters = typeof o.filter === "string" ? [o.filter] : (o.filter ?? [".*:.*"]);
  return {
    filters: filters.map(parseFilter),
    ...(o.ago !== undefined ? { agoMs: o.ago * DAY } : {}),
    ...(o.keep !== undefined ? { keep: o.keep } : {}),
    untagged: o.untagged ?? false,
  };
}

export interface Decided {
  readonly decisions: Map<Digest, Decision>;
  action(node: ManifestNode): "keep" | "delete";
  rules(node: ManifestNode): string[];
  deleted(): Digest[];
}

/** Runs decideRepository and gives readable accessors. */
export function decide(
  r: RepositoryInventory,
  p: PurgePolicy = policy(),
  inUse: ReadonlyMap<Digest, readonly Usage[]> = new Map(),
): Decided {
  const decisions = decideRepository(r, p, inUse, NOW);
  const get = (n: ManifestNode) => {
    const d = decisions.get(n.digest);
    if (!d) throw new Error(`no decision for ${n.digest}`);
    return d;
  };
  return {
    decisions,
    action: (n) => get(n).action,
    rules: (n) => get(n).reasons.map((x) => x.rule),
    deleted: () => [...decisions].filter(([, d]) => d.action === "delete").map(([k]) => k),
  };
}

/** A planned deletion in repository `app`, named for what makes its digest. */
export function deleteEntry(name: string, extra: Partial<DeleteEntry> = {}): DeleteEntry {
  return {
    repository: "app",
    digest: sha256Digest(name),
    tags: [],
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    created: null,
    ageSource: "unknown",
    sizeBytes: 1,
    reasons: [{ rule: "tags-matched", detail: "test" }],
    ...extra,
  };
}

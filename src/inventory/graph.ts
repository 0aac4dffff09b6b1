import type { Digest } from "../oci/digest.js";

/** Where a manifest's age came from, in order of preference. */
export type AgeSource = "registry" | "config" | "child" | "unknown";

export interface BlobRef {
  readonly digest: Digest;
  readonly size: number;
}

export interface ManifestNode {
  readonly digest: Digest;
  readonly mediaType: string;
  readonly artifactType?: string;
  readonly tags: readonly string[];
  /** Size of the manifest body itself (it is stored as a blob too). */
  readonly manifestSize: number;
  /** Config and layers of an image manifest; empty for an index. */
  readonly blobs: readonly BlobRef[];
  /** Manifests an index lists (images or nested indexes). */
  readonly children: readonly Digest[];
  /** The manifest this one refers to: its `subject` field, or the digest named by a cosign-style tag. */
  readonly subject?: Digest;
  /** ISO time, absent when unknown. */
  readonly created?: string;
  readonly ageSource: AgeSource;
  /** When the registry last updated it (ACR's lastUpdateTime, ISO); absent where the registry keeps none. */
  readonly updated?: string;
  /** `os/arch[/variant]` for a child listed with a platform. */
  readonly platform?: string;
  /** Manifest + config + layers; for an index, its own body plus its children's sizes. */
  readonly sizeBytes: number;
  /** ACR lock: deleteEnabled false or writeEnabled false. */
  readonly locked?: boolean;
  /** Its tags the registry marks locked (ACR tag attributes): a locked tag keeps the manifest. */
  readonly lockedTags?: readonly string[];
  /** When the registry last recorded a pull of it (ECR's lastRecordedPullTime), where it records pulls. */
  readonly lastPulled?: string;
  /** Who owns it, from the annotation or config label the scan was told to read (OwnerSource). */
  readonly owner?: string;
}

/**
 * Where a manifest names its owner: a manifest annotation (an index's too), or a label of the
 * image config (`config.Labels`; an index has none).
 */
export type OwnerSource = { readonly annotation: string } | { readonly label: string };

/** One string per OwnerSource, so a cached owner read under another key is never taken for this one. */
export function ownerSourceKey(source: OwnerSource | undefined): string | undefined {
  if (!source) return undefined;
  return "annotation" in source ? `annotation:${source.annotation}` : `label:${source.label}`;
}

export interface RepositoryInventory {
  readonly name: string;
  readonly manifests: readonly ManifestNode[];
  /** What the scan found amiss (e.g. an index listing a child the registry lost). */
  readonly warnings?: readonly string[];
  /** In-use tags read directly that the registry answered 404 for: those workloads cannot pull. */
  readonly missingTags?: readonly string[];
}

export interface Inventory {
  /** Host references use for this registry. */
  readonly registry: string;
  readonly listsUntagged: boolean;
  readonly scannedAt: string;
  readonly repositories: readonly RepositoryInventory[];
}

/**
 * One string per distinct digest (and media type) across a scan: a layer shared by a thousand
 * manifests, or a child its index also lists, is parsed from a thousand bodies but kept once.
 * At a million manifests that is most of an inventory's memory.
 */
export class Interner {
  private readonly strings = new Map<string, string>();

  of<T extends string>(value: T): T {
    const known = this.strings.get(value);
    if (known !== undefined) return known as T;
    this.strings.set(value, value);
    return value;
  }

  /** The node with every digest and its media type interned; nothing else changes. */
  node<N extends ManifestNode>(n: N): N {
    return {
      ...n,
      digest: this.of(n.digest),
      mediaType: this.of(n.mediaType),
      blobs: n.blobs.map((b) => ({ ...b, digest: this.of(b.digest) })),
      children: n.children.map((c) => this.of(c)),
      ...(n.subject ? { subject: this.of(n.subject) } : {}),
    };
  }
}

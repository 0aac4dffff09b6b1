import type { Digest } from "../oci/digest.js";
import type { Descriptor, Manifest } from "../oci/manifest.js";

export interface ManifestHead {
  readonly digest: Digest;
  readonly mediaType: string;
}

export interface ManifestResponse extends ManifestHead {
  readonly body: Buffer;
  /** The body parsed, where the adapter already checked it (so a scan does not parse it twice). */
  readonly manifest?: Manifest;
}

/** What a registry itself says of its manifests (ACR, ECR): push time, lock and last pull, by digest. */
export type RegistryMetadata = ReadonlyMap<
  Digest,
  {
    readonly created?: string;
    /** When the registry last updated it (ACR's lastUpdateTime, ISO 8601). */
    readonly updated?: string;
    readonly locked: boolean;
    readonly tags: readonly string[];
    /** Its tags the registry marks locked (ACR: the tag's deleteEnabled or writeEnabled false). */
    readonly lockedTags?: readonly string[];
    /** When the registry last recorded a pull (ECR's lastRecordedPullTime, ISO 8601); absent: never, or not kept. */
    readonly lastPulled?: string;
  }
>;

/** What a scan needs from any registry flavour (distribution API, OCI layout directory, ACR). */
export interface RegistryReader {
  /** The name references use for this registry (lowercase host[:port]), e.g. `myacr.azurecr.io`. */
  readonly host: string;
  /** True where untagged top-level manifests can be listed (OCI layout, ACR); plain distribution cannot. */
  readonly listsUntagged: boolean;
  repositories(): AsyncIterable<string>;
  tags(repository: string): AsyncIterable<string>;
  /** Untagged top-level manifests, where listsUntagged. */
  untagged(repository: string): AsyncIterable<Digest>;
  /** undefined when the manifest does not exist. */
  headManifest(repository: string, reference: string): Promise<ManifestHead | undefined>;
  getManifest(repository: string, reference: string): Promise<ManifestResponse | undefined>;
  getBlob(repository: string, digest: Digest): Promise<Buffer>;
  /**
   * The blob as a stream from byte `offset` (default 0) on, unchecked: the caller hashes what it
   * reads (layers can be gigabytes). A non-zero offset continues a read that broke mid-way.
   */
  openBlob(repository: string, digest: Digest, offset?: number): Promise<AsyncIterable<Uint8Array>>;
  /** Where the registry keeps its own per-manifest metadata (ACR), one listing per repository. */
  registryMetadata?(repository: string): Promise<RegistryMetadata>;
  /** This registry with every request also cancelled by `signal` (absent where nothing is in flight to cancel). */
  withSignal?(signal: AbortSignal): this;
  /**
   * The registry's lock on one manifest and on each of its tags, read with single GETs right before
   * a deletion (ACR: its list view has disagreed with them). Absent where the registry has no locks.
   */
  liveLocks?(repository: string, digest: Digest, tags: readonly string[]): Promise<LiveLocks>;
  /** Referrers of a subject; undefined when the registry has no referrers API (use the tag fallback). */
  referrers(repository: string, subject: Digest): Promise<readonly Descriptor[] | undefined>;
}

/** What the registry's own single reads say is locked: the manifest itself, and which of the tags asked about. */
export interface LiveLocks {
  readonly manifest: boolean;
  readonly tags: readonly string[];
}

export type DeleteOutcome = "deleted" | "not-found";

/** A blob too big to hold: opened (again, on a retry) when it is sent, and checked as it goes. */
export interface BlobStream {
  readonly size: number;
  open(): Promise<AsyncIterable<Uint8Array>>;
}

export interface RegistryWriter {
  hasBlob(repository: string, digest: Digest): Promise<boolean>;
  putBlob(repository: string, digest: Digest, data: Uint8Array | BlobStream): Promise<void>;
  putManifest(repository: string, reference: string, mediaType: string, body: Uint8Array): Promise<Digest>;
  deleteManifest(repository: string, digest: Digest): Promise<DeleteOutcome>;
  /**
   * Removes one tag, the manifest staying. Where the registry has no such call (plain distribution
   * 2.8) it throws RegistryError with code "unsupported", naming the registry.
   */
  untag(repository: string, tag: string): Promise<DeleteOutcome>;
}

export type Registry = RegistryReader & RegistryWriter;

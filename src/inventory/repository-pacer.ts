import type { Digest } from "../oci/digest.js";
import type { RegistryReader } from "../registry/types.js";

/**
 * Decides when a scan opens its next repository: only while the requests it has in flight leave
 * the transport short of work. A fixed number of open repositories either starves a slow registry
 * (a repository with one tag issues one request at a time) or, on a fast one, keeps many
 * repositories' working sets alive at once, long enough to be promoted to the old heap: on 25,000
 * manifests, 16 always open took 1.14–1.16× the time and 1.4–1.5× the peak memory of this pacing.
 *
 * A repository just opened counts as busy until it issues its first request, so that a burst of
 * catalog names does not open them all before any of them has asked for anything.
 */
export class RepositoryPacer {
  private inFlight = 0;
  private open = 0;
  private starting = 0;
  private failed = false;
  private readonly waiting: (() => void)[] = [];
  private checkScheduled = false;

  /**
   * @param maxOpen repositories open at once, at most
   * @param lowWater requests in flight (or queued) below which another repository is opened: the
   *   transport's concurrency (twice that was no faster, and held more in memory)
   */
  constructor(
    private readonly maxOpen: number,
    private readonly lowWater: number,
  ) {}

  /** Resolves when the next repository may be opened (at once after a failure: the caller stops). */
  slot(): Promise<void> {
    if (this.mayOpen()) {
      this.grant();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.schedule();
    });
  }

  /** A repository granted a slot finished (or failed: no more are opened). */
  done(ok: boolean, reader: PacedReader): void {
    if (!ok) this.failed = true;
    if (!reader.started) this.starting--;
    reader.started = true;
    this.open--;
    this.schedule();
  }

  /** The registry as one opened repository sees it: its requests count towards the pacing. */
  reader(registry: RegistryReader): PacedReader {
    return new PacedReader(registry, this);
  }

  get stopped(): boolean {
    return this.failed;
  }

  /** @internal */
  began(reader: PacedReader): void {
    this.inFlight++;
    if (!reader.started) {
      reader.started = true;
      this.starting--;
      this.schedule();
    }
  }

  /** @internal */
  ended(): void {
    this.inFlight--;
    this.schedule();
  }

  private mayOpen(): boolean {
    if (this.failed || this.open === 0) return true;
    return this.starting === 0 && this.open < this.maxOpen && this.inFlight < this.lowWater;
  }

  private grant(): void {
    this.open++;
    this.starting++;
  }

  // Deferred to the next turn, so that the continuations of a request just answered have issued
  // their own requests before the count is judged; one check per turn however many settle.
  private schedule(): void {
    if (this.checkScheduled || this.waiting.length === 0) return;
    this.checkScheduled = true;
    setImmediate(() => {
      this.checkScheduled = false;
      if (this.waiting.length > 0 && this.mayOpen()) {
        this.grant();
        this.waiting.shift()?.();
      }
    });
  }
}

/** Delegates to the registry, counting every call in flight (a listing counts while it is read). */
export class PacedReader implements RegistryReader {
  /** @internal whether this repository has issued a request yet */
  started = false;
  readonly host: string;
  readonly listsUntagged: boolean;
  readonly registryMetadata?: RegistryReader["registryMetadata"];

  constructor(
    readonly registry: RegistryReader,
    private readonly pacer: RepositoryPacer,
  ) {
    this.host = registry.host;
    this.listsUntagged = registry.listsUntagged;
    const metadata = registry.registryMetadata;
    if (metadata) this.registryMetadata = (repository) => this.track(metadata.call(registry, repository));
  }

  repositories(): AsyncIterable<string> {
    return this.registry.repositories();
  }
  tags(repository: string): AsyncIterable<string> {
    return this.listing(this.registry.tags(repository));
  }
  untagged(repository: string): AsyncIterable<Digest> {
    return this.listing(this.registry.untagged(repository));
  }
  headManifest(...args: Parameters<RegistryReader["headManifest"]>) {
    return this.track(this.registry.headManifest(...args));
  }
  getManifest(...args: Parameters<RegistryReader["getManifest"]>) {
    return this.track(this.registry.getManifest(...args));
  }
  getBlob(...args: Parameters<RegistryReader["getBlob"]>) {
    return this.track(this.registry.getBlob(...args));
  }
  openBlob(...args: Parameters<RegistryReader["openBlob"]>) {
    return this.track(this.registry.openBlob(...args));
  }
  referrers(...args: Parameters<RegistryReader["referrers"]>) {
    return this.track(this.registry.referrers(...args));
  }

  private track<T>(request: Promise<T>): Promise<T> {
    this.pacer.began(this);
    // then, not finally: one promise per request instead of two.
    return request.then(
      (value) => {
        this.pacer.ended();
        return value;
      },
      (error: unknown) => {
        this.pacer.ended();
        throw error;
      },
    );
  }

  private async *listing<T>(items: AsyncIterable<T>): AsyncIterable<T> {
    this.pacer.began(this);
    try {
      yield* items;
    } finally {
      this.pacer.ended();
    }
  }
}

import type { BlobRef } from "../inventory/graph.js";
import { Interner } from "../inventory/graph.js";
import { type Digest, isDigest } from "../oci/digest.js";
import type { DeleteEntry, KeepEntry } from "./plan-schema.js";
import { ReasonPool } from "./reason-pool.js";

type Reason = KeepEntry["reasons"][number];
/** Blobs per generation of EntryReader's table of recent blobs. */
const RECENT_BLOBS = 1 << 16;
const AGE_SOURCES = new Set(["registry", "config", "child", "unknown"]);

/**
 * Checks a plan entry as JSON.parse gave it and returns it as the entry schema's parse would (the
 * same fields, in the schema's order, nothing else), or undefined when it is not plainly valid: the
 * caller then asks the schema, which says what is wrong. It is a strict subset of the schema, so
 * it never lets through what the schema refuses; it exists because a million entries through the
 * schema cost seconds.
 *
 * What a plan repeats is kept once: repository names, media types, rules, details, and each blob
 * (a layer shared by a thousand images is one object); an entry's own blob shares its digest.
 * A re-read plan of a million manifests is then less than half the size of what JSON.parse made.
 */
export class EntryReader {
  private readonly strings = new Interner();
  /**
   * The blobs seen lately, in two generations: one seen again moves to the young one, so a layer
   * that many images share stays one object, while the many seen once (each image's config) fall
   * out of the old one. A table of every blob of a million manifests (two million, nearly all
   * seen once) cost about a second more and 20 MB more at its peak than these two.
   */
  private young = new Map<string, BlobRef>();
  private old = new Map<string, BlobRef>();
  private readonly reasons = new ReasonPool();

  read(field: "delete" | "keep", raw: unknown): DeleteEntry | KeepEntry | undefined {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return undefined;
    const e = raw as Record<string, unknown>;
    const { repository, digest, tags, mediaType, created, ageSource, sizeBytes, reasons, blobs, owner } = e;
    if (typeof repository !== "string" || typeof digest !== "string" || !isDigest(digest)) return undefined;
    if (!isStringArray(tags) || typeof mediaType !== "string") return undefined;
    if (created !== null && typeof created !== "string") return undefined;
    if (typeof ageSource !== "string" || !AGE_SOURCES.has(ageSource) || !isCount(sizeBytes)) return undefined;
    if (!Array.isArray(reasons) || reasons.length === 0) return undefined;
    // Sized up front: an array grown by push keeps room for 17.
    const outReasons: Reason[] = new Array(reasons.length);
    for (let i = 0; i < reasons.length; i++) {
      const reason = this.reason(reasons[i]);
      if (!reason) return undefined;
      outReasons[i] = reason;
    }
    let outBlobs: BlobRef[] | undefined;
    if (blobs !== undefined) {
      if (!Array.isArray(blobs)) return undefined;
      outBlobs = new Array(blobs.length);
      for (let i = 0; i < blobs.length; i++) {
        const blob = this.blob(blobs[i], digest);
        if (!blob) return undefined;
        outBlobs[i] = blob;
      }
    }
    if (owner !== undefined && typeof owner !== "string") return undefined;
    // One literal with blobs in it, as nearly every entry has them: a field added afterwards costs
    // a second block of memory per entry. Only plans older than blobs[] lose the field again.
    const entry: Record<string, unknown> = {
      repository: this.strings.of(repository),
      digest,
      tags,
      mediaType: this.strings.of(mediaType),
      created,
      ageSource: this.strings.of(ageSource),
      sizeBytes,
      reasons: outReasons,
      blobs: outBlobs,
    };
    if (!outBlobs) delete entry.blobs;
    if (owner !== undefined) entry.owner = this.strings.of(owner);
    if (field === "delete") {
      const { children, subject } = e;
      if (children !== undefined) {
        if (!Array.isArray(children)) return undefined;
        for (const c of children) if (typeof c !== "string" || !isDigest(c)) return undefined;
        entry.children = children;
      }
      if (subject !== undefined) {
        if (typeof subject !== "string" || !isDigest(subject)) return undefined;
        entry.subject = subject;
      }
    }
    return entry as DeleteEntry | KeepEntry;
  }

  private reason(r: unknown): Reason | undefined {
    if (typeof r !== "object" || r === null || Array.isArray(r)) return undefined;
    const { rule, detail, source } = r as Record<string, unknown>;
    if (typeof rule !== "string" || typeof detail !== "string") return undefined;
    if (source === undefined) return this.reasons.of(rule, detail);
    // A usage's reason names its source: rare, and nearly always one of a kind.
    return typeof source === "string" ? { rule: this.strings.of(rule), detail, source } : undefined;
  }

  /** The entry's own body shares the entry's digest; any other blob is one object per digest and size. */
  private blob(b: unknown, own: string): BlobRef | undefined {
    if (typeof b !== "object" || b === null || Array.isArray(b)) return undefined;
    const { digest, size } = b as Record<string, unknown>;
    if (typeof digest !== "string" || !isCount(size)) return undefined;
    if (digest === own) return { digest: own as Digest, size };
    const known = this.shared(digest);
    if (known && known.size === size) return known;
    if (!known && !isDigest(digest)) return undefined;
    const made = { digest: (known?.digest ?? digest) as Digest, size };
    if (!known) this.remember(digest, made);
    return made;
  }

  private shared(digest: string): BlobRef | undefined {
    const young = this.young.get(digest);
    if (young) return young;
    const old = this.old.get(digest);
    if (old) this.remember(digest, old);
    return old;
  }

  private remember(digest: string, blob: BlobRef): void {
    if (this.young.size >= RECENT_BLOBS) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(digest, blob);
  }
}

function isStringArray(value: unknown): value is string[] {
  if (!Array.isArray(value)) return false;
  for (const v of value) if (typeof v !== "string") return false;
  return true;
}

/** What `z.number().int().nonnegative()` accepts, or less. */
function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

import { RegistryError } from "../../errors.js";
import type { Digest } from "../../oci/digest.js";

/** How often a broken blob read is continued before the item fails. */
export const BLOB_RESUMPTIONS = 3;

/** Opens the blob from a byte offset on (see RegistryReader.openBlob). */
export type OpenAt = (offset: number) => Promise<AsyncIterable<Uint8Array>>;

/**
 * A blob read that survives its connection breaking mid-way ("other side closed", a reset, a body
 * timeout): it opens the blob again from the first byte it has not yet passed on, up to
 * `resumptions` times, so the consumer sees one uninterrupted body. The transport retries only
 * until the first byte arrives; a layer of gigabytes would otherwise fail on one bad packet. It does
 * not check the bytes: wrap it in verifiedStream, which hashes the whole blob however many reads it
 * took.
 */
export async function* resumableRead(
  open: OpenAt,
  blob: { readonly digest: Digest; readonly size: number },
  /** Names the blob in errors, e.g. `blob repo@sha256:…`. */
  what: string,
  resumptions = BLOB_RESUMPTIONS,
): AsyncIterable<Uint8Array> {
  let offset = 0;
  let stream = await open(0);
  for (let resumed = 0; ; resumed++) {
    let broke: unknown;
    try {
      for await (const chunk of stream) {
        offset += chunk.byteLength;
        yield chunk;
      }
    } catch (error) {
      broke = error;
    }
    // A body that ended cleanly is what the registry has: if it is short, the digest check says so.
    if (broke === undefined) return;
    const why = causeOf(broke);
    if (resumed >= resumptions) {
      throw new Error(
        `${what}: the transfer broke ${resumed + 1} times, the last at byte ${offset} of ${blob.size} (${why}); check the network or the registry, then retry`,
        { cause: broke },
      );
    }
    try {
      stream = await open(offset);
    } catch (error) {
      // The registry answered (404, 401, …): no resumption can fix that.
      if (error instanceof RegistryError) throw error;
      throw new Error(
        `${what}: could not continue the transfer at byte ${offset} of ${blob.size}: ${causeOf(error)}`,
        { cause: error },
      );
    }
  }
}

function causeOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  return code && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
}

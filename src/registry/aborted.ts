/**
 * The run was cancelled (its AbortSignal fired, or the transport was closed): never retried, and
 * nothing that was still queued reached the registry.
 */
export class AbortedError extends Error {
  override name = "AbortedError";
}

/** Rejects with AbortedError as soon as `signal` aborts; a no-op without a signal. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortedError(`${what}: cancelled`, { cause: signal.reason });
}

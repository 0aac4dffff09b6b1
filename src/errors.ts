/**
 * The errors regsweep's callers act on, each with the CLI exit code it maps to: 0 success,
 * 1 runtime failure, 2 bad usage or configuration, 3 a usage source failed (nothing deleted).
 * Every layer throws these; only the CLI turns them into exit codes.
 */
export const ExitCode = { ok: 0, failure: 1, usage: 2, usageSource: 3 } as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** A mistake in how regsweep was called or configured (a flag, the configuration file, a plan file). */
export class UsageError extends Error {
  override name = "UsageError";
  readonly exitCode: ExitCodeValue = ExitCode.usage;
}

/** A required usage source could not be read: nothing may be deleted. */
export class UsageSourceError extends Error {
  override name = "UsageSourceError";
  readonly exitCode: ExitCodeValue = ExitCode.usageSource;
  constructor(
    readonly source: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`usage source ${source} failed: ${message}`, options);
  }
}

/** Thrown for answers of a registry that a retry cannot fix, carrying what a user needs to act on it. */
export class RegistryError extends Error {
  override name = "RegistryError";
  readonly exitCode: ExitCodeValue = ExitCode.failure;
  constructor(
    message: string,
    readonly status?: number,
    readonly code?:
      | "unauthorized"
      | "denied"
      | "deletes-disabled"
      | "unsupported"
      | "incomplete-listing"
      | "digest-mismatch"
      | "http",
  ) {
    super(message);
  }
}

/**
 * The run was cancelled (its AbortSignal fired, or the transport was closed): never retried, and
 * nothing that was still queued reached the registry.
 */
export class AbortedError extends Error {
  override name = "AbortedError";
  readonly exitCode: ExitCodeValue = ExitCode.failure;
}

/** Rejects with AbortedError as soon as `signal` aborts; a no-op without a signal. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortedError(`${what}: cancelled`, { cause: signal.reason });
}

/**
 * Settles as soon as `signal` aborts, even where a client cannot be interrupted (queues and retry
 * waits that do not watch the signal, though the requests they start do).
 */
export function untilAborted<T>(signal: AbortSignal, work: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** The exit code an error maps to; anything unexpected is a runtime failure. */
export function exitCodeOf(error: unknown): ExitCodeValue {
  const code = (error as { exitCode?: unknown } | null)?.exitCode;
  return code === ExitCode.usage || code === ExitCode.usageSource || code === ExitCode.failure
    ? code
    : ExitCode.failure;
}

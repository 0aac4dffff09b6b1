const UNIT_MS: Record<string, number> = {
  d: 86_400_000,
  h: 3_600_000,
  m: 60_000,
  s: 1_000,
  ms: 1,
  us: 0.001,
  µs: 0.001,
  ns: 0.000001,
};

/**
 * Parses acr purge's `--ago`: a Go duration extended with days (`30d`, `1d12h`, `2d3h6m`, `90m`,
 * `0d`). Returns milliseconds, or undefined when the text is not a duration.
 */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === "0") return 0; // Go's time.ParseDuration (and so acr purge) accepts a bare 0
  if (!/^(?:\d+(?:\.\d+)?(?:d|h|ms|m|s|us|µs|ns))+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const m of trimmed.matchAll(/(\d+(?:\.\d+)?)(d|h|ms|m|s|us|µs|ns)/g)) {
    total += Number(m[1]) * (UNIT_MS[m[2] ?? ""] ?? 0);
  }
  return total;
}

/** acr purge caps `--ago` at 150 years (of 365 days) rather than overflow. */
export const MAX_AGO_MS = 150 * 365 * 86_400_000;

/**
 * Parses `--ago` exactly as acr purge does: an optional signed whole number of days, then an
 * optional signed Go duration (`30d`, `1d12h`, `90m`, `-1d`, `1d-2h`). A negative result means
 * "everything is old enough"; anything over 150 years is 150 years. Returns milliseconds (negative
 * allowed), or undefined when the text is not a duration.
 */
export function parseAgo(text: string): number | undefined {
  const m = /^([-+]?\d+)d(.*)$/.exec(text.trim());
  const daysMs = m ? Number(m[1]) * 86_400_000 : 0;
  const rest = m ? (m[2] ?? "") : text.trim();
  let restMs = 0;
  if (rest !== "" || !m) {
    const sign = rest.startsWith("-") ? -1 : 1;
    const unsigned = parseDuration(rest.replace(/^[-+]/, ""));
    // Days come first, as in acr purge: a `d` after another unit is not a duration.
    if (unsigned === undefined || /d/.test(rest)) return undefined;
    restMs = sign * unsigned;
  }
  return Math.min(daysMs + restMs, MAX_AGO_MS);
}

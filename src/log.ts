import { type Logger, pino } from "pino";

/**
 * Diagnostic logs: JSON lines on stderr, silent unless asked for (`--log-level debug` or
 * REGSWEEP_LOG_LEVEL). User-facing messages are plain text and do not go through here.
 * Authorization headers are redacted should anything ever log one.
 */
export const log: Logger = pino(
  {
    name: "regsweep",
    level: process.env.REGSWEEP_LOG_LEVEL ?? "silent",
    redact: { paths: ["*.authorization", "*.Authorization", "password", "*.password"], censor: "[REDACTED]" },
  },
  pino.destination(2),
);

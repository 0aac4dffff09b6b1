import { createRequire } from "node:module";
import type { Logger } from "pino";

type Level = "silent" | "fatal" | "error" | "warn" | "info" | "debug" | "trace";
const ORDER: readonly Level[] = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

let level: Level = (process.env.REGSWEEP_LOG_LEVEL as Level | undefined) ?? "silent";
let pinoLogger: Logger | undefined;

/** pino is loaded on the first message that is actually written: most runs log nothing. */
function logger(): Logger {
  if (!pinoLogger) {
    const { pino } = createRequire(import.meta.url)("pino") as typeof import("pino");
    pinoLogger = pino(
      {
        name: "regsweep",
        level,
        redact: {
          paths: ["*.authorization", "*.Authorization", "password", "*.password"],
          censor: "[REDACTED]",
        },
      },
      pino.destination(2),
    );
  }
  return pinoLogger;
}

function enabled(l: Level): boolean {
  return level !== "silent" && ORDER.indexOf(l) >= ORDER.indexOf(level);
}

/**
 * Diagnostic logs: JSON lines on stderr (pino), silent unless asked for (`--log-level debug` or
 * REGSWEEP_LOG_LEVEL). User-facing messages are plain text and do not go through here.
 * Authorization headers are redacted should anything ever log one.
 */
export const log = {
  get level(): string {
    return level;
  },
  set level(value: string) {
    level = value as Level;
    if (pinoLogger) pinoLogger.level = value;
  },
  isLevelEnabled: (l: Level) => enabled(l),
  debug: (obj: object, msg: string) => enabled("debug") && logger().debug(obj, msg),
  info: (obj: object, msg: string) => enabled("info") && logger().info(obj, msg),
  warn: (obj: object, msg: string) => enabled("warn") && logger().warn(obj, msg),
  error: (obj: object, msg: string) => enabled("error") && logger().error(obj, msg),
};

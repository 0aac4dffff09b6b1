import { UsageError } from "../errors.js";
import type { ObjectKind, ObjectTarget } from "./domino-usage.js";

const KINDS: readonly ObjectKind[] = ["environment", "environmentRevision", "model", "modelVersion"];

/**
 * The Domino cleaner's `--input` file: one `kind:<24-hex ObjectId>` per line, `#` comments, blank
 * lines ignored. The prefix is required, so that an id can never be read as the wrong kind of object.
 */
export function parseObjectIds(text: string, file: string): ObjectTarget[] {
  const targets: ObjectTarget[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) return;
    const m = /^([A-Za-z]+):([0-9a-fA-F]{24})$/.exec(line);
    const kind = m?.[1] as ObjectKind | undefined;
    if (!m || !kind || !KINDS.includes(kind)) {
      throw new UsageError(
        `${file}:${i + 1}: ${JSON.stringify(raw.trim())} is not kind:ObjectId (kinds: ${KINDS.join(", ")}; the id is 24 hex digits)`,
      );
    }
    targets.push({ kind, id: (m[2] as string).toLowerCase() });
  });
  return targets;
}

import { readFile } from "node:fs/promises";
import { expandHome } from "../config/expand-home.js";
import { UsageError, UsageSourceError } from "../errors.js";
import { InvalidReferenceError, parseReference } from "../oci/reference.js";
import type { Usage, UsageSource } from "./usage.js";

/**
 * Parses a reference list: one image reference per line, `#` starts a comment, blank lines are
 * skipped. A line that is not a reference is a usage error naming its line, never a silent skip:
 * a skipped line would leave an in-use image unprotected.
 */
export function parseInUseList(text: string, label: string, kind = "in-use-file"): Usage[] {
  const usages: Usage[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const raw = line.replace(/#.*$/, "").trim();
    if (!raw) return;
    try {
      usages.push({
        reference: parseReference(raw),
        raw,
        source: `${kind ? `${kind} ` : ""}${label}:${i + 1}`,
      });
    } catch (error) {
      throw new UsageError(describeBadLine(raw, `${label} line ${i + 1}`, label === STDIN_LABEL, error));
    }
  });
  return usages;
}

const STDIN_LABEL = "<stdin>";
const SHOWN_CHARACTERS = 40;

/**
 * Standard input may carry a secret meant for another option (a password piped to the wrong
 * flag), so a rejected stdin line is never shown; a file line is shown only in part, and the
 * parser's reason only when it does not repeat the line.
 */
function describeBadLine(raw: string, where: string, fromStdin: boolean, error: unknown): string {
  if (fromStdin) {
    return `${where}: not an image reference (${raw.length} characters, not shown): send one reference per line, e.g. registry.example.com/team/app:1.2`;
  }
  const shown = raw.length > SHOWN_CHARACTERS ? `${raw.slice(0, SHOWN_CHARACTERS - 1)}…` : raw;
  const message = error instanceof InvalidReferenceError ? error.message : String(error);
  const reason = message.replace(`${JSON.stringify(raw)}: `, "");
  const why = reason.length <= 60 && !reason.includes(raw) ? ` (${reason})` : "";
  return `${where}: not an image reference: ${JSON.stringify(shown)}${why}: fix or remove that line`;
}

/** `--in-use-file FILE` (or `-` for standard input). */
export function inUseFileSource(path: string, readStdin: () => Promise<string>): UsageSource {
  const label = path === "-" ? STDIN_LABEL : path;
  return {
    name: `in-use-file ${label}`,
    optional: false,
    readsStdin: path === "-",
    async load(signal) {
      let text: string;
      try {
        text =
          path === "-"
            ? await readStdin()
            : await readFile(expandHome(path), { encoding: "utf8", ...(signal ? { signal } : {}) });
      } catch (error) {
        // An in-use list that cannot be read is a usage source that failed: fail closed (exit 3).
        throw new UsageSourceError(`in-use-file ${label}`, (error as Error).message, { cause: error });
      }
      return parseInUseList(text, label);
    },
  };
}

import { readFile } from "node:fs/promises";
import { expandHome } from "../config/expand-home.js";
import { UsageError } from "../registry/registry-url.js";
import { InvalidReferenceError, parseReference } from "./reference.js";
import { type Usage, type UsageSource, UsageSourceError } from "./usage.js";

/**
 * Parses a reference list: one image reference per line, `#` starts a comment, blank lines are
 * skipped. A line that is not a reference is a usage error naming its line, never a silent skip:
 * a skipped line would leave an in-use image unprotected.
 */
export function parseInUseList(text: string, label: string): Usage[] {
  const usages: Usage[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const raw = line.replace(/#.*$/, "").trim();
    if (!raw) return;
    try {
      usages.push({ reference: parseReference(raw), raw, source: `in-use-file ${label}:${i + 1}` });
    } catch (error) {
      const why = error instanceof InvalidReferenceError ? error.message : String(error);
      throw new UsageError(`${label} line ${i + 1}: not an image reference: ${why}`);
    }
  });
  return usages;
}

/** `--in-use-file FILE` (or `-` for standard input). */
export function inUseFileSource(path: string, readStdin: () => Promise<string>): UsageSource {
  const label = path === "-" ? "<stdin>" : path;
  return {
    name: `in-use-file ${label}`,
    optional: false,
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

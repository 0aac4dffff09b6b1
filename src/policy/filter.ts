import { UsageError } from "../errors.js";
/** One `--filter REPO_REGEX:TAG_REGEX`: repository anchored, tag unanchored, as acr purge reads it. */
export interface Filter {
  readonly text: string;
  readonly repository: RegExp;
  readonly tag: RegExp;
}

/** A filter that does not parse: bad usage, like any other flag. */
export class FilterError extends UsageError {
  override name = "FilterError";
}

/**
 * Splits at the first `:` that is not inside a group or character class, so a repository regex may
 * still use `(?:…)`. A filter without a tag part matches every tag.
 */
export function parseFilter(text: string): Filter {
  const split = splitPoint(text);
  const repoPart = split < 0 ? text : text.slice(0, split);
  const tagPart = split < 0 ? ".*" : text.slice(split + 1);
  if (!repoPart) throw new FilterError(`--filter ${JSON.stringify(text)}: the repository part is empty`);
  try {
    return { text, repository: new RegExp(`^(?:${repoPart})$`), tag: new RegExp(tagPart || ".*") };
  } catch (error) {
    throw new FilterError(`--filter ${JSON.stringify(text)}: ${(error as Error).message}`);
  }
}

function splitPoint(text: string): number {
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\\") {
      i++;
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      continue;
    }
    if (c === "[") inClass = true;
    else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === ":" && depth === 0) return i;
  }
  return -1;
}

export function repositorySelected(filters: readonly Filter[], repository: string): boolean {
  return filters.some((f) => f.repository.test(repository));
}

import { RE2JS } from "re2js";
import { UsageError } from "../errors.js";

/**
 * A compiled regular expression of acr purge's dialect. acr purge compiles with regexp2 in RE2
 * mode: RE2 syntax (POSIX classes `[[:digit:]]`, `(?P<name>)`, `\Q…\E`, inline flags) plus .NET's
 * lookarounds and backreferences. RE2 syntax runs on re2js (linear time); a pattern only a
 * backtracking engine can run (a lookaround, a backreference) runs on JavaScript's RegExp.
 */
export interface FilterPattern {
  readonly source: string;
  readonly engine: "re2" | "javascript";
  test(text: string): boolean;
}

/** One `--filter REPO_REGEX:TAG_REGEX`: repository anchored, tag unanchored, as acr purge reads it. */
export interface Filter {
  readonly text: string;
  readonly repository: FilterPattern;
  readonly tag: FilterPattern;
}

/** A filter that does not parse: bad usage, like any other flag. */
export class FilterError extends UsageError {
  override name = "FilterError";
}

const EXAMPLE = "e.g. --filter 'team/api:^v[[:digit:]]+'";

/**
 * Splits at the one `:` that is outside every group, character class and `\Q…\E` quote, as acr
 * purge does: no such colon, more than one, or an empty side is an error (acr purge refuses them
 * too; selecting nothing instead would pass silently).
 */
export function parseFilter(text: string): Filter {
  const name = `--filter ${JSON.stringify(text)}`;
  const colons = topLevelColons(text);
  if (colons.length === 0) {
    throw new FilterError(`${name}: no ':' between the repository and the tag regex (${EXAMPLE})`);
  }
  if (colons.length > 1) {
    throw new FilterError(
      `${name}: more than one ':' outside a group or class; write a literal colon as [:] (${EXAMPLE})`,
    );
  }
  const at = colons[0] as number;
  const repoPart = text.slice(0, at);
  const tagPart = text.slice(at + 1);
  if (!repoPart) throw new FilterError(`${name}: the repository regex is empty (${EXAMPLE})`);
  if (!tagPart) throw new FilterError(`${name}: the tag regex is empty; use .* for every tag (${EXAMPLE})`);
  return {
    text,
    repository: compile(`^(?:${repoPart})$`, repoPart, name, "repository"),
    tag: compile(tagPart, tagPart, name, "tag"),
  };
}

function compile(pattern: string, written: string, name: string, part: string): FilterPattern {
  let re2Error: Error;
  try {
    const re = RE2JS.compile(pattern);
    return { source: written, engine: "re2", test: (s) => re.matcher(s).find() };
  } catch (error) {
    re2Error = error as Error;
  }
  // Only what RE2 leaves out for being non-linear goes to the backtracking engine.
  if (/\(\?<?[=!]|\\[1-9]|\\k[<'{]|\(\?>|\(\?\(/.test(pattern)) {
    const js = javascriptPattern(pattern);
    if (js !== undefined) {
      try {
        const re = new RegExp(js, "u");
        return { source: written, engine: "javascript", test: (s) => re.test(s) };
      } catch {
        // Falls through to the RE2 message, which names the construct.
      }
    }
  }
  throw new FilterError(
    `${name}: the ${part} regex ${JSON.stringify(written)} does not parse (${re2Error.message.replace(/^error parsing regexp: /, "")}); acr purge's syntax is RE2 plus lookarounds`,
  );
}

const POSIX_CLASSES: Record<string, string> = {
  alnum: "0-9A-Za-z",
  alpha: "A-Za-z",
  ascii: "\\x00-\\x7F",
  blank: "\\t ",
  cntrl: "\\x00-\\x1F\\x7F",
  digit: "0-9",
  graph: "!-~",
  lower: "a-z",
  print: " -~",
  punct: "!-\\/:-@\\[-`{-~",
  space: "\\t\\n\\v\\f\\r ",
  upper: "A-Z",
  word: "0-9A-Za-z_",
  xdigit: "0-9A-Fa-f",
};

/**
 * The pattern for JavaScript's RegExp: POSIX classes inside a bracket expression become ranges.
 * undefined for what JavaScript would read differently (a negated POSIX class, `\Q…\E`, `(?P<`).
 */
function javascriptPattern(pattern: string): string | undefined {
  if (/\[:\^|\\Q|\(\?P</.test(pattern)) return undefined;
  let unknown = false;
  const out = pattern.replace(/\[:([a-z]+):\]/g, (whole, cls: string) => {
    const range = POSIX_CLASSES[cls];
    if (range === undefined) unknown = true;
    return range ?? whole;
  });
  return unknown ? undefined : out;
}

/** Offsets of every `:` outside groups, character classes (with their POSIX classes) and `\Q…\E`. */
function topLevelColons(text: string): number[] {
  const found: number[] = [];
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\\") {
      if (text[i + 1] === "Q") {
        const end = text.indexOf("\\E", i + 2);
        i = end < 0 ? text.length : end + 1;
      } else i++;
      continue;
    }
    if (inClass) {
      if (c === "[" && text[i + 1] === ":") {
        const end = text.indexOf(":]", i + 2);
        if (end >= 0) i = end + 1;
      } else if (c === "]") inClass = false;
      continue;
    }
    if (c === "[") {
      inClass = true;
      // A `]` right after `[` or `[^` is a literal member, not the end.
      if (text[i + 1] === "^") i++;
      if (text[i + 1] === "]") i++;
    } else if (c === "(") depth++;
    else if (c === ")") depth = Math.max(0, depth - 1);
    else if (c === ":" && depth === 0) found.push(i);
  }
  return found;
}

/**
 * One `--protect-tag REGEX`: a tag it matches whole (anchored, as the repository part of a filter)
 * keeps its manifest. Compiled as filters are, so `[[:digit:]]` works and a pattern that does not
 * parse is bad usage naming it.
 */
export function parseProtectTag(text: string): FilterPattern {
  const name = `--protect-tag ${JSON.stringify(text)}`;
  if (!text) throw new FilterError(`${name}: the pattern is empty (e.g. --protect-tag latest)`);
  return compile(`^(?:${text})$`, text, name, "tag");
}

export function repositorySelected(filters: readonly Filter[], repository: string): boolean {
  return filters.some((f) => f.repository.test(repository));
}

/** `scan --filter` selects repositories only: a bare REPO_REGEX is accepted, as is REPO_REGEX:TAG_REGEX. */
export function parseRepositoryFilter(text: string): Filter {
  return parseFilter(topLevelColons(text).length === 0 && text !== "" ? `${text}:.*` : text);
}

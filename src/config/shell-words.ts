import { UsageError } from "../errors.js";

/** A command line that does not split: an unterminated quote or a trailing backslash. */
export class ShellWordsError extends UsageError {
  override name = "ShellWordsError";
}

/**
 * Splits a command line into words as a POSIX shell would, without expanding anything: blanks
 * separate words; `'…'` is literal; `"…"` is literal except `\"`, `\\`, `\$`, `` \` `` and a
 * backslash-newline; outside quotes a backslash makes the next character literal. `$VAR` and
 * globs stay as written (a pasted `--filter '$repo:.*'` keeps its text).
 */
export function splitShellWords(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0)
        throw new ShellWordsError(`unterminated ' quote at character ${i + 1} of ${JSON.stringify(line)}`);
      word += line.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        const d = line[j] as string;
        const next = line[j + 1];
        if (d === "\\" && next !== undefined && '"\\$`\n'.includes(next)) {
          if (next !== "\n") word += next;
          j++;
        } else word += d;
      }
      if (j >= line.length) {
        throw new ShellWordsError(`unterminated " quote at character ${i + 1} of ${JSON.stringify(line)}`);
      }
      inWord = true;
      i = j;
    } else if (c === "\\") {
      const next = line[i + 1];
      if (next === undefined) throw new ShellWordsError(`trailing backslash in ${JSON.stringify(line)}`);
      if (next !== "\n") {
        word += next;
        inWord = true;
      }
      i++;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** POSIX shell quoting: safe words as they are, anything else in single quotes. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, "'\\''")}'`;
}

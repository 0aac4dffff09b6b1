import { runCli } from "../integration/helpers.js";

/** One `regsweep <command> …` found in a script, workflow, pipeline, task or manifest. */
export interface Invocation {
  readonly command: string;
  readonly flags: readonly string[];
  readonly line: string;
}

const COMMANDS = "scan|plan|purge|run|apply|restore|report|doctor|config import|config schema|config|wizard";
// `regsweep`, `npx regsweep@1.2.3`, `$Registry/regsweep:0.1.0` (an image), followed by a command.
const INVOCATION = new RegExp(`(?:^|[\\s/"'])regsweep(?:[@:][^\\s]+)?\\s+(${COMMANDS})\\b(.*)$`);

/** Every regsweep invocation in a text (shell continuations joined), with the flags it passes. */
export function invocationsIn(text: string): Invocation[] {
  const found: Invocation[] = [];
  // Template expressions (${{ … }}) are values, never flags: one word each.
  // A double-quoted argument is one value ("acr purge --ago 7d" is not regsweep's --ago).
  const flat = text
    .replace(/\\\r?\n/g, " ")
    .replace(/\$\{\{.*?\}\}/g, "EXPR")
    .replace(/"[^"\n]*"/g, "STR");
  for (const line of flat.split(/\r?\n/)) {
    const m = INVOCATION.exec(line);
    if (!m) continue;
    // A shell operator ends the command.
    const rest = (m[2] ?? "").split(/\s(?:&&|\|\||\||;)\s/)[0] ?? "";
    const flags = rest
      .split(/\s+/)
      .map((t) => t.replace(/^["']/, ""))
      .filter((t) => /^--?[a-zA-Z]/.test(t))
      .map((t) => t.replace(/=.*$/, ""));
    found.push({ command: m[1] as string, flags, line: line.trim() });
  }
  return found;
}

/** Every string in a parsed YAML document, for finding scripts wherever a format keeps them. */
export function stringsOf(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) {
    // Container args: one flag per element, so the list read as one command line.
    const joined = value.every((v) => typeof v === "string") ? [value.join(" ")] : [];
    return [...joined, ...value.flatMap(stringsOf)];
  }
  if (value && typeof value === "object") return Object.values(value).flatMap(stringsOf);
  return [];
}

const helpCache = new Map<string, Promise<Set<string>>>();

/** The flags `regsweep <command> --help` lists (the built CLI in dist/). */
export function flagsOf(command: string): Promise<Set<string>> {
  let p = helpCache.get(command);
  if (!p) {
    p = runCli([...command.split(" "), "--help"]).then((res) => {
      if (res.code !== 0) throw new Error(`regsweep ${command} --help exited ${res.code}: ${res.stderr}`);
      return new Set([...res.stdout.matchAll(/(?:^|[\s,])(--?[a-zA-Z][\w-]*)/gm)].map((m) => m[1] as string));
    });
    helpCache.set(command, p);
  }
  return p;
}

/** The flags of these invocations that their command does not have, as `command --flag (line)`. */
export async function unknownFlags(invocations: readonly Invocation[]): Promise<string[]> {
  const unknown: string[] = [];
  for (const inv of invocations) {
    const known = await flagsOf(inv.command);
    for (const flag of inv.flags) if (!known.has(flag)) unknown.push(`${inv.command} ${flag} (${inv.line})`);
  }
  return unknown;
}

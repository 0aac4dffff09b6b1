/**
 * Reads values out of database documents by dotted path, walking arrays, so that one query
 * field spec (`metadata.builds.slug.image.tag`) finds every value however deep the arrays go. Pure.
 */

/** Every value at `path` in `doc`; arrays on the way (and at the end) are walked. */
export function valuesAt(doc: unknown, path: string): unknown[] {
  let current: unknown[] = [doc];
  for (const key of path.split(".")) {
    const next: unknown[] = [];
    for (const value of current) {
      for (const item of Array.isArray(value) ? value : [value]) {
        if (item !== null && typeof item === "object" && key in (item as object)) {
          next.push((item as Record<string, unknown>)[key]);
        }
      }
    }
    current = next;
  }
  return current.flatMap((v) => (Array.isArray(v) ? v : [v]));
}

/**
 * The sub-documents at the longest dotted prefix the paths share, and each path's rest: fields
 * of one array element pair up (a build's repository with that build's tag), never across elements.
 */
export function commonContexts(
  doc: unknown,
  paths: readonly string[],
): { contexts: unknown[]; rests: string[] } {
  const split = paths.map((p) => p.split("."));
  const common: string[] = [];
  for (let i = 0; split.every((s) => s.length > i + 1 && s[i] === split[0]?.[i]); i++)
    common.push(split[0]?.[i] as string);
  const contexts = common.length ? valuesAt(doc, common.join(".")) : [doc];
  return { contexts, rests: split.map((s) => s.slice(common.length).join(".")) };
}

/** A value usable as part of an image name: a non-empty string (or a number, for tags). */
export function nameValue(value: unknown): string | undefined {
  if (typeof value === "string" && value.trim()) return value.trim();
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return undefined;
}

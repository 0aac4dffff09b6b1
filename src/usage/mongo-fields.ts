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

/**
 * Every ObjectId in a document (and every string of 24 hex digits, as ids are sometimes stored),
 * with the dotted path it sits at: a record may name an environment in any field. Pure.
 */
export function idsIn(doc: unknown, path = ""): { path: string; id: string }[] {
  const out: { path: string; id: string }[] = [];
  const walk = (value: unknown, at: string, depth: number) => {
    if (depth > 32 || value === null || value === undefined) return;
    if (typeof value === "string") {
      if (/^[0-9a-fA-F]{24}$/.test(value)) out.push({ path: at, id: value.toLowerCase() });
      return;
    }
    if (typeof value !== "object") return;
    const hex = objectIdHex(value);
    if (hex) {
      out.push({ path: at, id: hex });
      return;
    }
    if (value instanceof Date) return;
    if (Array.isArray(value)) {
      for (const item of value) walk(item, at, depth + 1);
      return;
    }
    for (const [key, child] of Object.entries(value)) walk(child, at ? `${at}.${key}` : key, depth + 1);
  };
  walk(doc, path, 0);
  return out;
}

/** The hex of a BSON ObjectId (any copy of the bson library), or of a 24-hex string. */
export function objectIdHex(value: unknown): string | undefined {
  if (typeof value === "string") return /^[0-9a-fA-F]{24}$/.test(value) ? value.toLowerCase() : undefined;
  if (value && typeof value === "object" && (value as { _bsontype?: unknown })._bsontype === "ObjectId") {
    return (value as { toHexString(): string }).toHexString();
  }
  return undefined;
}

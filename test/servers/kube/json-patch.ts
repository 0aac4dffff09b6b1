/**
 * RFC 6902 JSON Patch (add, remove, replace, test; the subset regsweep and kubectl send), applied
 * to a copy as the API server does: any failing op rejects the whole patch.
 */
export class PatchError extends Error {}

type Json = Record<string, unknown> | unknown[];

export function applyJsonPatch<T>(doc: T, ops: unknown): T {
  if (!Array.isArray(ops)) throw new PatchError("the patch is not a JSON array of operations");
  const copy = structuredClone(doc) as unknown as Json;
  for (const raw of ops) {
    const op = raw as { op?: string; path?: string; value?: unknown };
    if (typeof op.path !== "string") throw new PatchError("an operation without a path");
    const tokens = op.path
      .split("/")
      .slice(1)
      .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
    const last = tokens.pop();
    if (last === undefined) throw new PatchError(`cannot patch the whole document (${op.path})`);
    let parent: unknown = copy;
    for (const t of tokens) {
      parent = (parent as Record<string, unknown> | undefined)?.[t];
      if (parent === undefined || parent === null || typeof parent !== "object")
        throw new PatchError(`doc is missing path: ${op.path}`);
    }
    const container = parent as Json;
    const exists = Array.isArray(container) ? Number(last) < container.length : last in container;
    switch (op.op) {
      case "test":
        if (JSON.stringify((container as Record<string, unknown>)[last]) !== JSON.stringify(op.value))
          throw new PatchError(`testing value ${op.path} failed`);
        break;
      case "add":
        if (Array.isArray(container)) {
          if (last === "-") container.push(op.value);
          else container.splice(Number(last), 0, op.value);
        } else container[last] = op.value;
        break;
      case "replace":
        if (!exists) throw new PatchError(`replace operation does not apply: doc is missing key: ${op.path}`);
        (container as Record<string, unknown>)[last] = op.value;
        break;
      case "remove":
        if (!exists) throw new PatchError(`remove operation does not apply: doc is missing path: ${op.path}`);
        if (Array.isArray(container)) container.splice(Number(last), 1);
        else delete container[last];
        break;
      default:
        throw new PatchError(`Unexpected kind: ${String(op.op)}`);
    }
  }
  return copy as unknown as T;
}

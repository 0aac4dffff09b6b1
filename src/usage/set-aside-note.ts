import { formatReference } from "../oci/reference.js";
import type { Usage } from "./usage.js";

const SHOWN = 20;

/**
 * The note for references that name another registry. Each is listed with where it came from:
 * a reference that names this registry by another name (a private endpoint, a pull-through
 * mirror) protects nothing until that name is an alias, and a bare count hides which one it is.
 */
export function setAsideNote(setAside: readonly Usage[]): string | undefined {
  if (setAside.length === 0) return undefined;
  const hosts = new Map<string, number>();
  for (const u of setAside) hosts.set(u.reference.host, (hosts.get(u.reference.host) ?? 0) + 1);
  const [commonest] = [...hosts].sort((a, b) => b[1] - a[1]);
  const lines = [
    `note: ${setAside.length} in-use references name other registries and were set aside (if one of these hosts is this registry, pass --registry-alias HOST, e.g. --registry-alias ${commonest?.[0]}):`,
    ...setAside.slice(0, SHOWN).map((u) => `  ${formatReference(u.reference)} (${u.source})`),
  ];
  if (setAside.length > SHOWN) lines.push(`  ... and ${setAside.length - SHOWN} more`);
  return lines.join("\n");
}

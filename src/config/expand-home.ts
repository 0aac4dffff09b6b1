import { homedir } from "node:os";

/** Configuration files say `~/.kube/config`; no shell is there to expand it. */
export function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? `${homedir()}${path.slice(1)}` : path;
}

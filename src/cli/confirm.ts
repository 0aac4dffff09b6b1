import { createInterface } from "node:readline/promises";
import { UsageError } from "../errors.js";

/**
 * Deleting needs --yes, or a person at a terminal who types DELETE (with `--confirm strict`,
 * first `yes`, then `DELETE`, as the App Service cleanup script asked). Without a terminal and
 * without --yes we refuse (exit 2) rather than hang or guess.
 */
export async function confirmDeletion(
  summary: string,
  yes: boolean,
  mode: "normal" | "strict" = "normal",
): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new UsageError("refusing to delete without --yes: no terminal to confirm at");
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    process.stderr.write(`${summary}\n`);
    if (mode === "strict") {
      const first = await rl.question("This deletes images for good. Continue? Type yes: ");
      if (first.trim() !== "yes") return false;
    }
    const answer = await rl.question("Type DELETE to delete these manifests: ");
    return answer.trim() === "DELETE";
  } finally {
    rl.close();
  }
}

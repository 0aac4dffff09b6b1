import { readFileSync } from "node:fs";
import { UsageError } from "../errors.js";

/**
 * Reads the PEM given with --ca-file. A file that cannot be read or holds no certificate is a
 * configuration mistake (exit 2), not a registry failure.
 */
export function readCaFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
    throw new UsageError(
      `--ca-file ${path}: cannot read it (${code}) — give the path of a PEM certificate file`,
    );
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----")) {
    throw new UsageError(
      `--ca-file ${path}: no PEM certificate in it (expected -----BEGIN CERTIFICATE-----) — give the CA certificate, not a key or a DER file`,
    );
  }
  return text;
}

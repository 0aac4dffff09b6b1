import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface SelfSignedCert {
  certPath: string;
  keyPath: string;
  certPem: string;
}

/**
 * Creates a P-256 key and a self-signed certificate valid for 127.0.0.1 and localhost, written as
 * `<name>.pem` / `<name>.key` in `dir`. The certificate is its own CA, so clients trust it by passing
 * `certPem` as `ca`, and distribution accepts it as a token-signing root.
 */
export async function makeSelfSignedCert(dir: string, name = "tls"): Promise<SelfSignedCert> {
  const certPath = join(dir, `${name}.pem`);
  const keyPath = join(dir, `${name}.key`);
  // biome-ignore format: keeps each openssl flag next to its value
  await run("openssl", [
    "req", "-x509", "-nodes", "-days", "1",
    "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
    "-subj", "/CN=localhost",
    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
    "-keyout", keyPath, "-out", certPath,
  ]);
  return { certPath, keyPath, certPem: await readFile(certPath, "utf8") };
}

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { type RunningRegistry, startRegistry } from "../harness/registry-process.js";
import { makeSelfSignedCert, type SelfSignedCert } from "../harness/tls.js";
import { runCli, tempDir } from "./helpers.js";

/** Every expected failure is one line on stderr that says what to pass instead. */
function oneLine(stderr: string): string {
  expect(stderr.split("\n").filter(Boolean)).toHaveLength(1);
  return stderr.trimEnd();
}

describe("the wrong scheme or an untrusted certificate is one line that says what to pass", () => {
  const plainHost = inject("registryHost");
  let tls: RunningRegistry;
  let cert: SelfSignedCert;
  let dir: string;

  beforeAll(async () => {
    dir = await tempDir();
    cert = await makeSelfSignedCert(dir);
    tls = await startRegistry({ tls: { certPath: cert.certPath, keyPath: cert.keyPath } });
    return () => tls.stop();
  });

  it("https:// against a plain-http registry: use http://", async () => {
    const result = await runCli(["scan", "--registry", `https://${plainHost}`, "--no-cache"]);
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toBe(
      `regsweep: https://${plainHost} answered plain HTTP, not TLS — use http://${plainHost} (add --insecure unless it is a loopback address)`,
    );
  });

  it.each([
    ["a bare HOST:PORT (plain http on loopback)", (host: string) => host],
    ["an http:// URL", (host: string) => `http://${host}`],
  ])("%s against a TLS registry: use https://", async (_what, registry) => {
    const result = await runCli(["scan", "--registry", registry(tls.host), "--no-cache"]);
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toBe(
      `regsweep: ${tls.host} speaks TLS: use https://${tls.host} (with --ca-file PEM or --insecure for a self-signed certificate)`,
    );
  });

  it("a self-signed certificate names the registry and suggests --ca-file or --insecure", async () => {
    const result = await runCli(["scan", "--registry", tls.url, "--no-cache"]);
    expect(result.code).toBe(1);
    const line = oneLine(result.stderr);
    expect(line).toContain(
      `https://${tls.host}: its TLS certificate is not trusted (self-signed certificate)`,
    );
    expect(line).toContain("--ca-file PEM");
    expect(line).toContain("--insecure");
  });

  it("--ca-file that cannot be read is bad configuration (exit 2)", async () => {
    const missing = join(dir, "missing.pem");
    const result = await runCli(["scan", "--registry", tls.url, "--ca-file", missing, "--no-cache"]);
    expect(result.code).toBe(2);
    expect(oneLine(result.stderr)).toBe(
      `regsweep: --ca-file ${missing}: cannot read it (ENOENT) — give the path of a PEM certificate file`,
    );
  });

  it("doctor reports a bad --ca-file as a failed check and exits 2, as bad configuration", async () => {
    const missing = join(dir, "missing.pem");
    const result = await runCli(["doctor", "--registry", tls.url, "--ca-file", missing, "--no-cache"]);
    expect(result.code).toBe(2);
    expect(result.stdout).toContain(`FAIL  registry: --ca-file ${missing}: cannot read it (ENOENT)`);
  });

  it("--ca-file that holds no certificate is bad configuration (exit 2)", async () => {
    const result = await runCli(["scan", "--registry", tls.url, "--ca-file", cert.keyPath, "--no-cache"]);
    expect(result.code).toBe(2);
    expect(oneLine(result.stderr)).toMatch(/^regsweep: --ca-file .*tls\.key: no PEM certificate in it/);
  });

  it("the certificate from --ca-file is trusted", async () => {
    const bundle = join(dir, "bundle.pem");
    await writeFile(bundle, cert.certPem);
    const result = await runCli(["scan", "--registry", tls.url, "--ca-file", bundle, "--no-cache"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  });
});

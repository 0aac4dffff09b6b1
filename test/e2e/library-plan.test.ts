import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import {
  type BuiltManifest,
  buildCosignSignature,
  buildImage,
  buildIndex,
  pushManifest,
} from "../../src/fixtures/image-factory.js";
import type { Inventory, ManifestNode } from "../../src/index.js";
import { parseReference, plan } from "../../src/index.js";
import { referrersTagFor } from "../../src/oci/digest.js";
import { type Plan, planSchema } from "../../src/plan/plan-schema.js";
import { connect, runCli, tempDir, uniqueRepo } from "../integration/helpers.js";

const DAY = 86_400_000;

/** The node a scan would make of a pushed manifest, written down from what was pushed. */
function nodeOf(
  built: BuiltManifest,
  o: { tags?: string[]; created?: Date; subject?: string; platform?: string },
): ManifestNode {
  const blobs = [...built.blobs].map(([digest, bytes]) => ({ digest, size: bytes.byteLength }));
  return {
    digest: built.digest,
    mediaType: built.mediaType,
    tags: o.tags ?? [],
    manifestSize: built.body.byteLength,
    blobs,
    children: built.children.map((c) => c.digest),
    ...(o.subject ? { subject: o.subject as ManifestNode["digest"] } : {}),
    ...(o.created ? { created: o.created.toISOString() } : {}),
    ageSource: o.created ? (built.children.length ? "child" : "config") : "unknown",
    ...(o.platform ? { platform: o.platform } : {}),
    sizeBytes: built.body.byteLength + blobs.reduce((s, b) => s + b.size, 0),
  };
}

const decisions = (p: Plan) =>
  Object.fromEntries(
    [...p.delete.map((e) => ["delete", e] as const), ...p.keep.map((e) => ["keep", e] as const)]
      .map(([action, e]) => [
        e.digest,
        `${action}: ${[...new Set(e.reasons.map((r) => r.rule))].sort().join(",")}`,
      ])
      .sort(),
  );

describe("plan() as a library, on an inventory built by hand", () => {
  it("decides exactly what the CLI decides on the same registry", async () => {
    const url = inject("registryUrl");
    const host = inject("registryHost");
    const { registry } = connect(url);
    const repo = uniqueRepo("lib-plan");
    const now = Date.now();
    const at = (days: number) => new Date(now - days * DAY);
    const img = (name: string, days: number, architecture = "amd64") =>
      buildImage({ seed: `${repo} ${name}`, created: at(days), architecture });
    const v1 = img("v1", 100);
    const v2 = img("v2", 80);
    const v3 = img("v3", 5);
    const amd = img("m amd", 70);
    const arm = img("m arm", 60, "arm64");
    const multi = buildIndex([amd, arm]);
    const signed = img("signed", 90);
    const sig = buildCosignSignature(signed, at(90));
    await pushManifest(registry, repo, v1, ["v1"]);
    await pushManifest(registry, repo, v2, ["v2", "stable"]);
    await pushManifest(registry, repo, v3, ["v3"]);
    await pushManifest(registry, repo, multi, ["m1"]);
    await pushManifest(registry, repo, signed, ["s1"]);
    const sigTag = `${referrersTagFor(signed.digest)}.sig`;
    await pushManifest(registry, repo, sig, [sigTag]);

    const dir = await tempDir();
    const inUseFile = join(dir, "in-use.txt");
    await writeFile(inUseFile, `${host}/${repo}:stable\n`);
    const planFile = join(dir, "plan.json");
    const cli = await runCli([
      "plan",
      "--registry",
      url,
      "--filter",
      `${repo}:.*`,
      "--ago",
      "30d",
      "--keep",
      "1",
      "--in-use-file",
      inUseFile,
      "--no-cache",
      "-o",
      planFile,
      "--audit-dir",
      join(dir, "audits"),
    ]);
    expect(cli.code, cli.stderr).toBe(0);
    const fromCli = planSchema.parse(JSON.parse(await readFile(planFile, "utf8")));

    const inventory: Inventory = {
      registry: host,
      listsUntagged: false,
      scannedAt: new Date(now).toISOString(),
      repositories: [
        {
          name: repo,
          manifests: [
            nodeOf(v1, { tags: ["v1"], created: at(100) }),
            nodeOf(v2, { tags: ["stable", "v2"], created: at(80) }),
            nodeOf(v3, { tags: ["v3"], created: at(5) }),
            nodeOf(multi, { tags: ["m1"], created: at(60) }),
            nodeOf(amd, { created: at(70), platform: "linux/amd64" }),
            nodeOf(arm, { created: at(60), platform: "linux/arm64" }),
            nodeOf(signed, { tags: ["s1"], created: at(90) }),
            nodeOf(sig, { tags: [sigTag], created: at(90), subject: signed.digest }),
          ],
        },
      ],
    };
    const usages = [{ reference: parseReference(`${host}/${repo}:stable`), raw: "", source: "test" }];
    const fromLibrary = plan({
      inventory,
      usages,
      policy: { filters: [`${repo}:.*`], ago: "30d", keep: 1 },
      now: new Date(fromCli.createdAt),
    });
    expect(decisions(fromLibrary)).toEqual(decisions(fromCli));
    expect(fromLibrary.delete.map((e) => e.digest)).toEqual(fromCli.delete.map((e) => e.digest));
    // A mix worth comparing: in use, kept newest, deleted with children and with a signature.
    expect(Object.values(decisions(fromCli))).toContain("keep: in-use");
    expect(fromCli.delete.map((e) => e.digest)).toEqual(
      expect.arrayContaining([v1.digest, signed.digest, sig.digest]),
    );
  });
});

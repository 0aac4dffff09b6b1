import {
  buildCosignSignature,
  buildImage,
  buildIndex,
  buildReferrer,
  pushManifest,
} from "../fixtures/image-factory.js";
import type { Digest } from "../oci/digest.js";
import { OciLayoutRegistry } from "../registry/oci-layout.js";

const DAY = 86_400_000;

export interface DemoSeed {
  readonly registry: OciLayoutRegistry;
  /** The in-use list a deployment pipeline would hand to regsweep. */
  readonly inUse: string;
}

/**
 * A small but realistic registry as an OCI layout tree: release tags of different ages, a
 * multi-arch index whose arm64 child is what a node runs, a cosign signature, an SBOM referrer,
 * an untagged leftover build, and a repository outside the filter.
 */
export async function seedDemo(root: string, now: Date, host: string): Promise<DemoSeed> {
  const registry = new OciLayoutRegistry(root);
  const ago = (days: number) => new Date(now.getTime() - days * DAY);
  const base = "shared base layer: debian bookworm";

  const web = (v: string, days: number) =>
    buildImage({ seed: `web ${v}`, created: ago(days), layers: [base, `web app ${v}`] });
  await pushManifest(registry, "shop/web", web("1.0", 200), ["1.0"]);
  await pushManifest(registry, "shop/web", web("1.1", 120), ["1.1"]);
  await pushManifest(registry, "shop/web", web("1.2", 60), ["1.2"]);
  await pushManifest(registry, "shop/web", web("1.3", 20), ["1.3", "latest"]);
  const leftover = web("1.3-rc1", 150);
  await pushManifest(registry, "shop/web", leftover);
  await registry.addUntagged("shop/web", leftover.digest, leftover.mediaType, leftover.body.byteLength);

  const api = (v: string, days: number) =>
    buildIndex(
      ["amd64", "arm64"].map((architecture) =>
        buildImage({
          seed: `api ${v} ${architecture}`,
          created: ago(days),
          architecture,
          layers: [base, `api ${v} ${architecture}`],
        }),
      ),
    );
  const api20 = api("2.0", 90);
  await pushManifest(registry, "shop/api", api20, ["2.0"]);
  await pushManifest(registry, "shop/api", api("2.1", 10), ["2.1"]);
  const runningChild = api20.children[1]?.digest as Digest;

  const worker = (v: string, days: number) =>
    buildImage({ seed: `worker ${v}`, created: ago(days), layers: [base, `worker ${v}`] });
  const w30 = worker("3.0", 100);
  await pushManifest(registry, "shop/worker", w30, ["3.0"]);
  await pushManifest(registry, "shop/worker", buildCosignSignature(w30, ago(100)), [
    `${w30.digest.replace(":", "-")}.sig`,
  ]);
  const w31 = worker("3.1", 50);
  await pushManifest(registry, "shop/worker", w31, ["3.1"]);
  const sbom = buildReferrer(w31, "application/spdx+json", '{"spdxVersion":"SPDX-2.3"}');
  await pushManifest(registry, "shop/worker", sbom);
  await registry.addUntagged("shop/worker", sbom.digest, sbom.mediaType, sbom.body.byteLength);
  await pushManifest(registry, "shop/worker", worker("3.2", 5), ["3.2"]);

  await pushManifest(registry, "tools/ci-runner", buildImage({ seed: "ci", created: ago(400) }), ["old"]);

  const inUse = [
    "# what production runs, as the deploy pipeline reports it",
    `${host}/shop/web:1.1`,
    `${host}/shop/api@${runningChild}   # containerd reports the arm64 child, not the index`,
    `${host}/shop/worker:3.2`,
    "docker.io/library/redis:7   # another registry: set aside",
    "",
  ].join("\n");
  return { registry, inUse };
}

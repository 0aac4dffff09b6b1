import type { BackupItem } from "../../../src/apply/backup/backup-target.js";
import {
  type BuiltManifest,
  buildImage,
  buildIndex,
  pushManifest,
} from "../../../src/fixtures/image-factory.js";
import type { Digest } from "../../../src/oci/digest.js";
import type { RegistryReader, RegistryWriter } from "../../../src/registry/types.js";
import { uniqueRepo } from "../helpers.js";

export interface Pushed {
  readonly repository: string;
  readonly manifest: BuiltManifest;
  readonly tags: readonly string[];
}

/** The images every backup test starts from, in fresh repositories. */
export interface SeededImages {
  readonly plain: Pushed;
  /** A multi-arch index; its amd64 child is also backed up as an untagged item of its own. */
  readonly multi: Pushed;
  readonly amd64: Pushed;
  /** Another repository's image (docker media types) sharing a layer with `plain`. */
  readonly sibling: Pushed;
  readonly sharedLayer: Digest;
  readonly items: readonly BackupItem[];
  /** Every manifest, children included, with the repository it lives in. */
  readonly manifests: readonly { repository: string; manifest: BuiltManifest }[];
  /** Every digest the backup must hold: manifests, configs, layers. */
  readonly digests: ReadonlySet<Digest>;
}

export async function seedImages(registry: RegistryWriter, extraLayer?: Buffer): Promise<SeededImages> {
  const p = uniqueRepo("bk");
  const shared = `shared base layer ${p}`;
  const plainImage = buildImage({
    seed: `${p} plain`,
    layers: [shared, `${p} plain own`, ...(extraLayer ? [extraLayer] : [])],
  });
  const siblingImage = buildImage({
    seed: `${p} sibling`,
    layers: [shared, `${p} sibling own`],
    format: "docker",
  });
  const amd = buildImage({ seed: `${p} amd64`, architecture: "amd64" });
  const arm = buildImage({ seed: `${p} arm64`, architecture: "arm64" });
  const index = buildIndex([amd, arm]);

  const plain: Pushed = { repository: `${p}/plain`, manifest: plainImage, tags: ["v1", "latest"] };
  const multi: Pushed = { repository: `${p}/multi`, manifest: index, tags: ["1.0"] };
  const amd64: Pushed = { repository: `${p}/multi`, manifest: amd, tags: [] };
  const sibling: Pushed = { repository: `${p}/sibling`, manifest: siblingImage, tags: ["s1"] };
  for (const x of [plain, multi, sibling]) await pushManifest(registry, x.repository, x.manifest, x.tags);

  const sharedLayer = [...plainImage.blobs.keys()].find((d) => siblingImage.blobs.has(d));
  if (!sharedLayer) throw new Error("fixture: plain and sibling share no layer");
  const manifests = [
    { repository: plain.repository, manifest: plainImage },
    { repository: multi.repository, manifest: amd },
    { repository: multi.repository, manifest: arm },
    { repository: multi.repository, manifest: index },
    { repository: sibling.repository, manifest: siblingImage },
  ];
  const digests = new Set<Digest>();
  for (const { manifest } of manifests) {
    digests.add(manifest.digest);
    for (const d of manifest.blobs.keys()) digests.add(d);
  }
  return {
    plain,
    multi,
    amd64,
    sibling,
    sharedLayer,
    items: [plain, multi, amd64, sibling].map((x) => ({
      repository: x.repository,
      digest: x.manifest.digest,
      tags: x.tags,
    })),
    manifests,
    digests,
  };
}

export function itemOf(x: Pushed): BackupItem {
  return { repository: x.repository, digest: x.manifest.digest, tags: x.tags };
}

/** A registry reader whose getBlob goes through `hook` first (count, fail, or answer instead). */
export function withBlobHook(
  registry: RegistryReader,
  hook: (digest: Digest) => Buffer | undefined | Promise<Buffer | undefined>,
): RegistryReader {
  return new Proxy(registry, {
    get(target, prop) {
      if (prop === "getBlob") {
        return async (repository: string, digest: Digest) =>
          (await hook(digest)) ?? target.getBlob(repository, digest);
      }
      if (prop === "openBlob") {
        return async (repository: string, digest: Digest, offset?: number) => {
          const answer = await hook(digest);
          return answer ? [answer.subarray(offset ?? 0)] : target.openBlob(repository, digest, offset);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

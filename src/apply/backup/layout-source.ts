import { stat } from "node:fs/promises";
import { ImageLayoutDir } from "../../oci/image-layout.js";
import { ArchiveSource } from "./archive-source.js";
import { stagingDirOf } from "./archive-target.js";
import { type BackupDestination, describeDestination } from "./destination.js";
import type { LayoutSource } from "./layout-store.js";
import { createS3Client, type S3Options, S3Store } from "./s3-store.js";

/** Opens a backup for reading, without creating or changing anything. */
export async function openLayoutSource(
  dest: BackupDestination,
  options: S3Options = {},
): Promise<LayoutSource> {
  const description = describeDestination(dest, options.s3Endpoint);
  switch (dest.kind) {
    case "dir":
      return new ImageLayoutDir(dest.path, { description });
    case "oci-archive": {
      if (await isFile(dest.path)) return ArchiveSource.open(dest.path, description);
      // No archive yet: a run that never reached close() left its verified staging layout.
      const staging = stagingDirOf(dest.path);
      if (await isFile(`${staging}/index.json`))
        return new ImageLayoutDir(staging, { description: `${description} (staging ${staging})` });
      throw new Error(`${description}: neither ${dest.path} nor ${staging}/ exists`);
    }
    case "s3":
      return new S3Store(createS3Client(options), dest.bucket, dest.prefix, description);
  }
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

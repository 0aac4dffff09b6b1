import { rm, stat } from "node:fs/promises";
import { ImageLayoutDir } from "../../oci/image-layout.js";
import type { RegistryReader } from "../../registry/types.js";
import { packLayout, unpackLayout } from "./archive-pack.js";
import type { BackupItem, BackupTarget } from "./backup-target.js";
import { LayoutWriter } from "./layout-writer.js";

/** Where an `oci-archive:` backup is assembled and verified before close() packs it. */
export function stagingDirOf(tarPath: string): string {
  return `${tarPath}.staging`;
}

/**
 * `oci-archive:PATH.tar`. Items are copied and verified into the directory `PATH.tar.staging/`
 * (a complete OCI layout at every moment, so a crash loses nothing and restore can read it);
 * close() packs it into PATH.tar, verifies the archive and removes the staging directory.
 * An existing staging directory (an earlier run that crashed) is continued; an existing archive
 * is unpacked first, so its entries are kept.
 */
export async function openArchiveTarget(tarPath: string): Promise<BackupTarget> {
  const description = `oci-archive:${tarPath}`;
  const staging = stagingDirOf(tarPath);
  if (!(await exists(staging)) && (await exists(tarPath))) await unpackLayout(tarPath, staging, description);
  const store = new ImageLayoutDir(staging, { description });
  await store.ensure();
  const writer = new LayoutWriter(store, description);
  await writer.ready();
  return new ArchiveTarget(writer, tarPath, staging, description);
}

class ArchiveTarget implements BackupTarget {
  private closing: Promise<void> | undefined;

  constructor(
    private readonly writer: LayoutWriter,
    private readonly tarPath: string,
    private readonly staging: string,
    readonly description: string,
  ) {}

  backup(item: BackupItem, source: RegistryReader): Promise<void> {
    return this.writer.backup(item, source);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.writer.close();
      await packLayout(this.staging, this.tarPath, this.description);
      // Only after the archive verified: until then the staging directory is the backup.
      await rm(this.staging, { recursive: true, force: true });
    })();
    return this.closing;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return false;
      throw error;
    },
  );
}

import type { FileHandle } from "node:fs/promises";
import type { Digest } from "../../oci/digest.js";
import { blobPathOf, type LayoutFile } from "../../oci/image-layout.js";
import type { LayoutSource } from "./layout-store.js";
import { listTar, openTar, readAt, type TarMember } from "./tar-reader.js";

/** Reads an OCI layout straight out of a tar archive, without unpacking it. */
export class ArchiveSource implements LayoutSource {
  private constructor(
    private readonly file: FileHandle,
    private readonly members: ReadonlyMap<string, TarMember>,
    readonly description: string,
  ) {}

  static async open(path: string, description: string): Promise<ArchiveSource> {
    const file = await openTar(path);
    try {
      const members = new Map<string, TarMember>();
      for (const m of await listTar(file)) {
        if (m.type !== "0" && m.type !== "\0" && m.type !== "7") continue; // directories and links carry no layout data
        if (members.has(m.name)) throw new Error(`${path} holds ${m.name} twice`);
        members.set(m.name, m);
      }
      return new ArchiveSource(file, members, description);
    } catch (error) {
      await file.close();
      throw new Error(`${description}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Member names and sizes, for checking an archive against what was meant to go in. */
  list(): ReadonlyMap<string, TarMember> {
    return this.members;
  }

  async readFile(name: LayoutFile): Promise<Buffer | undefined> {
    const m = this.members.get(name);
    return m && readAt(this.file, m.offset, m.size);
  }

  async openBlob(digest: Digest): Promise<AsyncIterable<Uint8Array>> {
    const m = this.members.get(blobPathOf(digest));
    if (!m) throw new Error(`${this.description}: blob ${digest} is missing`);
    return this.stream(m);
  }

  async readBlob(digest: Digest): Promise<Buffer> {
    const m = this.members.get(blobPathOf(digest));
    if (!m) throw new Error(`${this.description}: blob ${digest} is missing`);
    return readAt(this.file, m.offset, m.size);
  }

  /** Reads a member in chunks, so hashing a large layer does not hold it in memory. */
  async *stream(member: TarMember, chunkSize = 1 << 20): AsyncIterable<Buffer> {
    for (let done = 0; done < member.size; done += chunkSize) {
      yield await readAt(this.file, member.offset + done, Math.min(chunkSize, member.size - done));
    }
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

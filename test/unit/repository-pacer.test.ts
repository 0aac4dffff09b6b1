import { setImmediate as nextTurn } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { RepositoryPacer } from "../../src/inventory/repository-pacer.js";
import type { ManifestResponse, RegistryReader } from "../../src/registry/types.js";

/** A registry whose manifest reads stay in flight until the test answers them. */
function heldRegistry() {
  const held: (() => void)[] = [];
  const registry = {
    host: "reg.example",
    listsUntagged: false,
    getManifest: () =>
      new Promise<ManifestResponse | undefined>((resolve) => held.push(() => resolve(undefined))),
  } as unknown as RegistryReader;
  const answer = (n: number) => {
    for (const reply of held.splice(0, n)) reply();
  };
  return { registry, answer };
}

/** Whether the promise settled within a few turns of the event loop. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => {
    done = true;
  });
  for (let i = 0; i < 5; i++) await nextTurn();
  return done;
}

describe("opening repositories as the requests in flight allow", () => {
  it("holds the next repository while one repository's requests keep the transport busy", async () => {
    const { registry, answer } = heldRegistry();
    const pacer = new RepositoryPacer(16, 16);
    await pacer.slot();
    const first = pacer.reader(registry);
    const reads = Array.from({ length: 20 }, () => first.getManifest("a", "t"));
    const next = pacer.slot();
    expect(await settled(next)).toBe(false);
    answer(4); // 16 still in flight: not below the mark
    expect(await settled(next)).toBe(false);
    answer(1);
    expect(await settled(next)).toBe(true);
    answer(15);
    await Promise.all(reads);
  });

  it("opens up to the maximum while each repository waits on a single request", async () => {
    const { registry, answer } = heldRegistry();
    const pacer = new RepositoryPacer(3, 16);
    const opened: Promise<unknown>[] = [];
    const readers = [];
    for (let i = 0; i < 3; i++) {
      expect(await settled(pacer.slot())).toBe(true);
      const reader = pacer.reader(registry);
      readers.push(reader);
      opened.push(reader.getManifest(`r${i}`, "t"));
    }
    const fourth = pacer.slot();
    expect(await settled(fourth)).toBe(false);
    answer(3);
    await Promise.all(opened);
    expect(await settled(fourth)).toBe(false); // three still open, though idle
    pacer.done(true, readers[0] as ReturnType<typeof pacer.reader>);
    expect(await settled(fourth)).toBe(true);
  });

  it("a repository just opened holds the next until it has asked for something", async () => {
    const { registry, answer } = heldRegistry();
    const pacer = new RepositoryPacer(16, 16);
    await pacer.slot();
    const first = pacer.reader(registry);
    const second = pacer.slot();
    expect(await settled(second)).toBe(false);
    const read = first.getManifest("a", "t");
    expect(await settled(second)).toBe(true);
    answer(1);
    await read;
  });

  it("after a repository failed, no more are opened: the caller is told to stop", async () => {
    const { registry } = heldRegistry();
    const pacer = new RepositoryPacer(16, 2);
    await pacer.slot();
    const first = pacer.reader(registry);
    void first.getManifest("a", "t");
    await pacer.slot();
    const second = pacer.reader(registry);
    void second.getManifest("b", "t");
    const third = pacer.slot();
    expect(await settled(third)).toBe(false); // two in flight: at the mark
    pacer.done(false, first);
    expect(await settled(third)).toBe(true);
    expect(pacer.stopped).toBe(true);
  });
});

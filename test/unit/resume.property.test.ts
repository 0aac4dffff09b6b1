import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { executePlan } from "../../src/apply/execute-plan.js";
import { Journal, readJournal } from "../../src/apply/journal.js";
import { type Digest, sha256Digest } from "../../src/oci/digest.js";
import type { DeleteEntry, Plan } from "../../src/plan/plan-schema.js";
import type { Registry } from "../../src/registry/types.js";

/** A registry in memory: a set of (repository, digest) and which tags point where. */
class MemoryRegistry {
  readonly manifests = new Set<string>();
  readonly tags = new Map<string, string>(); // repo:tag -> digest
  deletes = 0;
  asRegistry(): Registry {
    return {
      host: "memory",
      listsUntagged: true,
      repositories: async function* () {},
      tags: async function* () {},
      untagged: async function* () {},
      headManifest: async (repo: string, ref: string) => {
        const digest =
          this.tags.get(`${repo}:${ref}`) ?? (this.manifests.has(`${repo}@${ref}`) ? ref : undefined);
        return digest ? { digest: digest as Digest, mediaType: "" } : undefined;
      },
      getManifest: async () => undefined,
      getBlob: async () => Buffer.alloc(0),
      openBlob: async () => (async function* () {})(),
      referrers: async () => undefined,
      hasBlob: async () => false,
      putBlob: async () => {},
      putManifest: async () => sha256Digest(""),
      untag: async () => "not-found" as const,
      deleteManifest: async (repo: string, digest: Digest) => {
        this.deletes++;
        if (!this.manifests.delete(`${repo}@${digest}`)) return "not-found";
        for (const [k, d] of this.tags) if (d === digest && k.startsWith(`${repo}:`)) this.tags.delete(k);
        return "deleted";
      },
    };
  }
}

class Crash extends Error {}

const planArb = fc
  .array(fc.record({ repo: fc.constantFrom("a", "b"), tagged: fc.boolean() }), {
    minLength: 1,
    maxLength: 12,
  })
  .map((items) =>
    items.map(
      (it, i): DeleteEntry => ({
        repository: it.repo,
        digest: sha256Digest(`m${i}`),
        tags: it.tagged ? [`t${i}`] : [],
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        created: null,
        ageSource: "unknown",
        sizeBytes: 1,
        reasons: [{ rule: "tags-matched", detail: "test" }],
      }),
    ),
  );

function planOf(entries: DeleteEntry[]): Plan {
  return {
    version: 1,
    registry: "memory",
    createdAt: "2026-01-01T00:00:00.000Z",
    options: { filters: [".*:.*"], ago: null, keep: null, untagged: true },
    summary: {
      repositories: 2,
      manifests: entries.length,
      delete: entries.length,
      keep: 0,
      inUse: 0,
      reclaimableBytes: 0,
    },
    delete: entries,
    keep: [],
    warnings: [],
    oldInUse: [],
  };
}

function seeded(entries: DeleteEntry[]): MemoryRegistry {
  const reg = new MemoryRegistry();
  for (const e of entries) {
    reg.manifests.add(`${e.repository}@${e.digest}`);
    for (const t of e.tags) reg.tags.set(`${e.repository}:${t}`, e.digest);
  }
  return reg;
}

describe("journal and resume", () => {
  it("for any plan and any crash point, resuming reaches the end state of an uninterrupted run, deleting nothing twice", async () => {
    await fc.assert(
      fc.asyncProperty(planArb, fc.nat(40), async (entries, crashAt) => {
        const plan = planOf(entries);
        const reference = seeded(entries);
        await executePlan(plan, reference.asRegistry(), { concurrency: 1 });

        const dir = mkdtempSync(join(tmpdir(), "journal-"));
        const path = join(dir, "plan.json.journal");
        const crashing = seeded(entries);
        const journal = Journal.open(path, "p1", false);
        let appends = 0;
        const original = journal.append.bind(journal);
        // The process dies between two steps: after a registry call, before its journal line —
        // the worst moment, since the registry changed and the journal does not say so.
        journal.append = (step) => {
          if (++appends > crashAt) throw new Crash("killed");
          original(step);
        };
        await executePlan(plan, crashing.asRegistry(), { concurrency: 1, journal }).catch((e) => {
          if (!(e instanceof Crash)) throw e;
        });
        journal.close();

        const resumed = Journal.open(path, "p1", true);
        const outcome = await executePlan(plan, crashing.asRegistry(), { concurrency: 1, journal: resumed });
        resumed.close();

        expect([...crashing.manifests].sort()).toEqual([...reference.manifests].sort());
        expect(outcome.results).toHaveLength(entries.length);
        // Each digest is journaled as deleted at most once across both runs.
        const deletedLines = readJournal(path)
          .filter((s) => s.step === "deleted")
          .map((s) => `${s.repository}@${s.digest}`);
        expect(new Set(deletedLines).size).toBe(deletedLines.length);
      }),
      { numRuns: 150 },
    );
  });

  it("refuses a second apply of the same plan without --resume, and a journal of another plan", () => {
    const dir = mkdtempSync(join(tmpdir(), "journal-"));
    const path = join(dir, "plan.json.journal");
    const first = Journal.open(path, "p1", false);
    first.append({ at: "2026-01-01T00:00:00.000Z", step: "deleted", repository: "a", digest: "sha256:1" });
    first.close();
    expect(() => Journal.open(path, "p1", false)).toThrow(/--resume/);
    expect(() => Journal.open(path, "p2", true)).toThrow(/another plan/);
  });
});

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { executePlan } from "../../src/apply/execute-plan.js";
import { Journal } from "../../src/apply/journal.js";
import { type Digest, sha256Digest } from "../../src/oci/digest.js";
import type { Plan } from "../../src/plan/plan-schema.js";
import type { Registry } from "../../src/registry/types.js";
import { deleteEntry } from "./builders.js";

const subject = deleteEntry("subject");
const signature = deleteEntry("signature", { subject: subject.digest });

function plan(): Plan {
  return {
    version: 1,
    registry: "memory",
    createdAt: "2026-01-01T00:00:00.000Z",
    options: { filters: [".*:.*"], ago: null, keep: null, untagged: true },
    summary: { repositories: 1, manifests: 2, delete: 2, keep: 0, inUse: 0, reclaimableBytes: 0 },
    delete: [subject, signature],
    keep: [],
    warnings: [],
    oldInUse: [],
  };
}

/** A registry with no tags whose DELETE of `failing` fails; every other DELETE succeeds. */
function registry(failing: string, deleted: string[]): Registry {
  return {
    host: "memory",
    listsUntagged: true,
    repositories: async function* () {},
    tags: async function* () {},
    untagged: async function* () {},
    headManifest: async () => undefined,
    getManifest: async () => undefined,
    getBlob: async () => Buffer.alloc(0),
    openBlob: async () => (async function* () {})(),
    referrers: async () => undefined,
    hasBlob: async () => false,
    putBlob: async () => {},
    putManifest: async () => sha256Digest(""),
    untag: async () => "not-found",
    deleteManifest: async (_repo: string, digest: Digest) => {
      if (digest === failing) throw new Error("HTTP 503 (injected)");
      deleted.push(digest);
      return "deleted";
    },
  };
}

describe("what a group's held-back members say, and what --retry-failed reopens", () => {
  const journalAt = () => join(mkdtempSync(join(tmpdir(), "holds-")), "plan.json.journal");

  it("a subject whose DELETE failed holds its signature back as a failure: --retry-failed attempts both again", async () => {
    const path = journalAt();
    const deleted: string[] = [];
    const first = Journal.open(path, "p", false);
    const outcome = await executePlan(plan(), registry(subject.digest, deleted), { journal: first });
    first.close();
    expect(deleted).toEqual([]); // the signature never goes before (or without) its subject
    expect(outcome.results.map((r) => r.status)).toEqual(["failed", "skipped"]);

    const retried = Journal.open(path, "p", true, { retryFailed: true });
    expect(retried.isFinished("app", subject.digest)).toBeUndefined();
    expect(retried.isFinished("app", signature.digest)).toBeUndefined();
    const again = await executePlan(plan(), registry("none", deleted), { journal: retried });
    retried.close();
    expect(again.results.map((r) => r.status)).toEqual(["deleted", "deleted"]);
    expect(deleted).toEqual([subject.digest, signature.digest]);
  });

  it("a subject held back because it changed holds its signature for good: --retry-failed leaves both", async () => {
    const path = journalAt();
    const deleted: string[] = [];
    const first = Journal.open(path, "p", false);
    await executePlan(plan(), registry("none", deleted), {
      journal: first,
      heldBack: new Map([[`app@${subject.digest}`, "now in use: test"]]),
    });
    first.close();
    expect(deleted).toEqual([]);
    const retried = Journal.open(path, "p", true, { retryFailed: true });
    expect(retried.isFinished("app", subject.digest)?.step).toBe("skipped");
    expect(retried.isFinished("app", signature.digest)?.step).toBe("skipped");
    retried.close();
  });
});

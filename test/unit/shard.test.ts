import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { inShard, parseShard, shardOfRepository } from "../../src/policy/shard.js";

describe("--shard I/N", () => {
  it("takes a 0-based index below the count", () => {
    expect(parseShard("0/4")).toEqual({ index: 0, count: 4 });
    expect(parseShard("3/4")).toEqual({ index: 3, count: 4 });
    expect(parseShard("0/1")).toEqual({ index: 0, count: 1 });
  });

  it.each(["4/4", "1/0", "-1/4", "1", "a/4", "1/4/2", "", "1.5/4"])("refuses %j as bad usage", (text) => {
    expect(() => parseShard(text)).toThrow(UsageError);
  });

  it("auto/N takes the index from JOB_COMPLETION_INDEX, as an Indexed Job sets it", () => {
    expect(parseShard("auto/3", { JOB_COMPLETION_INDEX: "2" })).toEqual({ index: 2, count: 3 });
    expect(() => parseShard("auto/3", {})).toThrow(/JOB_COMPLETION_INDEX is not set/);
    expect(() => parseShard("auto/3", { JOB_COMPLETION_INDEX: "3" })).toThrow(/below 3/);
    expect(() => parseShard("auto/3", { JOB_COMPLETION_INDEX: "x" })).toThrow(UsageError);
  });

  it("puts a repository in shard sha256(name)[0..4] mod N, the documented hash", () => {
    const name = "team/web";
    const expected = createHash("sha256").update(name).digest().readUInt32BE(0) % 7;
    expect(shardOfRepository(name, 7)).toBe(expected);
    // Pinned values: a change of hash would move repositories between the shards of running schedules.
    expect(shardOfRepository("team/web", 1000)).toBe(0xa5cb1ff6 % 1000);
    expect(shardOfRepository("library/nginx", 1000)).toBe(334);
  });

  it("every repository is in exactly one of the N shards", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.integer({ min: 1, max: 64 }), (name, count) => {
        const owners = Array.from({ length: count }, (_, index) => index).filter((index) =>
          inShard({ index, count }, name),
        );
        expect(owners).toHaveLength(1);
      }),
    );
  });
});

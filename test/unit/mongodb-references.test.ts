import { describe, expect, it } from "vitest";
import { UsageSourceError } from "../../src/errors.js";
import { commonContexts, valuesAt } from "../../src/usage/mongo-fields.js";
import { referencesOf } from "../../src/usage/mongodb-source.js";

const refs = (
  doc: Record<string, unknown>,
  image: Parameters<typeof referencesOf>[1]["image"],
  registry?: string,
) =>
  referencesOf(
    doc,
    { collection: "c", image },
    { database: "db", ...(registry ? { registry } : {}) },
    "mongodb test",
  ).map((u) => u.raw);

describe("image references from database documents", () => {
  it("walks arrays along a dotted path", () => {
    const doc = { a: [{ b: { c: 1 } }, { b: [{ c: 2 }, { c: 3 }] }, { x: 1 }] };
    expect(valuesAt(doc, "a.b.c")).toEqual([1, 2, 3]);
    expect(valuesAt(doc, "a.missing")).toEqual([]);
  });

  it("pairs fields inside the same array element, never across elements", () => {
    const doc = {
      builds: [{ image: { repository: "r1", tag: "t1" } }, { image: { repository: "r2", tag: "t2" } }],
    };
    expect(commonContexts(doc, ["builds.image.repository", "builds.image.tag"]).contexts).toHaveLength(2);
    expect(
      refs(doc, { repository: "builds.image.repository", tag: "builds.image.tag" }, "reg.example.com"),
    ).toEqual(["reg.example.com/r1:t1", "reg.example.com/r2:t2"]);
  });

  it("takes whole references, repository+digest, and a fixed repository (prefix), naming the record", () => {
    const id = "65f0c0ffee00000000000001";
    const doc = {
      _id: id,
      image: "other.example.com/team/app:1.2",
      d: `sha256:${"a".repeat(64)}`,
      tags: ["5-v1", "5-v2"],
    };
    const [whole] = referencesOf(
      doc,
      { collection: "envs", image: "image" },
      { database: "domino" },
      "mongodb x",
    );
    expect(whole?.raw).toBe("other.example.com/team/app:1.2");
    expect(whole?.source).toBe(`mongodb x domino.envs ${id}`);
    expect(refs(doc, { repositoryPrefix: "team/app", digest: "d" }, "reg.example.com")).toEqual([
      `reg.example.com/team/app@sha256:${"a".repeat(64)}`,
    ]);
    expect(refs(doc, { repositoryPrefix: "dominodatalab/model", tag: "tags" }, "reg.example.com")).toEqual([
      "reg.example.com/dominodatalab/model:5-v1",
      "reg.example.com/dominodatalab/model:5-v2",
    ]);
  });

  it("a record whose image name is not one fails the source instead of being skipped", () => {
    expect(() => refs({ _id: 1, image: "Not A Reference!" }, "image")).toThrow(UsageSourceError);
  });
});

describe("mongodb usage source configuration", () => {
  it("needs a URI (or the variable holding it) and queries or the preset", async () => {
    const { usageSourceSchema } = await import("../../src/config/config-schema.js");
    expect(
      usageSourceSchema.safeParse({ type: "mongodb", preset: "domino", uriEnv: "MONGODB_URI" }).success,
    ).toBe(true);
    expect(usageSourceSchema.safeParse({ type: "mongodb", preset: "domino" }).success).toBe(false);
    expect(usageSourceSchema.safeParse({ type: "mongodb", uri: "mongodb://h/db" }).success).toBe(false);
  });
});

describe("owners", () => {
  it("a query's owner field reaches the usages, the plan's entries and the size report by owner", async () => {
    const { buildPlan } = await import("../../src/plan/build-plan.js");
    const { resolveUsages } = await import("../../src/usage/resolve.js");
    const { sizeReport } = await import("../../src/report/size-report.js");
    const { image, inventory, NOW, policy, repo, REGISTRY } = await import("./builders.js");
    const [usage] = referencesOf(
      { _id: "e1", owner: { name: "ada" }, image: `${REGISTRY}/app:1` },
      { collection: "environments", image: { reference: "image", owner: "owner.name" } },
      { database: "domino" },
      "mongodb",
    );
    expect(usage?.owner).toBe("ada");
    const used = image("used", { tags: ["1"], age: 5 });
    const inv = inventory(repo("app", used));
    const plan = buildPlan({
      inventory: inv,
      policy: policy(),
      resolution: resolveUsages(inv, usage ? [usage] : []),
      now: NOW,
      options: { filters: [".*:.*"], ago: null, keep: null, untagged: false },
    });
    expect(plan.keep[0]?.owner).toBe("ada");
    expect(sizeReport(plan, "owner").rows.map((r) => r.group)).toEqual(["ada"]);
  });
});

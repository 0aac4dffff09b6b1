import { describe, expect, it } from "vitest";
import { buildPlan } from "../../src/plan/build-plan.js";
import { type Plan, planSchema } from "../../src/plan/plan-schema.js";
import { MissingBlobsError, sizeReport } from "../../src/report/size-report.js";
import { formatSizeReportText } from "../../src/report/size-report-format.js";
import { resolveUsages } from "../../src/usage/resolve.js";
import { blobOf, digestOf, image, inventory, NOW, policy, repo } from "./builders.js";

/*
 * The graph. Blob sizes are round so the sums below can be checked by eye; manifest bodies are
 * 1..5 bytes. Old images (90 days) are deleted by --ago 30d, new ones (1 day) kept.
 *
 *   blob      size  held by
 *   base      1000  web-old, web-new (kept), api-old       → shared with a kept image: frees nothing
 *   tools     4000  web-old, api-old                       → only deleted images, two repositories
 *   dep       2000  api-old, api-older                     → only deleted images, one repository, two owners
 *   runtime    700  api-old, batch-1 (kept)                → frees nothing
 *   webA       200  web-old
 *   webB       300  web-new (kept)
 *   older       50  api-older
 *   batch       30  batch-1 (kept)
 *
 *   manifest   body  repository  owner  decision
 *   web-old       1  web         alice  delete
 *   web-new       2  web         alice  keep
 *   api-old       3  api         alice  delete
 *   api-older     4  api         bob    delete
 *   batch-1       5  batch       bob    keep
 *
 * Freed by the plan (each blob once): web-old 1 + webA 200 + tools 4000 + api-old 3 + dep 2000
 * + api-older 4 + older 50 = 6258.
 */
const base = blobOf("base", 1000);
const tools = blobOf("tools", 4000);
const dep = blobOf("dep", 2000);
const runtime = blobOf("runtime", 700);
const webA = blobOf("webA", 200);
const webB = blobOf("webB", 300);
const older = blobOf("older", 50);
const batch = blobOf("batch", 30);

const OWNERS: Record<string, string> = {
  [digestOf("web-old")]: "alice",
  [digestOf("web-new")]: "alice",
  [digestOf("api-old")]: "alice",
  [digestOf("api-older")]: "bob",
  [digestOf("batch-1")]: "bob",
};

function graphPlan(owners = true): Plan {
  const inv = inventory(
    repo(
      "web",
      image("web-old", { tags: ["old"], age: 90, manifestSize: 1, blobs: [base, tools, webA] }),
      image("web-new", { tags: ["new"], age: 1, manifestSize: 2, blobs: [base, webB] }),
    ),
    repo(
      "api",
      image("api-old", { tags: ["1.0"], age: 90, manifestSize: 3, blobs: [base, tools, dep, runtime] }),
      image("api-older", { age: 90, manifestSize: 4, blobs: [dep, older] }),
    ),
    repo("batch", image("batch-1", { tags: ["1"], age: 1, manifestSize: 5, blobs: [runtime, batch] })),
  );
  const plan = buildPlan({
    inventory: inv,
    policy: policy({ ago: 30, untagged: true }),
    resolution: resolveUsages(inv, []),
    now: NOW,
    options: { filters: [".*:.*"], ago: "30d", keep: null, untagged: true },
  });
  // Owners come from usage sources that know them; none here does, so the test sets them.
  const withOwner = <T extends { digest: string }>(e: T) => ({ ...e, owner: OWNERS[e.digest] });
  const planned = owners
    ? { ...plan, delete: plan.delete.map(withOwner), keep: plan.keep.map(withOwner) }
    : plan;
  // Through JSON and the schema, as `report` reads a plan file: blobs and owners must survive it.
  return planSchema.parse(JSON.parse(JSON.stringify(planned)));
}

describe("sizeReport", () => {
  it("the hand-built graph deletes the old images and frees 6258 bytes", () => {
    const plan = graphPlan();
    expect(plan.delete.map((d) => d.digest).sort()).toEqual(
      [digestOf("web-old"), digestOf("api-old"), digestOf("api-older")].sort(),
    );
    expect(plan.summary.reclaimableBytes).toBe(6258);
  });

  it("by repository: a layer shared with a kept image frees nothing, one shared only by deleted images counts once", () => {
    const report = sizeReport(graphPlan(), "repository");
    expect(report.rows).toEqual([
      // api: total api-old 3 + base 1000 + tools 4000 + dep 2000 + runtime 700 + api-older 4 + older 50 = 7757.
      // Freed: api-old 3 + dep 2000 (both its holders are in api) + api-older 4 + older 50 = 2057;
      // tools (4000) is also held by web-old, so it is shared; base and runtime are held by kept images.
      {
        group: "api",
        images: 2,
        deleteImages: 2,
        totalBytes: 7757,
        freedBytes: 2057,
        sharedFreedBytes: 4000,
      },
      // web: total web-old 1 + base 1000 + tools 4000 + webA 200 + web-new 2 + webB 300 = 5503.
      // Freed: web-old 1 + webA 200 = 201; tools shared with api.
      { group: "web", images: 2, deleteImages: 1, totalBytes: 5503, freedBytes: 201, sharedFreedBytes: 4000 },
      // batch: batch-1 5 + runtime 700 + batch 30 = 735, nothing deleted.
      { group: "batch", images: 1, deleteImages: 0, totalBytes: 735, freedBytes: 0, sharedFreedBytes: 0 },
    ]);
    // Every blob once: manifests 1+2+3+4+5 = 15, blobs 1000+4000+2000+700+200+300+50+30 = 8280.
    // Freed: 2057 + 201 + tools 4000 once = 6258, the plan's reclaimable bytes.
    expect(report.total).toEqual({
      images: 5,
      deleteImages: 3,
      totalBytes: 8295,
      freedBytes: 6258,
      sharedFreedBytes: 4000,
    });
    expect(report.total.freedBytes).toBe(graphPlan().summary.reclaimableBytes);
  });

  it("by owner: the same layers group differently, and the total still counts each blob once", () => {
    const report = sizeReport(graphPlan(), "owner");
    expect(report.rows).toEqual([
      // alice (web-old, web-new, api-old): total 1 + 2 + 3 + base 1000 + tools 4000 + webA 200 + webB 300
      // + dep 2000 + runtime 700 = 8206. Freed: 1 + 200 + tools 4000 (both holders are alice's) + 3 = 4204;
      // dep is also held by bob's api-older: shared.
      {
        group: "alice",
        images: 3,
        deleteImages: 2,
        totalBytes: 8206,
        freedBytes: 4204,
        sharedFreedBytes: 2000,
      },
      // bob (api-older, batch-1): total 4 + dep 2000 + older 50 + 5 + runtime 700 + batch 30 = 2789.
      // Freed: 4 + older 50 = 54; dep shared with alice.
      { group: "bob", images: 2, deleteImages: 1, totalBytes: 2789, freedBytes: 54, sharedFreedBytes: 2000 },
    ]);
    // 4204 + 54 + dep 2000 once = 6258.
    expect(report.total).toMatchObject({ freedBytes: 6258, sharedFreedBytes: 2000, totalBytes: 8295 });
  });

  it("by image: each manifest with its tags; freed is what deleting it alone would free", () => {
    const report = sizeReport(graphPlan(), "image");
    expect(report.rows).toEqual([
      // web-old 1 + base 1000 + tools 4000 + webA 200 = 5201; freed 1 + 200; tools shared with api-old.
      {
        group: `web@${digestOf("web-old")}`,
        tags: ["old"],
        images: 1,
        deleteImages: 1,
        totalBytes: 5201,
        freedBytes: 201,
        sharedFreedBytes: 4000,
      },
      // api-older 4 + dep 2000 + older 50 = 2054; freed 4 + 50; dep shared with api-old.
      {
        group: `api@${digestOf("api-older")}`,
        tags: [],
        images: 1,
        deleteImages: 1,
        totalBytes: 2054,
        freedBytes: 54,
        sharedFreedBytes: 2000,
      },
      // api-old 3 + base 1000 + tools 4000 + dep 2000 + runtime 700 = 7703; freed only its body 3;
      // tools and dep are shared with other deleted images: 6000.
      {
        group: `api@${digestOf("api-old")}`,
        tags: ["1.0"],
        images: 1,
        deleteImages: 1,
        totalBytes: 7703,
        freedBytes: 3,
        sharedFreedBytes: 6000,
      },
      // Kept, largest first: web-new 2 + base 1000 + webB 300 = 1302; batch-1 735.
      {
        group: `web@${digestOf("web-new")}`,
        tags: ["new"],
        images: 1,
        deleteImages: 0,
        totalBytes: 1302,
        freedBytes: 0,
        sharedFreedBytes: 0,
      },
      {
        group: `batch@${digestOf("batch-1")}`,
        tags: ["1"],
        images: 1,
        deleteImages: 0,
        totalBytes: 735,
        freedBytes: 0,
        sharedFreedBytes: 0,
      },
    ]);
    // 201 + 54 + 3 + tools 4000 + dep 2000 = 6258.
    expect(report.total).toMatchObject({ freedBytes: 6258, sharedFreedBytes: 6000 });
  });

  it("entries with no owner are grouped as the unknown owner", () => {
    const report = sizeReport(graphPlan(false), "owner");
    expect(report.rows).toEqual([
      {
        group: "(unknown owner)",
        images: 5,
        deleteImages: 3,
        totalBytes: 8295,
        freedBytes: 6258,
        sharedFreedBytes: 0,
      },
    ]);
  });

  it("refuses a plan without blob lists, naming the entry", () => {
    const plan = graphPlan();
    const { blobs: _, ...bare } = plan.keep[0] as Plan["keep"][number];
    const old = { ...plan, keep: [bare, ...plan.keep.slice(1)] };
    expect(() => sizeReport(old, "repository")).toThrow(MissingBlobsError);
    expect(() => sizeReport(old, "repository")).toThrow(`${bare.repository}@${bare.digest}`);
  });

  it("prints a total line with the plan's reclaimable bytes", () => {
    const text = formatSizeReportText(sizeReport(graphPlan(), "repository"));
    expect(text).toMatch(/^api\s+2\s+2\s+7\.8 KB\s+2\.1 KB\s+4\.0 KB$/m);
    expect(text).toMatch(/^TOTAL \(each blob once\)\s+5\s+3\s+8\.3 KB\s+6\.3 KB\s+4\.0 KB$/m);
  });
});

/**
 * A scan against a registry with the referrers API (bench/synthetic-registry.ts; Debian's
 * distribution 2.8 has none): every manifest of every repository is asked for its referrers, and
 * the referrers found are read, whether or not another repository's probe already answered.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type RunningSynthetic,
  startSyntheticRegistry,
  syntheticShape,
} from "../../bench/synthetic-registry.js";
import { ContentCache } from "../../src/inventory/content-cache.js";
import { scanRegistry } from "../../src/inventory/scan.js";
import { connect, tempDir } from "./helpers.js";

const SHAPE = { repos: 6, perRepo: 26, pageSize: 4 };

describe("scan with the referrers API", () => {
  let server: RunningSynthetic;
  beforeAll(async () => {
    server = await startSyntheticRegistry(SHAPE);
  });
  afterAll(() => server.stop());

  it("finds every referrer in every repository, cold and warm, with the same requests as the floor's count", async () => {
    const shape = syntheticShape(SHAPE);
    const dir = await tempDir();
    for (const pass of ["cold", "warm"] as const) {
      const { registry, transport } = connect(server.url, { concurrency: 4 });
      try {
        const inventory = await scanRegistry(registry, {
          cache: new ContentCache(dir),
          repositoryConcurrency: 3,
        });
        const manifests = inventory.repositories.flatMap((r) => r.manifests);
        expect(inventory.repositories).toHaveLength(SHAPE.repos);
        expect(manifests, pass).toHaveLength(shape.manifests);
        const referrers = manifests.filter((m) => m.subject !== undefined);
        expect(referrers, pass).toHaveLength(shape.referrers);
        for (const repo of inventory.repositories) {
          const digests = new Set(repo.manifests.map((m) => m.digest));
          for (const m of repo.manifests) if (m.subject) expect(digests.has(m.subject)).toBe(true);
        }
        expect(manifests.filter((m) => m.platform !== undefined)).toHaveLength(shape.indexes * 2);
        // Catalog pages of 4 (6 repositories: 2 pages), tag lists of 26 in pages of 4 (7 each), one
        // referrers request per manifest; cold adds a GET per index child, referrer and image config.
        const listing = 2 + SHAPE.repos * 7 + shape.tags + shape.manifests;
        const configs = shape.manifests - shape.indexes - shape.referrers;
        const expected = pass === "cold" ? listing + shape.indexes * 2 + shape.referrers + configs : listing;
        expect(transport.stats.requests, pass).toBe(expected);
      } finally {
        await transport.close();
      }
    }
  });
});

import { describe, expect, it } from "vitest";
import { sha256Digest } from "../../src/oci/digest.js";
import type { Plan } from "../../src/plan/plan-schema.js";
import { formatPlanHtml } from "../../src/report/plan-html.js";

describe("HTML plan", () => {
  it("escapes everything that comes from outside (sources, warnings, details)", () => {
    const plan: Plan = {
      version: 1,
      registry: "r.example.com",
      createdAt: "2026-01-01T00:00:00.000Z",
      options: { filters: ["a:.*"], ago: "30d", keep: null, untagged: false },
      summary: { repositories: 1, manifests: 1, delete: 0, keep: 1, inUse: 1, reclaimableBytes: 0 },
      delete: [],
      keep: [
        {
          repository: "a",
          digest: sha256Digest("b"),
          tags: ["v1"],
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          created: null,
          ageSource: "unknown",
          sizeBytes: 10,
          reasons: [
            { rule: "in-use", detail: "used as <img src=x onerror=alert(1)>", source: "kubernetes a/b&c" },
          ],
        },
      ],
      warnings: ["<script>alert(1)</script>"],
      oldInUse: [],
    };
    const html = formatPlanHtml(plan);
    expect(html).not.toContain("<script>alert");
    expect(html).not.toContain("<img src");
    expect(html).toContain("&lt;script&gt;");
    expect(html).toContain("kubernetes a/b&amp;c");
  });

  it("an untagged image still in use reads as untagged, not as a dangling colon", () => {
    const digest = sha256Digest("old");
    const plan = {
      version: 1,
      registry: "r.example.com",
      createdAt: "2026-01-01T00:00:00.000Z",
      options: { filters: ["a:.*"], ago: "30d", keep: null, untagged: false },
      summary: { repositories: 1, manifests: 0, delete: 0, keep: 0, inUse: 0, reclaimableBytes: 0 },
      delete: [],
      keep: [],
      warnings: [],
      oldInUse: [
        {
          repository: "a",
          digest,
          tags: [],
          created: "2025-01-01T00:00:00Z",
          daysOverThreshold: 9,
          usedBy: ["k8s"],
        },
      ],
    } satisfies Plan;
    const html = formatPlanHtml(plan);
    expect(html).toContain(`a@${digest.slice(0, 19)}</code> (untagged): created 2025-01-01`);
    expect(html).not.toMatch(/<\/code> : created/);
  });
});

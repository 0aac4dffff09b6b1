import { describe, expect, it } from "vitest";
import { shellQuote } from "../../src/config/shell-words.js";
import { plan } from "../../src/pipeline/plan.js";
import type { Plan } from "../../src/plan/plan-schema.js";
import { formatPlanCommands } from "../../src/report/plan-commands.js";
import { cosign, image, index, inventory, NOW, repo } from "./builders.js";

const amd = image("amd", { age: 41 });
const multi = index("multi", [amd], { tags: ["v1", "old"], age: 41 });
const sig = cosign(multi, "sig", { age: 41 });
const loose = image("loose", { tags: ["b7"], age: 50 });
const recent = image("recent", { tags: ["b8"], age: 2 });

function planned(extra: Partial<Parameters<typeof plan>[0]> = {}, registry?: string): Plan {
  const inv = inventory(repo("team/app", multi, amd, sig), repo("tools", loose, recent));
  return plan({
    inventory: registry ? { ...inv, registry } : inv,
    usages: [],
    policy: { filters: [".*:.*"], ago: "30d" },
    now: NOW,
    ...extra,
  });
}

const lines = (text: string) => text.split("\n");

describe("formatPlanCommands (--format commands)", () => {
  it("elsewhere than ACR: a regctl manifest rm per deletion, in deletion order, each with its comment", () => {
    const p = planned({ registryUrl: "https://registry.example.com" });
    expect(lines(formatPlanCommands(p))).toEqual([
      "# regsweep plan for registry.example.com, made 2025-06-01T12:00:00.000Z",
      "# 4 of 5 manifests to delete (2.0 KB reclaimable)",
      "# In this order: an index before its children, a subject before its referrers.",
      `regctl manifest rm registry.example.com/team/app@${multi.digest}`,
      `# tags: old,v1 | age: 41d (created) | reasons: tags-matched: tag old, v1 matches .*:.*; older-than: created 2025-04-21T12:00:00.000Z (child), 41 days ago`,
      `regctl manifest rm registry.example.com/team/app@${amd.digest}`,
      "# tags: (untagged) | age: 41d (created) | reasons: child-of-deleted-index: every index listing it is deleted",
      `regctl manifest rm registry.example.com/team/app@${sig.digest}`,
      `# tags: ${sig.tags[0]} | age: 41d (created) | reasons: referrer-of-deleted-subject: its subject ${multi.digest.slice(0, 19)} is deleted`,
      `regctl manifest rm registry.example.com/tools@${loose.digest}`,
      "# tags: b7 | age: 50d (created) | reasons: tags-matched: tag b7 matches .*:.*; older-than: created 2025-04-12T12:00:00.000Z (config), 50 days ago",
      "",
    ]);
  });

  it("prints exactly the plan's delete digests, in the plan's order", () => {
    const p = planned();
    const digests = formatPlanCommands(p)
      .split("\n")
      .filter((l) => l.startsWith("regctl "))
      .map((l) => l.slice(l.lastIndexOf("@") + 1));
    expect(digests).toEqual(p.delete.map((d) => d.digest));
  });

  it("on ACR: az acr repository delete with the registry's name", () => {
    const p = planned({ registryType: "acr" }, "myacr.azurecr.io");
    const out = lines(formatPlanCommands(p));
    expect(out[3]).toBe("# Needs az login with delete rights on the registry (e.g. AcrDelete).");
    expect(out.filter((l) => !l.startsWith("#") && l)).toEqual([
      `az acr repository delete --name myacr --image team/app@${multi.digest} --yes`,
      `az acr repository delete --name myacr --image team/app@${amd.digest} --yes`,
      `az acr repository delete --name myacr --image team/app@${sig.digest} --yes`,
      `az acr repository delete --name myacr --image tools@${loose.digest} --yes`,
    ]);
  });

  it("an *.azurecr.* host is ACR even when the plan does not say how it was read", () => {
    const p = planned({}, "Contoso.azurecr.us");
    expect(formatPlanCommands(p)).toContain(
      `az acr repository delete --name contoso --image tools@${loose.digest} --yes`,
    );
  });

  it("plain http says how to tell regctl; an OCI layout is addressed as ocidir://", () => {
    const http = lines(
      formatPlanCommands(planned({ registryUrl: "http://127.0.0.1:5000" }, "127.0.0.1:5000")),
    );
    expect(http[3]).toBe("# Plain http: first run regctl registry set 127.0.0.1:5000 --tls disabled");
    expect(http[4]).toBe(`regctl manifest rm 127.0.0.1:5000/team/app@${multi.digest}`);
    const layout = formatPlanCommands(planned({ registryUrl: "oci:/srv/my mirror/" }, "oci-layout"));
    expect(layout).toContain(`regctl manifest rm 'ocidir:///srv/my mirror/tools@${loose.digest}'`);
  });

  it("with nothing to delete: the header and a comment, no command", () => {
    const p = plan({
      inventory: inventory(repo("tools", recent)),
      usages: [],
      policy: { filters: [".*:.*"], ago: "30d" },
      now: NOW,
    });
    expect(lines(formatPlanCommands(p))).toEqual([
      "# regsweep plan for registry.example.com, made 2025-06-01T12:00:00.000Z",
      "# 0 of 1 manifests to delete (0 B reclaimable)",
      "# In this order: an index before its children, a subject before its referrers.",
      "# Nothing to delete.",
      "",
    ]);
  });

  it("a comment stays one line whatever a reason holds", () => {
    const p = planned();
    const first = p.delete[0] as Plan["delete"][number];
    const tampered: Plan = {
      ...p,
      delete: [{ ...first, reasons: [{ rule: "tags-matched", detail: "x\nrm -rf /" }] }],
    };
    const out = lines(formatPlanCommands(tampered));
    expect(out).not.toContain("rm -rf /");
    expect(out[4]).toBe("# tags: old,v1 | age: 41d (created) | reasons: tags-matched: x rm -rf /");
  });

  it("untag entries follow the deletions as tag removals", () => {
    const p: Plan = {
      ...planned({}, "myacr.azurecr.io"),
      untag: [
        {
          repository: "tools",
          tag: "PR12",
          digest: recent.digest,
          reasons: [{ rule: "pull-request-closed", detail: "PR 12 is completed" }],
        },
      ],
    };
    const out = lines(formatPlanCommands(p));
    expect(out.slice(-3)).toEqual([
      "az acr repository untag --name myacr --image tools:PR12",
      "# removes tag PR12, the manifest stays | reasons: pull-request-closed: PR 12 is completed",
      "",
    ]);
  });
});

describe("shellQuote", () => {
  it("leaves safe words alone and single-quotes the rest", () => {
    expect(shellQuote("team/app@sha256:ab")).toBe("team/app@sha256:ab");
    expect(shellQuote("a b")).toBe("'a b'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote("$(x)")).toBe("'$(x)'");
    expect(shellQuote("")).toBe("''");
  });
});

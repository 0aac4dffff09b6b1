import { describe, expect, it } from "vitest";
import type { Inventory, RepositoryInventory } from "../../src/inventory/graph.js";
import type { Digest } from "../../src/oci/digest.js";
import { resolveRecords, resolveUsages } from "../../src/usage/resolve.js";
import { digestOf, image, index, inventory, REGISTRY, repo, usage } from "./builders.js";

const v1 = image("api-v1", { tags: ["v1", "stable"] });
const v2 = image("api-v2", { tags: ["v2", "latest"] });
const amd = image("web-amd64");
const multi = index("web-multi", [amd], { tags: ["v1"] });
const inv = inventory(repo("team/api", v1, v2), repo("team/web", multi, amd));

function used(resolution: ReturnType<typeof resolveUsages>, repository: string): Digest[] {
  return [...(resolution.inUse.get(repository)?.keys() ?? [])].sort();
}

describe("resolveUsages ties in-use references to digests at plan time", () => {
  it("resolves a tag through the inventory's tag map", () => {
    const r = resolveUsages(inv, [usage(`${REGISTRY}/team/api:stable`, "k8s prod/api")]);
    expect(used(r, "team/api")).toEqual([v1.digest]);
    expect(r.inUse.get("team/api")?.get(v1.digest)?.[0]?.source).toBe("k8s prod/api");
    expect(r.warnings).toEqual([]);
    expect(r.otherRegistries).toBe(0);
  });

  it("resolves a tag on an index to the index digest", () => {
    const r = resolveUsages(inv, [usage(`${REGISTRY}/team/web:v1`)]);
    expect(used(r, "team/web")).toEqual([multi.digest]);
  });

  it("takes a digest reference as it is, without looking at tags", () => {
    const r = resolveUsages(inv, [usage(`${REGISTRY}/team/web@${amd.digest}`)]);
    expect(used(r, "team/web")).toEqual([amd.digest]);
  });

  it("lets the digest decide when a reference has both tag and digest", () => {
    const r = resolveUsages(inv, [usage(`${REGISTRY}/team/api:v2@${v1.digest}`)]);
    expect(used(r, "team/api")).toEqual([v1.digest]);
  });

  it("resolves a reference without a tag to :latest", () => {
    const r = resolveUsages(inv, [usage(`${REGISTRY}/team/api`)]);
    expect(used(r, "team/api")).toEqual([v2.digest]);
  });

  it("collects every usage of one digest", () => {
    const r = resolveUsages(inv, [
      usage(`${REGISTRY}/team/api:v1`, "a"),
      usage(`${REGISTRY}/team/api:stable`, "b"),
      usage(`${REGISTRY}/team/api@${v1.digest}`, "c"),
    ]);
    expect(
      r.inUse
        .get("team/api")
        ?.get(v1.digest)
        ?.map((u) => u.source),
    ).toEqual(["a", "b", "c"]);
  });

  it("keeps repositories apart: a tag in one repository does not protect another", () => {
    const r = resolveUsages(inv, [usage(`${REGISTRY}/team/api:v1`)]);
    expect(used(r, "team/web")).toEqual([]);
  });

  it("warns about a tag the registry does not have (that workload cannot pull)", () => {
    const r = resolveUsages(inv, [usage(`${REGISTRY}/team/api:v9`, "k8s prod/api")]);
    expect(used(r, "team/api")).toEqual([]);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toContain(`${REGISTRY}/team/api:v9`);
    expect(r.warnings[0]).toContain("k8s prod/api");
  });

  it("counts references to other registries and sets them aside", () => {
    const r = resolveUsages(inv, [
      usage("nginx:1.25"),
      usage("ghcr.io/owner/app:v1"),
      usage("notregistry.example.com/team/api:v1"),
      usage(`${REGISTRY}.evil/team/api:v1`),
      usage(`${REGISTRY}:5000/team/api:v1`),
    ]);
    expect(r.otherRegistries).toBe(5);
    expect(r.inUse.size).toBe(0);
    expect(r.warnings).toEqual([]);
  });

  it("lists each set-aside reference with who uses it, so a missing alias can be spotted", () => {
    const r = resolveUsages(inv, [
      usage(`${REGISTRY}/team/api:v1`, "k8s prod/api"),
      usage("mirror.example.com/team/api:v2", "in-use-file in-use.txt:2"),
    ]);
    expect(r.setAside.map((u) => [u.raw, u.source])).toEqual([
      ["mirror.example.com/team/api:v2", "in-use-file in-use.txt:2"],
    ]);
  });

  it("never matches hosts by substring: notmyacr.azurecr.io is not myacr.azurecr.io", () => {
    const acr: Inventory = { ...inv, registry: "myacr.azurecr.io" };
    const r = resolveUsages(acr, [
      usage("notmyacr.azurecr.io/team/api:v1"),
      usage("myacr.azurecr.io.evil.example/team/api:v1"),
    ]);
    expect(r.otherRegistries).toBe(2);
    expect(r.inUse.size).toBe(0);
  });

  it("compares hosts case-insensitively and folds :443", () => {
    const acr: Inventory = { ...inv, registry: "myacr.azurecr.io" };
    const r = resolveUsages(acr, [
      usage("MyAcr.AzureCR.io/team/api:v1"),
      usage("myacr.azurecr.io:443/team/api:v2"),
    ]);
    expect(r.otherRegistries).toBe(0);
    expect(used(r, "team/api")).toEqual([v1.digest, v2.digest].sort());
  });

  it("treats loopback names of the same port as one registry", () => {
    const local: Inventory = { ...inv, registry: "127.0.0.1:5000" };
    const r = resolveUsages(local, [
      usage("localhost:5000/team/api:v1"),
      usage("localhost:5001/team/api:v2"),
    ]);
    expect(used(r, "team/api")).toEqual([v1.digest]);
    expect(r.otherRegistries).toBe(1);
  });

  it("accepts references through the registry's aliases", () => {
    const r = resolveUsages(
      inv,
      [
        usage("mirror.example.com/team/api:v1"),
        usage("MIRROR.example.com:443/team/api:v2"),
        usage("other.example.com/team/api:v1"),
      ],
      ["mirror.example.com"],
    );
    expect(used(r, "team/api")).toEqual([v1.digest, v2.digest].sort());
    expect(r.otherRegistries).toBe(1);
  });

  it("resolves Docker Hub short names when the registry is docker.io", () => {
    const hub = inventory(repo("library/nginx", image("nginx", { tags: ["1.25"] })));
    const r = resolveUsages({ ...hub, registry: "docker.io" }, [
      usage("nginx:1.25"),
      usage("index.docker.io/library/nginx:1.25"),
    ]);
    expect(used(r, "library/nginx")).toEqual([digestOf("nginx")]);
    expect(r.otherRegistries).toBe(0);
  });

  it("does not protect anything for a repository outside the scan", () => {
    const r = resolveUsages(inv, [usage(`${REGISTRY}/elsewhere/app:v1`)]);
    expect(r.inUse.get("elsewhere/app")).toBeUndefined();
    expect(r.otherRegistries).toBe(0);
  });

  it("walks a repository's manifests once however many tag references name it (a map, not a search per reference)", () => {
    const manifests = Array.from({ length: 200 }, (_, i) => image(`app-${i}`, { tags: [`v${i}`] }));
    let walks = 0;
    const counted: RepositoryInventory = {
      name: "team/app",
      get manifests() {
        walks++;
        return manifests;
      },
    };
    const refs = manifests.map((_, i) => usage(`${REGISTRY}/team/app:v${i}`));
    const r = resolveUsages(inventory(counted), refs);
    expect(used(r, "team/app")).toEqual(manifests.map((m) => m.digest).sort());
    expect(walks).toBe(1);
    walks = 0;
    const records = resolveRecords(
      inventory(counted),
      refs.map((u) => ({ reference: u.reference, record: u.raw })),
    );
    expect(records.get("team/app")?.size).toBe(200);
    expect(walks).toBe(1);
  });

  it("ties a tag two manifests claim (a malformed listing) to the first, as before", () => {
    const first = image("first", { tags: ["v1"] });
    const second = image("second", { tags: ["v1"] });
    const r = resolveUsages(inventory(repo("team/dup", first, second)), [usage(`${REGISTRY}/team/dup:v1`)]);
    expect(used(r, "team/dup")).toEqual([first.digest]);
  });
});

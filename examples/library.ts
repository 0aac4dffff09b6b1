// The library from TypeScript: the same sweep as library.mjs, typed, with the in-use list coming from
// your own code (a deploy database, a portal) as a UsageSource instead of a fixed list.
//
//   node library.ts REGISTRY_URL 'REPO_REGEX:TAG_REGEX' [IN_USE_REFERENCE ...]   (Node 22.18+ runs .ts)
import { mkdir } from "node:fs/promises";
import {
  type ApplyResult,
  apply,
  type Inventory,
  openRegistry,
  type Plan,
  type PurgePolicy,
  parseReference,
  plan,
  purgePolicy,
  readPlan,
  type RunOptions,
  scan,
  type UsageSource,
  writePlan,
} from "regsweep";

/** A source of in-use references: regsweep calls load() when planning and again right before deleting. */
function deployedImages(references: readonly string[]): UsageSource {
  return {
    name: "deployments",
    optional: false,
    load: async () => references.map((raw) => ({ reference: parseReference(raw), raw, source: "deployments" })),
  };
}

function countManifests(inventory: Inventory): number {
  return inventory.repositories.reduce((n, r) => n + r.manifests.length, 0);
}

function summary(made: Plan, result: ApplyResult) {
  return {
    scanned: made.summary.manifests,
    planned: made.summary.delete,
    deleted: result.counts.deleted,
    skipped: result.results.filter((r) => r.status === "skipped").map((r) => `${r.digest}: ${r.detail ?? ""}`),
  };
}

export async function sweep(url: string, filter: string, inUse: readonly string[], run: RunOptions = {}) {
  const registry = await openRegistry(url, run);
  try {
    const source = deployedImages(inUse);
    const usages = await source.load(run.signal);
    const inventory: Inventory = await scan(registry, { ...run, filters: [filter], usages });
    const policy: PurgePolicy = purgePolicy({ filters: [filter], ago: "30d" });
    const made: Plan = plan({ inventory, usages, policy, now: new Date(), registryUrl: registry.url });
    await mkdir("plans", { recursive: true });
    const planFile = `plans/${made.createdAt.replaceAll(":", "-")}.json`;
    await writePlan(made, planFile);
    const result: ApplyResult = await apply(await readPlan(planFile), {
      ...run,
      registry,
      journalPath: `${planFile}.journal`,
      recheck: [source],
    });
    return { manifests: countManifests(inventory), ...summary(made, result) };
  } finally {
    await registry.close();
  }
}

const [url, filter, ...inUse] = process.argv.slice(2);
if (url && filter) console.log(JSON.stringify(await sweep(url, filter, inUse)));

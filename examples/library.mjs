// regsweep as a library: delete the images older than 30 days that a filter selects, except those in use.
//
//   node library.mjs REGISTRY_URL 'REPO_REGEX:TAG_REGEX' [IN_USE_REFERENCE ...]
//   node library.mjs http://127.0.0.1:5000 'team/.*:.*' 127.0.0.1:5000/team/app:1.2
//
// Prints a JSON summary on stdout; warnings and per-image results go to stderr. Ctrl+C cancels.
import { mkdir } from "node:fs/promises";
import { apply, exitCodeOf, loadUsages, openRegistry, plan, readPlan, scan, writePlan } from "regsweep";

const [url, filter, ...inUse] = process.argv.slice(2);
if (!url || !filter) {
  console.error("usage: node library.mjs REGISTRY_URL 'REPO_REGEX:TAG_REGEX' [IN_USE_REFERENCE ...]");
  process.exit(2);
}

const controller = new AbortController();
process.once("SIGINT", () => controller.abort());
const run = {
  signal: controller.signal,
  onEvent: (event) => {
    if (event.type === "warning") console.error(`warning: ${event.message}`);
    if (event.type === "item") console.error(`${event.result.status} ${event.result.repository}@${event.result.digest}`);
  },
};

// What the deploy step knows is running. The same list is read again right before deleting.
const sources = [{ type: "references", name: "deploy pipeline", references: inUse }];

const registry = await openRegistry(url, run);
try {
  const usages = await loadUsages(sources, run);
  const inventory = await scan(registry, { ...run, filters: [filter], usages });
  const made = plan({
    inventory,
    usages,
    policy: { filters: [filter], ago: "30d" },
    now: new Date(),
    registryUrl: registry.url,
  });

  // The plan is the artefact a human (or a later step) reviews; apply what was written.
  await mkdir("plans", { recursive: true });
  const planFile = `plans/${made.createdAt.replaceAll(":", "-")}.json`;
  await writePlan(made, planFile);
  const reviewed = await readPlan(planFile);

  const result = await apply(reviewed, {
    ...run,
    registry,
    journalPath: `${planFile}.journal`,
    recheck: sources,
  });
  console.log(
    JSON.stringify({
      planFile,
      planned: reviewed.summary,
      counts: result.counts,
      deleted: result.results.filter((r) => r.status === "deleted").map((r) => `${r.repository}@${r.digest}`),
      kept: reviewed.keep.map((k) => ({ image: `${k.repository}@${k.digest}`, why: k.reasons.map((r) => r.rule) })),
    }),
  );
  if (result.counts.failed > 0) process.exitCode = 1;
} catch (error) {
  // One line naming what failed; the exit code is the CLI's (2 usage, 3 a usage source, 1 otherwise).
  console.error(`regsweep: ${error.message}`);
  process.exitCode = exitCodeOf(error);
} finally {
  await registry.close();
}

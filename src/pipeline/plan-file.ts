import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { ZodError } from "zod";
import { UsageError } from "../errors.js";
import { type Plan, planSchema } from "../plan/plan-schema.js";

/** Writes the plan JSON (version 1) atomically: a reader never sees half a plan. */
export async function writePlan(plan: Plan, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const partial = `${path}.${process.pid}.partial`;
  await writeFile(partial, `${JSON.stringify(plan, null, 2)}\n`);
  await rename(partial, path);
}

/** Reads and checks a plan file; one that cannot be read or is not a plan is a UsageError. */
export async function readPlan(path: string): Promise<Plan> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read plan ${path}: ${(error as Error).message}`);
  }
  try {
    return planSchema.parse(JSON.parse(text));
  } catch (error) {
    const why =
      error instanceof ZodError
        ? error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")
        : (error as Error).message;
    throw new UsageError(`${path} is not a regsweep plan (version 1): ${why}`);
  }
}

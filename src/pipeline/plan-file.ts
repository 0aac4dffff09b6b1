import type { Writable } from "node:stream";
import { ZodError, type z } from "zod";
import { readJsonObject } from "../apply/json-reader.js";
import { writeJson, writeJsonFile } from "../apply/json-writer.js";
import { UsageError } from "../errors.js";
import { deleteEntrySchema, keepEntrySchema, type Plan, planSchema } from "../plan/plan-schema.js";
import { EntryReader } from "../plan/read-entry.js";

/**
 * Writes the plan JSON (version 1) atomically: a reader never sees half a plan. It is streamed
 * entry by entry, byte for byte what `JSON.stringify(plan, null, 2)` gives, so that a plan of a
 * million manifests (larger than the longest string Node can hold) writes too.
 */
export async function writePlan(plan: Plan, path: string): Promise<void> {
  await writeJsonFile(path, plan);
}

/** The plan JSON to a stream (standard output), the same bytes as writePlan writes. */
export async function printPlan(plan: Plan, out: Writable): Promise<void> {
  await writeJson(out, plan);
}

const entrySchemas: Record<string, z.ZodType> = { delete: deleteEntrySchema, keep: keepEntrySchema };

/**
 * Reads and checks a plan file; one that cannot be read or is not a plan is a UsageError. The file
 * is parsed entry by entry and each delete[] and keep[] entry checked as it is read (by EntryReader,
 * which keeps what entries repeat once; the schema where it declines), so the file is never held
 * as text.
 */
export async function readPlan(path: string): Promise<Plan> {
  let raw: Record<string, unknown>;
  try {
    const entries = new EntryReader();
    raw = await readJsonObject(path, (field, entry, index) => {
      const schema = entrySchemas[field];
      if (!schema) return entry;
      const fast = entries.read(field as "delete" | "keep", entry);
      if (fast) return fast;
      const parsed = schema.safeParse(entry);
      if (!parsed.success)
        throw new ZodError(parsed.error.issues.map((i) => ({ ...i, path: [field, index, ...i.path] })));
      return parsed.data;
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code === "string" && !(error instanceof ZodError)) {
      throw new UsageError(`cannot read plan ${path}: ${(error as Error).message}`);
    }
    throw notAPlan(path, error);
  }
  const { delete: toDelete, keep, ...rest } = raw;
  try {
    // Entries are checked already: the rest of the plan is small. A missing or malformed list is
    // left in, for the schema to name.
    const lists = Array.isArray(toDelete) && Array.isArray(keep);
    const plan = planSchema.parse(lists ? { ...rest, delete: [], keep: [] } : raw);
    return { ...plan, delete: toDelete as Plan["delete"], keep: keep as Plan["keep"] };
  } catch (error) {
    throw notAPlan(path, error);
  }
}

function notAPlan(path: string, error: unknown): UsageError {
  const why =
    error instanceof ZodError
      ? error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")
      : (error as Error).message;
  return new UsageError(`${path} is not a regsweep plan (version 1): ${why}`);
}

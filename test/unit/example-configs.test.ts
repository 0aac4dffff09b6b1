import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load-config.js";

const EXAMPLES = join(import.meta.dirname, "../../examples");

/** The configurations README points users at must load as they are. */
describe("example configurations", () => {
  for (const file of readdirSync(EXAMPLES).filter((f) => f.endsWith(".yaml"))) {
    it(`${file} is a valid configuration`, async () => {
      const config = await loadConfig(join(EXAMPLES, file));
      expect(config.usage.length).toBeGreaterThan(0);
    });
  }
});

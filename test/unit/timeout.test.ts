import { describe, expect, it } from "vitest";
import { parseTimeout } from "../../src/cli/registry-options.js";
import { UsageError } from "../../src/errors.js";

describe("--timeout", () => {
  it.each([
    ["30s", 30_000],
    ["2m", 120_000],
    ["1m30s", 90_000],
    ["500ms", 500],
    ["90", 90_000],
    ["2.5", 2_500],
    [" 10s ", 10_000],
  ])("%s is %i ms", (text, ms) => {
    expect(parseTimeout(text)).toBe(ms);
  });

  it.each(["0", "0s", "soon", "-5", "", "10 s", "1x"])("refuses %j as bad usage", (text) => {
    expect(() => parseTimeout(text)).toThrow(UsageError);
  });
});

import { describe, expect, it } from "vitest";
import { parseDuration } from "../../src/policy/duration.js";

const S = 1_000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe("parseDuration reads acr purge --ago durations", () => {
  it.each([
    ["30d", 30 * D],
    ["1d", D],
    ["0d", 0],
    ["1d12h", D + 12 * H],
    ["2d3h6m", 2 * D + 3 * H + 6 * M],
    ["90m", 90 * M],
    ["1h30m", 90 * M],
    ["12h", 12 * H],
    ["45s", 45 * S],
    ["1m30s", 90 * S],
    ["500ms", 500],
    ["1.5h", 90 * M],
    ["365d", 365 * D],
    [" 30d ", 30 * D],
  ])("%j is %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    "",
    " ",
    "30",
    "d",
    "abc",
    "30 d",
    "30D",
    "-1d",
    "+1d",
    "1y",
    "1w",
    "1d-2h",
    "1dd",
    "1.5.5h",
    "30days",
    "d30",
  ])("%j is not a duration", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it("accepts a bare 0, as Go's time.ParseDuration and therefore acr purge --ago do", () => {
    expect(parseDuration("0")).toBe(0);
  });
});

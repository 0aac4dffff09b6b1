import { describe, expect, it } from "vitest";
import { MAX_AGO_MS, parseAgo, parseDuration } from "../../src/policy/duration.js";

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

describe("parseAgo reads --ago exactly as acr purge does", () => {
  it.each([
    ["30d", 30 * D],
    ["1d1h3m", D + H + 3 * M],
    ["15m", 15 * M],
    ["0m", 0],
    ["0d", 0],
    ["0", 0],
    // acr-cli's TestParseDuration: a negative duration means everything is old enough.
    ["-1d", -D],
    ["-15m", -15 * M],
    ["+1d", D],
    ["1d-2h", D - 2 * H],
    // Capped at 150 years rather than never matching.
    ["999999d", MAX_AGO_MS],
    ["9999999d", MAX_AGO_MS],
    ["999999999h", MAX_AGO_MS],
    ["9999999d999999999h", MAX_AGO_MS],
  ])("%j is %d ms", (text, ms) => {
    expect(parseAgo(text)).toBe(ms);
  });

  it("caps at 150 years of 365 days", () => {
    expect(MAX_AGO_MS).toBe(150 * 365 * D);
  });

  it.each(["", "15", "15p", "d", "1dd", "1h2d", "30D", "1y", "--1d", "30 d"])(
    "%j is not a duration",
    (text) => {
      expect(parseAgo(text)).toBeUndefined();
    },
  );
});

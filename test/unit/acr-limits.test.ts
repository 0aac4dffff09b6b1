import { describe, expect, it } from "vitest";
import { ACR_DEFAULT_RPS, ACR_MAX_CONCURRENCY, requestLimits } from "../../src/pipeline/open-registry.js";

describe("request limits stay within ACR's documented rate limits", () => {
  it("defaults ACR to a request rate under the Basic SKU's 1,000 reads per minute", () => {
    expect(requestLimits("acr", {})).toEqual({ concurrency: 8, rps: ACR_DEFAULT_RPS });
    expect(ACR_DEFAULT_RPS * 60).toBeLessThan(1000);
  });

  it("takes --rps as given (Standard and Premium allow more)", () => {
    expect(requestLimits("acr", { rps: 150 }).rps).toBe(150);
  });

  it("caps --concurrency at 32 for ACR, as acr purge does", () => {
    expect(requestLimits("acr", { concurrency: 100 }).concurrency).toBe(ACR_MAX_CONCURRENCY);
  });

  it("leaves other registries unlimited unless asked", () => {
    expect(requestLimits("distribution", { concurrency: 100 })).toEqual({ concurrency: 100 });
  });
});

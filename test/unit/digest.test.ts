import { describe, expect, it } from "vitest";
import { isDigest, referrersTagFor, sha256Digest, subjectOfReferrerTag } from "../../src/oci/digest.js";

const HEX = "0123456789abcdef".repeat(4);
const D = `sha256:${HEX}`;

describe("referrer tags (cosign / OCI referrers tag schema)", () => {
  it("names a subject's referrers tag sha256-<hex>", () => {
    expect(referrersTagFor(sha256Digest("x"))).toBe(sha256Digest("x").replace("sha256:", "sha256-"));
  });

  it.each([
    [`sha256-${HEX}`, "index"],
    [`sha256-${HEX}.sig`, "sig"],
    [`sha256-${HEX}.att`, "att"],
    [`sha256-${HEX}.sbom`, "sbom"],
  ])("reads %s as a referrer of its digest (%s)", (tag, kind) => {
    expect(subjectOfReferrerTag(tag)).toEqual({ subject: D, kind });
  });

  it.each([
    "latest",
    `sha256-${HEX}.foo`,
    `sha256-${HEX.toUpperCase()}.sig`,
    `sha256-${HEX.slice(1)}.sig`,
    `sha256-${HEX}.sig.sig`,
    `xsha256-${HEX}.sig`,
    `sha512-${HEX}${HEX}.sig`,
  ])("does not read %s as a referrer tag", (tag) => {
    expect(subjectOfReferrerTag(tag)).toBeUndefined();
  });

  it("accepts only canonical sha256 digests", () => {
    expect(isDigest(D)).toBe(true);
    expect(isDigest(`sha256:${HEX.toUpperCase()}`)).toBe(false);
    expect(isDigest(`sha256:${HEX}0`)).toBe(false);
    expect(isDigest(HEX)).toBe(false);
  });
});

import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { canonicalHost, parseRegistryUrl } from "../../src/oci/reference.js";

describe("parseRegistryUrl", () => {
  it.each([
    // input, insecure, baseUrl, host
    ["https://myacr.azurecr.io", false, "https://myacr.azurecr.io", "myacr.azurecr.io"],
    ["https://myacr.azurecr.io/", false, "https://myacr.azurecr.io", "myacr.azurecr.io"],
    ["myacr.azurecr.io", false, "https://myacr.azurecr.io", "myacr.azurecr.io"],
    ["https://MyAcr.AzureCR.io", false, "https://myacr.azurecr.io", "myacr.azurecr.io"],
    ["https://myacr.azurecr.io:443", false, "https://myacr.azurecr.io", "myacr.azurecr.io"],
    ["myacr.azurecr.io:443", false, "https://myacr.azurecr.io", "myacr.azurecr.io"],
    ["https://reg.example.com:8443", false, "https://reg.example.com:8443", "reg.example.com:8443"],
    ["reg.example.com:5000", false, "https://reg.example.com:5000", "reg.example.com:5000"],
    ["reg.example.com:5000", true, "http://reg.example.com:5000", "reg.example.com:5000"],
    ["http://reg.example.com:5000", true, "http://reg.example.com:5000", "reg.example.com:5000"],
    // loopback: plain http without --insecure, as Docker allows
    ["http://127.0.0.1:5000", false, "http://127.0.0.1:5000", "127.0.0.1:5000"],
    ["http://localhost:5000", false, "http://localhost:5000", "localhost:5000"],
    ["http://[::1]:5000", false, "http://[::1]:5000", "[::1]:5000"],
    ["127.0.0.1:5000", false, "http://127.0.0.1:5000", "127.0.0.1:5000"],
    ["localhost:5000", false, "http://localhost:5000", "localhost:5000"],
    ["LOCALHOST:5000", false, "http://localhost:5000", "localhost:5000"],
    ["[::1]:5000", false, "http://[::1]:5000", "[::1]:5000"],
    ["https://localhost:5000", false, "https://localhost:5000", "localhost:5000"],
    ["http://127.0.0.2:5000", false, "http://127.0.0.2:5000", "127.0.0.2:5000"],
  ] as const)("%s (insecure %s) is %s", (input, insecure, baseUrl, host) => {
    expect(parseRegistryUrl(input, insecure)).toEqual({ baseUrl, host });
  });

  describe("refuses", () => {
    it.each([
      ["plain http to a non-loopback host without --insecure", "http://reg.example.com:5000"],
      ["plain http to a host that only starts with localhost", "http://localhost.evil.example:5000"],
      ["plain http to a host that only contains 127.0.0.1", "http://127.0.0.1.evil.example"],
      ["a path", "https://reg.example.com/v2/"],
      ["a repository path", "https://reg.example.com/team/app"],
      ["credentials in the URL", "https://alice:secret@reg.example.com"],
      ["another scheme", "ftp://reg.example.com"],
      ["garbage", "http://"],
    ])("%s: %s", (_why, input) => {
      expect(() => parseRegistryUrl(input, false)).toThrow(UsageError);
    });
  });
});

describe("canonicalHost compares registry hosts exactly", () => {
  it.each([
    ["myacr.azurecr.io", "myacr.azurecr.io"],
    ["MyAcr.AzureCR.io", "myacr.azurecr.io"],
    ["myacr.azurecr.io:443", "myacr.azurecr.io"],
    ["docker.io", "docker.io"],
    ["index.docker.io", "docker.io"],
    ["Index.Docker.IO:443", "docker.io"],
    ["registry-1.docker.io", "docker.io"],
  ])("%s -> %s", (input, expected) => {
    expect(canonicalHost(input)).toBe(expected);
  });

  it("folds the loopback names together, keeping the port", () => {
    const forms = ["localhost:5000", "LocalHost:5000", "127.0.0.1:5000", "[::1]:5000"].map(canonicalHost);
    expect(new Set(forms).size).toBe(1);
    expect(canonicalHost("localhost")).toBe(canonicalHost("127.0.0.1"));
    expect(canonicalHost("[::1]")).toBe(canonicalHost("localhost"));
    expect(canonicalHost("localhost:5000")).not.toBe(canonicalHost("localhost:5001"));
    expect(canonicalHost("localhost:5000")).not.toBe(canonicalHost("localhost"));
  });

  it.each([
    ["notmyacr.azurecr.io", "myacr.azurecr.io"],
    ["myacr.azurecr.io.evil.example", "myacr.azurecr.io"],
    ["myacr.azurecr.io:5000", "myacr.azurecr.io"],
    ["localhost.evil.example:5000", "localhost:5000"],
    ["mylocalhost:5000", "localhost:5000"],
    ["docker.io.evil.example", "docker.io"],
    ["127.0.0.10:5000", "127.0.0.1:5000"],
  ])("never matches by substring: %s is not %s", (a, b) => {
    expect(canonicalHost(a)).not.toBe(canonicalHost(b));
  });
});

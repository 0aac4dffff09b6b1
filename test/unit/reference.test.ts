import { describe, expect, it } from "vitest";
import { formatReference, InvalidReferenceError, parseReference } from "../../src/oci/reference.js";

const HEX = "a".repeat(64);
const D = `sha256:${HEX}`;

describe("parseReference normalises image references as Docker/containerd do", () => {
  describe.each([
    // Docker Hub defaults
    ["nginx", "docker.io", "library/nginx", "latest", undefined],
    ["nginx:1.25", "docker.io", "library/nginx", "1.25", undefined],
    ["library/nginx", "docker.io", "library/nginx", "latest", undefined],
    ["bitnami/redis:7.2", "docker.io", "bitnami/redis", "7.2", undefined],
    ["docker.io/nginx", "docker.io", "library/nginx", "latest", undefined],
    ["docker.io/library/nginx:alpine", "docker.io", "library/nginx", "alpine", undefined],
    ["index.docker.io/nginx", "docker.io", "library/nginx", "latest", undefined],
    ["index.docker.io/bitnami/redis", "docker.io", "bitnami/redis", "latest", undefined],
    ["a/b/c/d:x", "docker.io", "a/b/c/d", "x", undefined],
    // library/ only for one-component Docker Hub names
    ["myacr.azurecr.io/nginx", "myacr.azurecr.io", "nginx", "latest", undefined],
    ["myacr.azurecr.io/team/app:v1", "myacr.azurecr.io", "team/app", "v1", undefined],
    ["ghcr.io/owner/app:main", "ghcr.io", "owner/app", "main", undefined],
    // the first component is a host iff it has '.' or ':' or is localhost or has uppercase
    ["localhost/app", "localhost", "app", "latest", undefined],
    ["localhost:5000/team/app:v2", "localhost:5000", "team/app", "v2", undefined],
    ["127.0.0.1:5000/app", "127.0.0.1:5000", "app", "latest", undefined],
    ["myhost:5000/app", "myhost:5000", "app", "latest", undefined],
    ["[::1]:5000/app:v1", "[::1]:5000", "app", "v1", undefined],
    ["MyRegistry/app", "myregistry", "app", "latest", undefined],
    ["foo/bar", "docker.io", "foo/bar", "latest", undefined],
    ["localhostx/app", "docker.io", "localhostx/app", "latest", undefined],
    // host is case-insensitive and is lowercased
    ["MyAcr.AzureCR.io/app:v1", "myacr.azurecr.io", "app", "v1", undefined],
    ["LOCALHOST:5000/app", "localhost:5000", "app", "latest", undefined],
    ["Index.Docker.IO/nginx", "docker.io", "library/nginx", "latest", undefined],
    // tags may hold uppercase, dots, dashes and underscores
    ["app:V1.0_rc-2", "docker.io", "library/app", "V1.0_rc-2", undefined],
    // digests: no default tag; tag + digest keeps both
    [`nginx@${D}`, "docker.io", "library/nginx", undefined, D],
    [`nginx:1.25@${D}`, "docker.io", "library/nginx", "1.25", D],
    [`localhost:5000/team/app@${D}`, "localhost:5000", "team/app", undefined, D],
    [`localhost:5000/team/app:v1@${D}`, "localhost:5000", "team/app", "v1", D],
    // surrounding whitespace is ignored
    ["  nginx:1  ", "docker.io", "library/nginx", "1", undefined],
  ] as const)("%s", (input, host, repository, tag, digest) => {
    it(`is ${host}/${repository}${tag ? `:${tag}` : ""}${digest ? "@digest" : ""}`, () => {
      const ref = parseReference(input);
      expect(ref.host).toBe(host);
      expect(ref.repository).toBe(repository);
      expect(ref.tag).toBe(tag);
      expect(ref.digest).toBe(digest);
    });
  });

  it("accepts a 128-character tag", () => {
    expect(parseReference(`app:${"t".repeat(128)}`).tag).toHaveLength(128);
  });

  describe("rejects what is not a reference", () => {
    it.each([
      ["empty", ""],
      ["blank", "   "],
      ["uppercase one-component name", "Nginx"],
      ["uppercase path component", "docker.io/Library/nginx"],
      ["uppercase path after a Hub namespace", "foo/Bar"],
      ["uppercase path on another host", "myacr.azurecr.io/Team/app"],
      ["short digest", "nginx@sha256:abc"],
      ["uppercase digest hex", `nginx@sha256:${"A".repeat(64)}`],
      ["non-sha256 algorithm", `nginx@md5:${HEX}`],
      ["empty digest", "nginx@"],
      ["digest without a name", `@${D}`],
      ["empty tag", "nginx:"],
      ["tag without a name", ":latest"],
      ["tag starting with a dash", "nginx:-bad"],
      ["tag starting with a dot", "nginx:.bad"],
      ["129-character tag", `app:${"t".repeat(129)}`],
      ["bad host", "my_host.com/app"],
      ["non-numeric port", "myhost:abc/app"],
      ["empty path component", "a//b"],
      ["trailing slash", "app/"],
      ["host only", "myacr.azurecr.io/"],
      ["space inside", "nginx latest"],
      ["doubled separator", "foo..bar"],
      ["two @", `a@b@${D}`],
    ])("%s: %j", (_why, input) => {
      expect(() => parseReference(input)).toThrow(InvalidReferenceError);
    });
  });

  it("formats a normalised reference back to its canonical text", () => {
    expect(formatReference(parseReference("nginx"))).toBe("docker.io/library/nginx:latest");
    expect(formatReference(parseReference(`LocalHost:5000/a/b:v1@${D}`))).toBe(`localhost:5000/a/b:v1@${D}`);
  });
});

import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { parseInUseList } from "../../src/usage/in-use-file.js";

const D = `sha256:${"b".repeat(64)}`;

describe("parseInUseList reads one image reference per line", () => {
  it("parses every reference line, normalised, with its source line", () => {
    const usages = parseInUseList(
      `registry.example.com/team/api:v1\nregistry.example.com/team/web@${D}\nnginx\n`,
      "in-use.txt",
    );
    expect(
      usages.map((u) => [u.reference.host, u.reference.repository, u.reference.tag, u.reference.digest]),
    ).toEqual([
      ["registry.example.com", "team/api", "v1", undefined],
      ["registry.example.com", "team/web", undefined, D],
      ["docker.io", "library/nginx", "latest", undefined],
    ]);
    expect(usages.map((u) => u.source)).toEqual([
      "in-use-file in-use.txt:1",
      "in-use-file in-use.txt:2",
      "in-use-file in-use.txt:3",
    ]);
    expect(usages[0]?.raw).toBe("registry.example.com/team/api:v1");
  });

  it("skips whole-line comments and blank or whitespace-only lines", () => {
    const usages = parseInUseList(
      "# production\n\n   \n\t\nregistry.example.com/a:v1\n  # indented comment\n",
      "f",
    );
    expect(usages).toHaveLength(1);
    expect(usages[0]?.source).toBe("in-use-file f:5");
  });

  it("strips trailing comments, with or without a space before '#'", () => {
    const usages = parseInUseList(
      "registry.example.com/a:v1   # the api\nregistry.example.com/b:v2#web\n",
      "f",
    );
    expect(usages.map((u) => `${u.reference.repository}:${u.reference.tag}`)).toEqual(["a:v1", "b:v2"]);
    expect(usages.map((u) => u.raw)).toEqual(["registry.example.com/a:v1", "registry.example.com/b:v2"]);
  });

  it("accepts CRLF line endings and keeps line numbers right", () => {
    const usages = parseInUseList(
      "# c\r\nregistry.example.com/a:v1\r\n\r\nregistry.example.com/b:v2\r\n",
      "f",
    );
    expect(usages.map((u) => u.reference.tag)).toEqual(["v1", "v2"]);
    expect(usages.map((u) => u.source)).toEqual(["in-use-file f:2", "in-use-file f:4"]);
  });

  it("tolerates a UTF-8 byte-order mark at the start of the file", () => {
    const usages = parseInUseList("\uFEFFregistry.example.com/a:v1\r\n", "f");
    expect(usages.map((u) => u.reference.host)).toEqual(["registry.example.com"]);
  });

  it("accepts a last line without a newline", () => {
    expect(parseInUseList("registry.example.com/a:v1", "f")).toHaveLength(1);
  });

  it("gives an empty list for an empty or comment-only file", () => {
    expect(parseInUseList("", "f")).toEqual([]);
    expect(parseInUseList("# nothing in use\n\n", "f")).toEqual([]);
  });

  it("fails on an unparsable line with a UsageError naming the file and line number", () => {
    const text =
      "registry.example.com/a:v1\n# fine\nregistry.example.com/Bad/Name\nregistry.example.com/c:v3\n";
    expect(() => parseInUseList(text, "in-use.txt")).toThrow(UsageError);
    expect(() => parseInUseList(text, "in-use.txt")).toThrow(/in-use\.txt line 3\b/);
  });

  it("counts CRLF lines correctly in the error", () => {
    expect(() => parseInUseList("a.io/x:v1\r\n\r\nnot a reference\r\n", "f")).toThrow(/f line 3\b/);
  });

  it("never silently skips a bad line: a bad digest is an error too", () => {
    expect(() => parseInUseList("registry.example.com/a@sha256:1234\n", "f")).toThrow(/f line 1\b/);
  });
  it("never echoes a rejected standard-input line: it may be a password sent to the wrong option", () => {
    const attempt = () => parseInUseList("S3cret-Pass!\n", "<stdin>");
    expect(attempt).toThrow(UsageError);
    expect(attempt).toThrow("<stdin> line 1: not an image reference (12 characters, not shown)");
    expect(attempt).not.toThrow(/S3cret|Pass/);
  });

  it("shows at most the first 40 characters of a rejected file line", () => {
    const line = `registry.example.com/${"x".repeat(40)}:bad tag ${"y".repeat(200)}`;
    let message = "";
    try {
      parseInUseList(`${line}\n`, "in-use.txt");
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^in-use\.txt line 1: not an image reference: "registry\.example\.com\/x{18}…"/);
    expect(message).not.toMatch(/y{10}/);
    expect(message.length).toBeLessThan(200);
  });
});

describe("reference lists given as data (the library)", () => {
  it("name each usage after the list and its entry, not as a file", async () => {
    const { loadUsages } = await import("../../src/pipeline/usages.js");
    const [usage] = await loadUsages([
      { type: "references", name: "deploy pipeline", references: ["registry.example.com/team/app:1.2"] },
    ]);
    expect(usage?.source).toBe("deploy pipeline:1");
  });
});

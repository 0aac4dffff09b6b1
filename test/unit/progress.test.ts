import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { startProgress } from "../../src/report/progress.js";

function sink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  return { stream, lines };
}

describe("progress outside a terminal", () => {
  it("names sizes in readable units", () => {
    const { stream, lines } = sink();
    const p = startProgress(2, 3000, stream);
    p.item(1000);
    p.item(2000);
    expect(lines.at(-1)).toMatch(/^progress: 2\/2 manifests, 3\.0 KB of 3\.0 KB, ETA 0s\n$/);
  });

  it("leaves sizes out when the plan knows none, instead of 0.0 of 0.0 MB", () => {
    const { stream, lines } = sink();
    const p = startProgress(1, 0, stream);
    p.item(0);
    expect(lines.at(-1)).toBe("progress: 1/1 manifests, ETA 0s\n");
  });
});

import { createRequire } from "node:module";
import { formatBytes } from "./format-bytes.js";

export interface Progress {
  item(bytes: number): void;
  stop(): void;
}

/**
 * A progress bar (items, bytes, ETA) on a terminal; elsewhere a plain line every few seconds,
 * so CI logs show that a long run is alive without drowning in bars.
 */
export function startProgress(
  total: number,
  totalBytes: number,
  stream: NodeJS.WriteStream = process.stderr,
): Progress {
  let done = 0;
  let bytes = 0;
  if (stream.isTTY) {
    // Loaded only for an apply at a terminal.
    const cliProgress = createRequire(import.meta.url)("cli-progress") as typeof import("cli-progress");
    const bar = new cliProgress.SingleBar(
      {
        format: `deleting [{bar}] {value}/{total} manifests${totalBytes > 0 ? " | {size}" : ""} | ETA {eta_formatted}`,
        stream,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { size: sizeText(0, totalBytes) });
    return {
      item(b) {
        done++;
        bytes += b;
        bar.update(done, { size: sizeText(bytes, totalBytes) });
      },
      stop() {
        bar.stop();
      },
    };
  }
  const started = Date.now();
  let last = started;
  return {
    item(b) {
      done++;
      bytes += b;
      const now = Date.now();
      if (now - last >= 5000 || done === total) {
        last = now;
        const rate = done / Math.max(1, (now - started) / 1000);
        const eta = Math.round((total - done) / Math.max(rate, 0.001));
        stream.write(
          `progress: ${done}/${total} manifests${totalBytes > 0 ? `, ${sizeText(bytes, totalBytes)}` : ""}, ETA ${eta}s\n`,
        );
      }
    },
    stop() {},
  };
}

/** `1.2 MB of 3.4 MB`; sizes the plan does not know are left out rather than shown as 0.0 of 0.0. */
function sizeText(bytes: number, totalBytes: number): string {
  return `${formatBytes(bytes)} of ${formatBytes(totalBytes)}`;
}

import { createServer } from "node:net";

/**
 * Asks the kernel for an unused TCP port on 127.0.0.1. The port is released before returning, so a
 * caller that hands it to another process must tolerate losing the race for it (see startRegistry).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("unexpected listener address"));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

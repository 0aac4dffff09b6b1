import S3rver from "s3rver";
import { tempDir } from "../helpers.js";

export const S3_BUCKET = "backups";

/** A real S3-protocol server in this process, on a port of its own, for one test file. */
export async function startS3(): Promise<{
  endpoint: string;
  /** "METHOD /path?query" of every request, to see how objects were sent (single PUT or multipart). */
  readonly requests: readonly string[];
  stop(): Promise<void>;
}> {
  const server = new S3rver({
    port: 0,
    address: "127.0.0.1",
    silent: true,
    directory: await tempDir("regsweep-s3-"),
    configureBuckets: [{ name: S3_BUCKET }],
  });
  const { port } = await server.run();
  const requests: string[] = [];
  server.httpServer?.on("request", (req: import("node:http").IncomingMessage) => {
    requests.push(`${req.method} ${req.url}`);
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    async stop() {
      // SDK clients keep sockets alive; close() would wait for them to time out.
      server.httpServer?.closeAllConnections();
      await server.close();
    },
  };
}

import { createServer, type Socket } from "node:net";

export interface SilentServer {
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT */
  host: string;
  port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Bytes received so far over all connections: requests that reached the server. */
  readonly bytesReceived: number;
  /** Resolves once at least `n` connections have sent something (a request reached the server). */
  requestsArrived(n: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A registry that accepts connections and never answers: the hung load balancer or stopped process
 * behind a live port. Sockets stay open (reads are drained) until stop() destroys them.
 */
export async function startSilentServer(): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  let connections = 0;
  let bytesReceived = 0;
  let talking = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  const notify = () => {
    for (const w of [...waiters]) {
      if (talking >= w.n) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    let spoke = false;
    socket.on("data", (chunk) => {
      bytesReceived += chunk.length;
      if (!spoke) {
        spoke = true;
        talking++;
        notify();
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("unexpected listener address");
  const host = `127.0.0.1:${address.port}`;
  return {
    url: `http://${host}`,
    host,
    port: address.port,
    get connections() {
      return connections;
    },
    get bytesReceived() {
      return bytesReceived;
    },
    requestsArrived(n: number) {
      return new Promise<void>((resolve) => {
        waiters.push({ n, resolve });
        notify();
      });
    },
    stop() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

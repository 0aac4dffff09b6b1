/**
 * `pods/{name}/exec` over WebSocket, as the API server proxies it from the kubelet: the
 * `v5.channel.k8s.io` / `v4.channel.k8s.io` subprotocols, one byte of channel before each frame
 * (1 stdout, 2 stderr, 3 the final metav1.Status as JSON), then the server closes.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Runs the command the client asked for "in" the container. */
export type ExecHandler = (
  namespace: string,
  pod: string,
  container: string,
  command: string[],
) => Promise<ExecResult>;

const PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

export function execStatus(command: string[], exitCode: number): object {
  if (exitCode === 0) return { metadata: {}, status: "Success" };
  return {
    metadata: {},
    status: "Failure",
    message: `command terminated with non-zero exit code: error executing command [${command.join(" ")}], exit code ${exitCode}`,
    reason: "NonZeroExitCode",
    details: { causes: [{ reason: "ExitCode", message: String(exitCode) }] },
  };
}

export function execUpgrader(run: ExecHandler) {
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (offered) => PROTOCOLS.find((p) => offered.has(p)) ?? false,
  });
  const frame = (channel: number, text: string) => Buffer.concat([Buffer.from([channel]), Buffer.from(text)]);
  return {
    /** Takes over the upgraded socket for ns/pod; the caller has checked auth and that the pod exists. */
    upgrade(
      req: IncomingMessage,
      socket: Duplex,
      head: Buffer,
      namespace: string,
      pod: string,
      query: URLSearchParams,
    ) {
      wss.handleUpgrade(req, socket, head, (ws) => {
        const command = query.getAll("command");
        const container = query.get("container") ?? "";
        run(namespace, pod, container, command).then(
          (result) => {
            if (result.stdout) ws.send(frame(1, result.stdout));
            if (result.stderr) ws.send(frame(2, result.stderr));
            ws.send(frame(3, JSON.stringify(execStatus(command, result.exitCode))));
            ws.close(1000);
          },
          (error: Error) => {
            ws.send(
              frame(
                3,
                JSON.stringify({
                  metadata: {},
                  status: "Failure",
                  message: error.message,
                  reason: "InternalError",
                }),
              ),
            );
            ws.close(1000);
          },
        );
      });
    },
    close() {
      for (const c of wss.clients) c.terminate();
      wss.close();
    },
  };
}

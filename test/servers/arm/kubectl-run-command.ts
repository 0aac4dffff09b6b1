import { execFile } from "node:child_process";
import type { ArmRunCommandHandler } from "./arm-server.js";

/**
 * A run-command handler that runs the command with the real kubectl against a cluster (a local
 * Kubernetes API server's kubeconfig), as AKS runs it in a pod inside the cluster. The request's
 * clusterToken, when given, is the token kubectl presents, as AKS does for Entra clusters.
 */
export function kubectlRunCommand(kubeconfigPath: string): ArmRunCommandHandler {
  return ({ command, clusterToken }) => {
    const [program, ...args] = command.trim().split(/\s+/);
    if (program !== "kubectl") return { exitCode: 127, logs: `sh: ${program}: not found\n` };
    const auth = clusterToken ? ["--token", clusterToken] : [];
    return new Promise((resolve) => {
      execFile(
        "kubectl",
        [...args, "--kubeconfig", kubeconfigPath, ...auth],
        { maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) => {
          const code = (error as { code?: unknown } | null)?.code;
          resolve({ exitCode: typeof code === "number" ? code : error ? 1 : 0, logs: `${stderr}${stdout}` });
        },
      );
    });
  };
}

// Placeholder until the adapter lands from its branch: the signature the factory calls.
import type { PullRequestProvider } from "./provider.js";

export function azureDevOpsProvider(_options: {
  organization: string;
  project: string;
  token: { kind: "pat" | "bearer"; value: string };
  timeoutMs?: number;
}): PullRequestProvider {
  throw new Error("azure-devops provider not built yet");
}

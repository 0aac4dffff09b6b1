// Placeholder until the adapter lands from its branch: the signature the factory calls.
import type { PullRequestProvider } from "./provider.js";

export function gitHubProvider(_options: {
  repository: string;
  token?: string;
  baseUrl?: string;
  timeoutMs?: number;
}): PullRequestProvider {
  throw new Error("github provider not built yet");
}

import type { TestProject } from "vitest/node";
import { startRegistry } from "./registry-process.js";

declare module "vitest" {
  export interface ProvidedContext {
    registryUrl: string;
    registryHost: string;
  }
}

/** One plain registry shared by every test file; tests needing auth or TLS start their own. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const registry = await startRegistry();
  project.provide("registryUrl", registry.url);
  project.provide("registryHost", registry.host);
  return () => registry.stop();
}

import { ECRClient } from "@aws-sdk/client-ecr";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRegistryUrl } from "../../src/oci/reference.js";
import { EcrRegistry } from "../../src/registry/ecr.js";
import { HttpTransport } from "../../src/registry/transport.js";
import { type SilentServer, startSilentServer } from "../harness/silent-server.js";

/** An ECR API that accepts connections and never answers: every call must still end. */
describe("ECR API calls end: a timeout, and the run's signal", () => {
  let silent: SilentServer;
  const transports: HttpTransport[] = [];
  const open = (options: { timeoutMs?: number; signal?: AbortSignal } = {}) => {
    const transport = new HttpTransport({ insecure: true, concurrency: 2 });
    transports.push(transport);
    const client = new ECRClient({
      region: "eu-west-1",
      endpoint: silent.url,
      credentials: { accessKeyId: "AKIDSILENT", secretAccessKey: "not-a-real-secret" },
    });
    return new EcrRegistry(parseRegistryUrl(silent.url, true), transport, { client, ...options });
  };

  beforeAll(async () => {
    silent = await startSilentServer();
  });

  afterAll(async () => {
    for (const t of transports) await t.close();
    await silent?.stop();
  });

  it("a DescribeImages that gets no answer fails after --timeout with one line naming the call", async () => {
    const error = await open({ timeoutMs: 300 })
      .registryMetadata("team/app")
      .catch((e: Error) => e);
    expect((error as Error).message).toMatch(
      /^ECR DescribeImages for 127\.0\.0\.1:\d+ got no answer within 300 ms: check the network, or raise --timeout$/,
    );
  });

  it("aborting the run's signal ends a call in flight", async () => {
    const controller = new AbortController();
    const arrived = silent.requestsArrived(silent.connections + 1);
    const listing = (async () => {
      for await (const _ of open({ timeoutMs: 60_000 }).withSignal(controller.signal).repositories()) {
        /* nothing answers */
      }
    })();
    await arrived;
    controller.abort(new Error("run cancelled"));
    await expect(listing).rejects.toThrow();
  });
});

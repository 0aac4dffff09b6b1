import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildImage, pushManifest } from "../../src/fixtures/image-factory.js";
import { type RunningRegistry, startRegistry } from "../harness/registry-process.js";
import { connect } from "./helpers.js";

describe("Basic auth, first requests in flight together", () => {
  let registry: RunningRegistry;
  const images = Array.from({ length: 6 }, (_, i) => buildImage({ seed: `basic concurrent ${i}` }));

  beforeAll(async () => {
    registry = await startRegistry({ auth: { htpasswd: { alice: "secret" } } });
    const { registry: pusher, transport } = connect(
      registry.url,
      {},
      { credentials: { username: "alice", password: "secret" } },
    );
    for (const image of images) await pushManifest(pusher, "team/app", image, []);
    await transport.close();
  });

  afterAll(async () => {
    await registry?.stop();
  });

  it("every request sent before the Basic challenge came back is retried with the credentials", async () => {
    const { registry: client, transport } = connect(
      registry.url,
      {},
      { credentials: { username: "alice", password: "secret" } },
    );
    try {
      const got = await Promise.all(images.map((i) => client.getManifest("team/app", i.digest)));
      expect(got.map((m) => m?.digest)).toEqual(images.map((i) => i.digest));
    } finally {
      await transport.close();
    }
  });

  it("wrong credentials are still refused, once", async () => {
    const { registry: client, transport } = connect(
      registry.url,
      {},
      { credentials: { username: "alice", password: "wrong" } },
    );
    try {
      await expect(client.getManifest("team/app", images[0]?.digest ?? "")).rejects.toMatchObject({
        status: 401,
      });
    } finally {
      await transport.close();
    }
  });
});

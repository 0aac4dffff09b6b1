import { describe, expect, it } from "vitest";
import { Authenticator } from "../../src/registry/auth.js";
import type { HttpRequest, HttpResponse, HttpTransport } from "../../src/registry/transport.js";

const CHALLENGE = 'Bearer realm="https://auth.test/token",service="registry.test"';

/** A token server: every GET answers a new token, valid for `expiresIn` seconds. */
function tokenServer(expiresIn = 300) {
  const asked: string[] = [];
  const transport = {
    async send(req: HttpRequest): Promise<HttpResponse> {
      asked.push(new URL(req.url).searchParams.getAll("scope").join(" "));
      const body = JSON.stringify({ token: `t${asked.length}`, expires_in: expiresIn });
      return { status: 200, headers: {}, body: Buffer.from(body) };
    },
  } as unknown as HttpTransport;
  return { transport, asked };
}

describe("bearer tokens", () => {
  it("one token per scope, reused until it is about to expire, then fetched again", async () => {
    const { transport, asked } = tokenServer(60);
    let now = 1_000_000;
    const auth = new Authenticator(transport, undefined, () => now);
    expect(await auth.header("repository:a:pull")).toBeUndefined();
    expect(await auth.onUnauthorized(CHALLENGE, "repository:a:pull")).toBe(true);
    const first = await Promise.all([1, 2, 3].map(() => auth.header("repository:a:pull")));
    expect(first).toEqual(["Bearer t1", "Bearer t1", "Bearer t1"]);
    expect(await auth.header("repository:a:pull")).toBe("Bearer t1");
    expect(await auth.header("repository:b:pull")).toBe("Bearer t2");
    // Renewed 10 s before its 60 s are up.
    now += 49_000;
    expect(await auth.header("repository:a:pull")).toBe("Bearer t1");
    now += 2_000;
    expect(await auth.header("repository:a:pull")).toBe("Bearer t3");
    expect(asked).toEqual(["repository:a:pull", "repository:b:pull", "repository:a:pull"]);
  });

  it("a token the registry refuses is not sent again: one fresh token is fetched", async () => {
    const { transport, asked } = tokenServer();
    const auth = new Authenticator(transport, undefined);
    await auth.onUnauthorized(CHALLENGE, "repository:a:pull");
    expect(await auth.header("repository:a:pull")).toBe("Bearer t1");
    expect(await auth.onUnauthorized(CHALLENGE, "repository:a:pull", "Bearer t1")).toBe(true);
    expect(await auth.header("repository:a:pull")).toBe("Bearer t2");
    expect(await auth.header("repository:a:pull")).toBe("Bearer t2");
    expect(asked).toHaveLength(2);
  });
});

import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";
import { AbortedError, UsageError } from "../../src/errors.js";
import { type AzureDevOpsProviderOptions, azureDevOpsProvider } from "../../src/pullrequest/azure-devops.js";
import { PullRequestLookupError } from "../../src/pullrequest/provider.js";
import { freePort } from "../harness/free-port.js";
import { runCaller } from "../harness/module-caller.js";
import { startSilentServer } from "../harness/silent-server.js";
import { type AzureDevOpsServerOptions, startAzureDevOpsServer } from "../servers/azure-devops-server.js";

const PAT = "pat0123456789abcdefghijklmnopqrstuvwxyz0123456789ab";
const BEARER = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.pipeline-access-token";

async function server(options: AzureDevOpsServerOptions = {}) {
  const s = await startAzureDevOpsServer({ pat: PAT, bearer: BEARER, ...options });
  onTestFinished(() => s.stop());
  return s;
}

function provider(organization: string, overrides: Partial<AzureDevOpsProviderOptions> = {}) {
  return azureDevOpsProvider({
    organization,
    project: "shop",
    token: { kind: "pat", value: PAT },
    timeoutMs: 5_000,
    ...overrides,
  });
}

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error("expected the lookup to fail");
    },
    (e: unknown) => e as Error,
  );

describe("Azure DevOps pull-request status through azure-devops-node-api", () => {
  it("maps the status the service answers to active, abandoned, completed and notSet", async () => {
    const ado = await server({
      pullRequests: {
        11: { status: "active" },
        12: { status: "abandoned" },
        13: { status: "completed" },
        14: { status: "notSet" },
      },
    });
    const p = provider(ado.url);
    expect(p.name).toBe(`azure-devops ${ado.url}/shop`);
    expect(await Promise.all([11, 12, 13, 14].map((n) => p.status(n)))).toEqual([
      "active",
      "abandoned",
      "completed",
      "notSet",
    ]);
    // Concurrent first lookups share one discovery.
    expect(ado.requests.filter((r) => r.path === "/contoso/_apis/ResourceAreas")).toHaveLength(1);
  });

  it("a status string the SDK does not know comes back as notSet (the SDK folds it into 0), so notSet must mean unknown", async () => {
    const ado = await server({ pullRequests: { 21: { status: "draftReview" } } });
    expect(await provider(ado.url).status(21)).toBe("notSet");
  });

  it("discovers the service once per provider and sends one GET per pull request, with the PAT as Basic credentials", async () => {
    const ado = await server({ pullRequests: { 1: { status: "active" }, 2: { status: "completed" } } });
    const p = provider(ado.url);
    await p.status(1);
    await p.status(2);
    await p.status(1);

    expect(ado.lookups(1)).toBe(2);
    expect(ado.lookups(2)).toBe(1);
    const discovery = ado.requests.filter((r) => !/pullRequests\/\d+$/.test(r.path));
    expect(discovery.map((r) => `${r.method} ${r.path}`)).toEqual([
      "OPTIONS /contoso/_apis/Location",
      "GET /contoso/_apis/ResourceAreas",
      "OPTIONS /contoso/_apis/git",
    ]);
    const lookup = ado.requests.find((r) => r.path === "/contoso/shop/_apis/git/pullRequests/1");
    expect(lookup).toMatchObject({ auth: "basic", authorized: true, apiVersion: "7.2-preview.2" });
  });

  it("works against an on-premises collection URL (no resource areas)", async () => {
    const ado = await server({
      collectionPath: "/tfs/DefaultCollection",
      onPremises: true,
      pullRequests: { 5: { status: "abandoned" } },
    });
    expect(await provider(`${ado.url}/`).status(5)).toBe("abandoned");
    expect(ado.lookups(5)).toBe(1);
  });

  it("a bearer token ($(System.AccessToken), Entra ID) is sent as Bearer and works", async () => {
    const ado = await server({ pullRequests: { 7: { status: "completed" } } });
    const p = provider(ado.url, { token: { kind: "bearer", value: BEARER } });
    expect(await p.status(7)).toBe("completed");
    expect(ado.requests.every((r) => r.auth === "bearer" && r.authorized)).toBe(true);
  });

  it("a pull request that does not exist is a PullRequestLookupError naming organization, project and PR", async () => {
    const ado = await server();
    const error = await failure(provider(ado.url).status(14));
    expect(error).toBeInstanceOf(PullRequestLookupError);
    expect((error as PullRequestLookupError).status).toBe(404);
    expect(error.message).toBe(
      `azure-devops ${ado.url}/shop PR 14: 404 not found — check the PR number and the project name, and that the token may read code (scope Code: Read)`,
    );
  });

  it("a wrong PAT is a 401 PullRequestLookupError that says what to check and never shows either token", async () => {
    const ado = await server({ pullRequests: { 3: { status: "active" } } });
    const wrong = "wrongpat9876543210zyxwvutsrqponmlkjihgfedcba9876543";
    const error = await failure(provider(ado.url, { token: { kind: "pat", value: wrong } }).status(3));
    expect(error).toBeInstanceOf(PullRequestLookupError);
    expect((error as PullRequestLookupError).status).toBe(401);
    expect(error.message).toBe(
      `azure-devops ${ado.url}/shop PR 3: 401 unauthorized — the token was refused: check that the personal access token has not expired or been revoked and has the scope Code (Read)`,
    );
    // The server's 401 body quotes the credential it was given; none of it may reach the message.
    const shown = `${error.message} ${String(error.stack)} ${JSON.stringify(error)}`;
    for (const secret of [wrong, PAT, Buffer.from(`PAT:${wrong}`).toString("base64")]) {
      expect(shown).not.toContain(secret);
    }
    expect(ado.requests[0]).toMatchObject({ auth: "basic", authorized: false });
  });

  it("a wrong bearer token is a 401 that points at the pipeline token, without the token", async () => {
    const ado = await server({ pullRequests: { 3: { status: "active" } } });
    const error = await failure(
      provider(ado.url, { token: { kind: "bearer", value: "expired.jwt.token" } }).status(3),
    );
    expect((error as PullRequestLookupError).status).toBe(401);
    expect(error.message).toContain("PR 3: 401 unauthorized");
    expect(error.message).toContain("$(System.AccessToken)");
    expect(error.message).not.toContain("expired.jwt.token");
  });

  it("403, 429 and 500 answers are one-line PullRequestLookupErrors with their status", async () => {
    const ado = await server({
      pullRequests: { 1: { answer: 403 }, 2: { answer: 429 }, 3: { answer: 500 } },
    });
    const p = provider(ado.url);
    const [forbidden, limited, broken] = await Promise.all([1, 2, 3].map((n) => failure(p.status(n))));
    expect((forbidden as PullRequestLookupError).status).toBe(403);
    expect(forbidden?.message).toBe(
      `azure-devops ${ado.url}/shop PR 1: 403 forbidden — the token may not read pull requests of project shop: give its identity read access to the repositories`,
    );
    expect((limited as PullRequestLookupError).status).toBe(429);
    expect(limited?.message).toBe(
      `azure-devops ${ado.url}/shop PR 2: 429 rate limited by Azure DevOps (Retry-After 30 s) — run again later or look up fewer pull requests`,
    );
    expect((broken as PullRequestLookupError).status).toBe(500);
    expect(broken?.message).toBe(
      `azure-devops ${ado.url}/shop PR 3: 500 server error — Azure DevOps failed; run again later`,
    );
    for (const e of [forbidden, limited, broken]) expect(e?.message).not.toContain("\n");
  });

  it("another refusal quotes the server's first line with the token masked", async () => {
    const ado = await server({ pullRequests: { 6: { answer: 400 } } });
    const error = await failure(provider(ado.url).status(6));
    expect((error as PullRequestLookupError).status).toBe(400);
    expect(error.message).toBe(
      `azure-devops ${ado.url}/shop PR 6: 400 refused (The server answers 400 to '***'.) — check the organization URL and project`,
    );
  });

  it("an answer without a status, or about another pull request, is a lookup error, not a status", async () => {
    const ado = await server({
      pullRequests: { 31: { status: null }, 32: { status: "completed", reportsId: 33 } },
    });
    const p = provider(ado.url);
    const missing = await failure(p.status(31));
    expect(missing).toBeInstanceOf(PullRequestLookupError);
    expect(missing.message).toBe(
      `azure-devops ${ado.url}/shop PR 31: the answer has no status regsweep knows (undefined) — keep the images and report this`,
    );
    const other = await failure(p.status(32));
    expect(other).toBeInstanceOf(PullRequestLookupError);
    expect(other.message).toContain("PR 32: the server answered with PR 33");
  });

  it("a failed discovery is not remembered: the next lookup discovers again and succeeds", async () => {
    const ado = await server({ discoveryAnswer: 401, pullRequests: { 2: { status: "abandoned" } } });
    const p = provider(ado.url);
    expect((await failure(p.status(2))).message).toContain("PR 2: 401 unauthorized");
    ado.setDiscoveryAnswer(undefined);
    expect(await p.status(2)).toBe("abandoned");
  });

  it("the token goes only to the host the user named, even when the server places the Git API elsewhere", async () => {
    const ado = await server({ areaHost: "localhost", pullRequests: { 2: { status: "active" } } });
    const error = await failure(provider(ado.url).status(2));
    const port = new URL(ado.url).port;
    expect(error).toBeInstanceOf(PullRequestLookupError);
    expect(error.message).toBe(
      `azure-devops ${ado.url}/shop PR 2: the server places its Git API on localhost:${port}, and regsweep sends the token only to the host you named — use the organization URL on localhost:${port}`,
    );
    expect(ado.requests.map((r) => r.path)).toEqual([
      "/contoso/_apis/Location",
      "/contoso/_apis/ResourceAreas",
    ]);
  });

  it("a URL that is not Azure DevOps says so", async () => {
    const ado = await server({ discoveryAnswer: 404 });
    const error = await failure(provider(ado.url).status(1));
    expect(error).toBeInstanceOf(PullRequestLookupError);
    expect(error.message).toBe(
      `azure-devops ${ado.url}/shop PR 1: no Git API at this URL — check that the organization URL is https://dev.azure.com/ORG or a collection URL such as https://tfs.example.com/tfs/DefaultCollection`,
    );
  });

  it("a server that refuses connections is a PullRequestLookupError naming the network error", async () => {
    const port = await freePort();
    const org = `http://127.0.0.1:${port}/contoso`;
    const error = await failure(provider(org).status(8));
    expect(error).toBeInstanceOf(PullRequestLookupError);
    expect(error.message).toBe(
      `azure-devops ${org}/shop PR 8: cannot reach the server (ECONNREFUSED) — check the organization URL and the network`,
    );
  });

  it("an organization that is not a URL, or an empty project, is bad usage", () => {
    expect(() => provider("contoso")).toThrow(UsageError);
    expect(() => provider("contoso")).toThrow(
      /azure-devops organization "contoso" is not a URL — use https:\/\/dev.azure.com\/ORG/,
    );
    expect(() => provider("https://dev.azure.com/contoso", { project: " " })).toThrow(UsageError);
  });
});

describe("Azure DevOps that does not answer", () => {
  it("a lookup that hangs fails with a timeout PullRequestLookupError within the timeout", async () => {
    const ado = await server({ pullRequests: { 4: { hang: true }, 5: { status: "active" } } });
    const p = provider(ado.url, { timeoutMs: 500 });
    const started = performance.now();
    const error = await failure(p.status(4));
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(PullRequestLookupError);
    expect(error.message).toBe(
      `azure-devops ${ado.url}/shop PR 4: no answer within 0.5 s — check that ${ado.url} is reachable from here, or raise the timeout`,
    );
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(3_000);
    // The same provider still answers for other pull requests.
    expect(await p.status(5)).toBe("active");
  });

  it("a server that accepts connections and never answers fails the first lookup within the timeout", async () => {
    const silent = await startSilentServer();
    onTestFinished(() => silent.stop());
    const started = performance.now();
    const error = await failure(provider(`${silent.url}/contoso`, { timeoutMs: 500 }).status(9));
    expect(error).toBeInstanceOf(PullRequestLookupError);
    expect(error.message).toContain("PR 9: no answer within 0.5 s");
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it("a lookup that joins a hung discovery started by another fails as a timeout too", async () => {
    const silent = await startSilentServer();
    onTestFinished(() => silent.stop());
    const p = provider(`${silent.url}/contoso`, { timeoutMs: 500 });
    const first = failure(p.status(1));
    await silent.requestsArrived(1);
    const second = failure(p.status(2));
    expect((await first).message).toContain("PR 1: no answer within 0.5 s");
    expect((await second).message).toContain("PR 2: no answer within 0.5 s");
  });

  it("the caller's AbortSignal ends a hung lookup with AbortedError", async () => {
    const ado = await server({ pullRequests: { 4: { hang: true } } });
    const p = provider(ado.url, { timeoutMs: 60_000 });
    const controller = new AbortController();
    const lookup = failure(p.status(4, controller.signal));
    await ado.arrived(/pullRequests\/4$/);
    controller.abort();
    const error = await lookup;
    expect(error).toBeInstanceOf(AbortedError);
    expect(error.message).toBe(`azure-devops ${ado.url}/shop PR 4: cancelled`);
  });
});

const PROVIDER_MODULE = pathToFileURL(
  resolve(import.meta.dirname, "../../dist/pullrequest/azure-devops.js"),
).href;

describe("a process that looks up a hung pull request ends by itself (needs npm run build)", () => {
  const caller = (timeoutMs: number, abortAfterMs?: number) => `
    const { azureDevOpsProvider } = await import(${JSON.stringify(PROVIDER_MODULE)});
    const p = azureDevOpsProvider({
      organization: process.argv[1], project: "shop", token: { kind: "pat", value: ${JSON.stringify(PAT)} }, timeoutMs: ${timeoutMs},
    });
    const signal = ${abortAfterMs === undefined ? "undefined" : `AbortSignal.timeout(${abortAfterMs})`};
    const started = Date.now();
    try {
      console.log(JSON.stringify({ outcome: await p.status(4, signal) }));
    } catch (error) {
      console.log(JSON.stringify({ outcome: error.name, message: error.message, ms: Date.now() - started }));
    }`;

  it("after the timeout", async () => {
    const ado = await server({ pullRequests: { 4: { hang: true } } });
    const res = await runCaller(caller(1_000), [ado.url], 20_000);
    expect(res.killed, res.stderr).toBe(false);
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout.trim()) as { outcome: string; message: string; ms: number };
    expect(out.outcome).toBe("PullRequestLookupError");
    expect(out.message).toContain("PR 4: no answer within 1 s");
    expect(res.ms).toBeLessThan(10_000);
  }, 30_000);

  it("after the caller aborts, long before the timeout: the hung socket is closed, not left to the 60 s deadline", async () => {
    const ado = await server({ pullRequests: { 4: { hang: true } } });
    const res = await runCaller(caller(60_000, 500), [ado.url], 20_000);
    expect(res.killed, res.stderr).toBe(false);
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout.trim()) as { outcome: string; ms: number };
    expect(out.outcome).toBe("AbortedError");
    expect(out.ms).toBeLessThan(5_000);
    expect(res.ms).toBeLessThan(15_000);
  }, 30_000);
});

describe("check()", () => {
  it("answers when the project's pull requests can be read", async () => {
    const ado = await server({ pullRequests: { 1: { status: "active" } } });
    expect(await provider(ado.url).check()).toBe("project shop answers");
    expect(ado.requests.at(-1)).toMatchObject({
      method: "GET",
      path: "/contoso/shop/_apis/git/pullRequests",
      authorized: true,
    });
  });

  it("fails with a bad token, without the token", async () => {
    const ado = await server();
    const error = await failure(provider(ado.url, { token: { kind: "pat", value: "nope-not-it" } }).check());
    expect(error).toBeInstanceOf(PullRequestLookupError);
    expect((error as PullRequestLookupError).status).toBe(401);
    expect(error.message).toContain(`azure-devops ${ado.url}/shop: 401 unauthorized`);
    expect(error.message).not.toContain("nope-not-it");
  });

  it("fails for a project that does not exist", async () => {
    const ado = await server();
    const error = await failure(provider(ado.url, { project: "warehouse" }).check());
    expect((error as PullRequestLookupError).status).toBe(404);
    expect(error.message).toBe(
      `azure-devops ${ado.url}/warehouse: 404 project warehouse not found — check the project name and that the token may read code (scope Code: Read)`,
    );
  });
});

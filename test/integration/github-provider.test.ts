import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { AbortedError, UsageError } from "../../src/errors.js";
import { gitHubProvider } from "../../src/pullrequest/github.js";
import { PullRequestLookupError } from "../../src/pullrequest/provider.js";
import { type GitHubServer, type GitHubServerOptions, startGitHubServer } from "../servers/github-server.js";

const TOKEN = "ghp_16C7e42F292c6912E7710c838347Ae178B4a";
const LIMITED = "github_pat_11ABCDEFG0limited0token0without0pulls";
const REPO = "contoso/shop";

const fixture: GitHubServerOptions = {
  tokens: [TOKEN],
  limitedTokens: [LIMITED],
  repositories: {
    [REPO]: {
      private: true,
      pulls: [
        { number: 3561, state: "open" },
        { number: 3565, state: "open", draft: true },
        { number: 3571, state: "closed", merged: true },
        { number: 3574, state: "closed", merged: false },
      ],
    },
  },
};

let server: GitHubServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function start(options: GitHubServerOptions = fixture) {
  server = await startGitHubServer(options);
  return server;
}

async function lookupError(promise: Promise<unknown>): Promise<PullRequestLookupError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PullRequestLookupError);
  return error as PullRequestLookupError;
}

describe("GitHub pull-request provider, through @octokit/rest", () => {
  it("maps open and draft to open, merged to merged, closed without merging to closed, one request per lookup", async () => {
    const gh = await start();
    const provider = gitHubProvider({ repository: REPO, token: TOKEN, baseUrl: gh.url });
    expect(await provider.status(3561)).toBe("open");
    expect(await provider.status(3565)).toBe("open");
    expect(await provider.status(3571)).toBe("merged");
    expect(await provider.status(3574)).toBe("closed");
    for (const n of [3561, 3565, 3571, 3574]) expect(gh.pullRequests(REPO, n)).toBe(1);
    expect(gh.requests.every((r) => r.authorization === `token ${TOKEN}`)).toBe(true);
    expect(provider.name).toBe(`github ${REPO} at ${gh.url}`);
  });

  it("reads a public repository without a token", async () => {
    const gh = await start({ repositories: { "octo/public": { pulls: [{ number: 7, state: "closed" }] } } });
    const provider = gitHubProvider({ repository: "octo/public", baseUrl: gh.url });
    expect(await provider.status(7)).toBe("closed");
    expect(gh.requests[0]?.authorization).toBeUndefined();
  });

  it("GitHub Enterprise: the API root's path is kept, a trailing slash is fine, and a JWT-shaped token goes as Bearer", async () => {
    const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxMjM0NSJ9.c2lnbmF0dXJl";
    const gh = await start({ ...fixture, tokens: [jwt], pathPrefix: "/api/v3" });
    const provider = gitHubProvider({ repository: REPO, token: jwt, baseUrl: `${gh.url}/` });
    expect(await provider.status(3571)).toBe("merged");
    expect(gh.requests).toEqual([
      { method: "GET", path: `/repos/${REPO}/pulls/3571`, authorization: `bearer ${jwt}` },
    ]);
  });

  it("a pull request that does not exist is a one-line PullRequestLookupError naming owner/repo#number, asked once", async () => {
    const gh = await start();
    const provider = gitHubProvider({ repository: REPO, token: TOKEN, baseUrl: gh.url });
    const error = await lookupError(provider.status(9999));
    expect(error.status).toBe(404);
    expect(error.message).toContain(`${REPO}#9999`);
    expect(error.message).toMatch(/check the repository name/);
    expect(error.message).not.toContain("\n");
    expect(gh.pullRequests(REPO, 9999)).toBe(1);
  });

  it("a private repository without a token is a 404 that says the token may lack access", async () => {
    const gh = await start();
    const error = await lookupError(gitHubProvider({ repository: REPO, baseUrl: gh.url }).status(3561));
    expect(error.status).toBe(404);
    expect(error.message).toMatch(/token can read the repository/);
  });

  it("a wrong token is a 401 PullRequestLookupError that names the PR and never the token", async () => {
    const gh = await start();
    const wrong = "ghp_wrongwrongwrongwrongwrongwrongwrong1";
    const provider = gitHubProvider({ repository: REPO, token: wrong, baseUrl: gh.url });
    const error = await lookupError(provider.status(3571));
    expect(error.status).toBe(401);
    expect(error.message).toContain(`${REPO}#3571`);
    expect(error.message).toMatch(/check the token/);
    expect(error.message).not.toContain(wrong);
    expect(JSON.stringify(error)).not.toContain(wrong);
    expect(String(error.stack)).not.toContain(wrong);
    expect(gh.pullRequests(REPO, 3571)).toBe(1);
  });

  it("a token without pull-request access is a 403 that says which permission it needs, not retried", async () => {
    const gh = await start();
    const provider = gitHubProvider({ repository: REPO, token: LIMITED, baseUrl: gh.url });
    const error = await lookupError(provider.status(3561));
    expect(error.status).toBe(403);
    expect(error.message).toMatch(/Resource not accessible by personal access token; .*Pull requests: read/);
    expect(error.message).not.toContain("docs.github.com");
    expect(error.message).not.toContain(LIMITED);
    expect(gh.pullRequests(REPO, 3561)).toBe(1);
  });

  it("a primary rate limit already reset is retried once, then fails the lookup", async () => {
    const gh = await start();
    gh.rateLimit({ kind: "primary", resetInSeconds: -5 });
    const provider = gitHubProvider({ repository: REPO, token: TOKEN, baseUrl: gh.url });
    const started = Date.now();
    const error = await lookupError(provider.status(3571));
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(error.status).toBe(403);
    expect(error.message).toMatch(new RegExp(`${REPO}#3571: 403 rate limit exceeded .*images are kept`));
    expect(gh.pullRequests(REPO, 3571)).toBe(2);
  });

  it("a rate limit that lifts after one retry gives the status", async () => {
    const gh = await start();
    gh.rateLimit({ kind: "primary", resetInSeconds: -5 });
    const provider = gitHubProvider({ repository: REPO, token: TOKEN, baseUrl: gh.url });
    const lookup = provider.status(3574);
    await gh.requestsArrived(1);
    gh.rateLimit(undefined);
    expect(await lookup).toBe("closed");
    expect(gh.pullRequests(REPO, 3574)).toBe(2);
  });

  it("a rate limit that resets in an hour fails at once, without waiting, and says when it resets", async () => {
    const gh = await start();
    gh.rateLimit({ kind: "primary", resetInSeconds: 3600 });
    const provider = gitHubProvider({ repository: REPO, token: TOKEN, baseUrl: gh.url });
    const started = Date.now();
    const error = await lookupError(provider.status(3571));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error.message).toMatch(/the limit resets at \d{4}-\d\d-\d\dT/);
    expect(gh.pullRequests(REPO, 3571)).toBe(1);
  });

  it.each([403, 429] as const)(
    "a secondary rate limit (%i, retry-after 1) is retried once after the wait, then fails the lookup",
    async (status) => {
      const gh = await start();
      gh.rateLimit({ kind: "secondary", status, retryAfterSeconds: 1 });
      const provider = gitHubProvider({ repository: REPO, token: TOKEN, baseUrl: gh.url });
      const started = Date.now();
      const error = await lookupError(provider.status(3561));
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(error.status).toBe(status);
      expect(error.message).toMatch(/rate limit exceeded \(GitHub asks to wait 1 s\)/);
      expect(gh.pullRequests(REPO, 3561)).toBe(2);
    },
  );

  it("a secondary rate limit asking for a minute (or naming no time: GitHub means a minute) fails at once", async () => {
    const gh = await start();
    const provider = gitHubProvider({ repository: REPO, token: TOKEN, baseUrl: gh.url });
    gh.rateLimit({ kind: "secondary", status: 429, retryAfterSeconds: 60 });
    const started = Date.now();
    await lookupError(provider.status(3561));
    gh.rateLimit({ kind: "secondary", status: 403 });
    const error = await lookupError(provider.status(3565));
    expect(error.message).toMatch(
      /#3565: 403 rate limit exceeded \(GitHub gave no time\); the images are kept/,
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(gh.pullRequests(REPO, 3561)).toBe(1);
    expect(gh.pullRequests(REPO, 3565)).toBe(1);
  });

  it("a rate-limit wait longer than the lookup's timeout is not waited for", async () => {
    const gh = await start();
    gh.rateLimit({ kind: "secondary", status: 429, retryAfterSeconds: 2 });
    const provider = gitHubProvider({ repository: REPO, token: TOKEN, baseUrl: gh.url, timeoutMs: 1_000 });
    const error = await lookupError(provider.status(3561));
    expect(error.message).toMatch(/429 rate limit exceeded \(GitHub asks to wait 2 s\)/);
    expect(gh.pullRequests(REPO, 3561)).toBe(1);
  });

  it("the caller's signal ends a lookup still queued in the client (10 requests at a time per process) at once", async () => {
    const gh = await start();
    gh.hang(true);
    const provider = gitHubProvider({ repository: REPO, token: TOKEN, baseUrl: gh.url, timeoutMs: 20_000 });
    const inFlight = Array.from({ length: 10 }, (_, i) => provider.status(3000 + i).catch((e: unknown) => e));
    await gh.requestsArrived(10);
    const controller = new AbortController();
    const queued = provider.status(3561, controller.signal).catch((e: unknown) => e);
    const aborted = Date.now();
    controller.abort();
    expect(await queued).toBeInstanceOf(AbortedError);
    expect(Date.now() - aborted).toBeLessThan(1_000);
    expect(gh.pullRequests(REPO, 3561)).toBe(0);
    await gh.stop();
    server = undefined;
    for (const e of await Promise.all(inFlight)) expect(e).toBeInstanceOf(PullRequestLookupError);
  });

  it("a server that never answers fails the lookup within the timeout", async () => {
    const gh = await start();
    gh.hang(true);
    const provider = gitHubProvider({ repository: REPO, token: TOKEN, baseUrl: gh.url, timeoutMs: 300 });
    const started = Date.now();
    const error = await lookupError(provider.status(3561));
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(error.message).toMatch(new RegExp(`${REPO}#3561: no answer within 300 ms`));
    expect(error.message).not.toContain(TOKEN);
  });

  it("the caller's signal cancels a hung lookup with AbortedError", async () => {
    const gh = await start();
    gh.hang(true);
    const provider = gitHubProvider({ repository: REPO, token: TOKEN, baseUrl: gh.url });
    const controller = new AbortController();
    const lookup = provider.status(3561, controller.signal);
    await gh.requestsArrived(1);
    controller.abort();
    await expect(lookup).rejects.toBeInstanceOf(AbortedError);
  });

  it("a server that is not there is a lookup error naming the URL", async () => {
    const gh = await start();
    const url = gh.url;
    await gh.stop();
    server = undefined;
    const provider = gitHubProvider({ repository: REPO, token: TOKEN, baseUrl: url, timeoutMs: 10_000 });
    const error = await lookupError(provider.status(3561));
    expect(error.message).toMatch(new RegExp(`${REPO}#3561: cannot reach ${url} \\(connect ECONNREFUSED`));
    expect(error.status).toBeUndefined();
  });

  it("check() proves the repository answers with the token, and fails with a bad one", async () => {
    const gh = await start();
    const good = gitHubProvider({ repository: REPO, token: TOKEN, baseUrl: gh.url });
    expect(await good.check()).toMatch(
      new RegExp(`^${REPO} answers \\(token accepted, \\d+ requests left this hour\\)$`),
    );
    expect(gh.requests.map((r) => r.path)).toEqual([`/repos/${REPO}`]);
    const bad = gitHubProvider({ repository: REPO, token: "ghp_revoked", baseUrl: gh.url });
    const error = await lookupError(bad.check());
    expect(error.status).toBe(401);
    expect(error.message).toContain(`GitHub repository ${REPO}`);
    expect(error.message).not.toContain("ghp_revoked");
  });

  it("check() of a repository that is not there says to check the repository name, not a pull request", async () => {
    const gh = await start();
    const error = await lookupError(
      gitHubProvider({ repository: "contoso/gone", token: TOKEN, baseUrl: gh.url }).check(),
    );
    expect(error.status).toBe(404);
    expect(error.message).toMatch(
      /^GitHub repository contoso\/gone at \S+: 404 Not Found; check the repository name, and/,
    );
    expect(error.message).not.toMatch(/pull request/);
  });

  it("a short token does not garble the messages it is kept out of", async () => {
    const gh = await start({ ...fixture, tokens: ["t"] });
    const error = await lookupError(
      gitHubProvider({ repository: REPO, token: "t", baseUrl: gh.url }).status(9999),
    );
    expect(error.message).toMatch(
      /^GitHub pull request contoso\/shop#9999: 404 Not Found; check the repository name/,
    );
  });

  it("a repository that is not owner/repo, or an API URL that is not one, is a usage error", () => {
    expect(() => gitHubProvider({ repository: "contoso" })).toThrow(UsageError);
    expect(() => gitHubProvider({ repository: "https://github.com/contoso/shop" })).toThrow(
      /expected owner\/repo/,
    );
    expect(() => gitHubProvider({ repository: REPO, baseUrl: "ghe.example.com" })).toThrow(UsageError);
    expect(gitHubProvider({ repository: REPO }).name).toBe(`github ${REPO}`);
  });
});

describe("GitHub provider in a process of its own", () => {
  it("a lookup against a server that never answers fails within the timeout and the process ends by itself", async () => {
    const gh = await start();
    gh.hang(true);
    // The built module: this process must not depend on the test runner's loader.
    const module = pathToFileURL(resolve(import.meta.dirname, "../../dist/pullrequest/github.js")).href;
    const script = `
      const { gitHubProvider } = await import(${JSON.stringify(module)});
      const provider = gitHubProvider({ repository: "${REPO}", token: "${TOKEN}", baseUrl: process.argv[1], timeoutMs: 500 });
      const started = Date.now();
      try { await provider.status(3561); console.log("resolved"); }
      catch (error) { console.log(JSON.stringify({ name: error.name, ms: Date.now() - started })); }`;
    const result = await new Promise<{
      code: number | null;
      stdout: string;
      stderr: string;
      killed: boolean;
    }>((done, fail) => {
      const child = spawn(process.execPath, ["--input-type=module", "-e", script, "--", gh.url], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      let killed = false;
      const timer = setTimeout(() => {
        killed = true;
        child.kill("SIGKILL");
      }, 15_000);
      child.on("error", fail);
      child.on("close", (code) => {
        clearTimeout(timer);
        done({ code, stdout, stderr, killed });
      });
    });
    expect(result.killed, result.stderr).toBe(false);
    expect(result.code, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout.trim()) as { name: string; ms: number };
    expect(out.name).toBe("PullRequestLookupError");
    expect(out.ms).toBeLessThan(3_000);
  }, 30_000);
});

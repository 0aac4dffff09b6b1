import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { AbortedError } from "../../src/errors.js";
import {
  checkKeycloak,
  deactivatedUsers,
  KeycloakError,
  type KeycloakOptions,
} from "../../src/usage/keycloak-users.js";
import { freePort } from "../harness/free-port.js";
import {
  type KeycloakServer,
  type KeycloakServerOptions,
  type KeycloakUserInput,
  startKeycloakServer,
} from "../servers/keycloak-server.js";

const SECRET = "kc-Sv9Jq2LmN4pR7tW0xZ3bD6fH8kA1cE5g";

/** Seven users, three of them deactivated: with a page size of 2 that is four pages of all users. */
const USERS: KeycloakUserInput[] = [
  { id: "0b1e", username: "ada", enabled: true },
  { id: "1c2f", username: "bert", enabled: false, email: "bert@example.com" },
  { id: "2d30", username: "cleo", enabled: true },
  { id: "3e41", username: "dina", enabled: false },
  { id: "4f52", username: "emil", enabled: true },
  { id: "5063", username: "fay", enabled: true },
  { id: "6174", username: "gus", enabled: false },
];
const DEACTIVATED = [
  { id: "1c2f", username: "bert" },
  { id: "3e41", username: "dina" },
  { id: "6174", username: "gus" },
];

const fixture: KeycloakServerOptions = {
  realm: "domino",
  clients: { regsweep: SECRET, "no-roles": `${SECRET}-other` },
  clientsWithoutViewUsers: ["no-roles"],
  users: USERS,
};

let server: KeycloakServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function start(options: Partial<KeycloakServerOptions> = {}) {
  server = await startKeycloakServer({ ...fixture, ...options });
  return server;
}

const optionsFor = (kc: KeycloakServer, more: Partial<KeycloakOptions> = {}): KeycloakOptions => ({
  url: kc.url,
  realm: "domino",
  clientId: "regsweep",
  clientSecret: SECRET,
  pageSize: 2,
  ...more,
});

async function rejection(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  return error as Error;
}

/** One line, naming the Keycloak URL and realm, and the secret nowhere (message, stack, causes). */
function expectUserFacing(error: Error, kc: KeycloakServer) {
  expect(error.message).not.toContain("\n");
  expect(error.message).toContain(`Keycloak ${kc.url}/realms/`);
  expect(inspect(error, { depth: 10 })).not.toContain(SECRET);
  expect(JSON.stringify(error)).not.toContain(SECRET);
}

describe("deactivated Keycloak users, through @keycloak/keycloak-admin-client", () => {
  it("finds every deactivated user across pages, asking with the enabled filter and the brief representation", async () => {
    const kc = await start();
    expect(await deactivatedUsers(optionsFor(kc))).toEqual(DEACTIVATED);
    // Two full pages of deactivated users, then the empty page that ends the listing.
    expect(kc.userPages().map((r) => r.query)).toEqual([
      { first: "0", max: "2", briefRepresentation: "true", enabled: "false" },
      { first: "2", max: "2", briefRepresentation: "true", enabled: "false" },
      { first: "3", max: "2", briefRepresentation: "true", enabled: "false" },
    ]);
    expect(kc.requests.filter((r) => r.path.endsWith("/token"))).toHaveLength(1);
  });

  it("a server that ignores the enabled filter (Keycloak before 21): enabled users are filtered out here", async () => {
    const kc = await start({ ignoreEnabledFilter: true });
    expect(await deactivatedUsers(optionsFor(kc))).toEqual(DEACTIVATED);
    expect(kc.userPages()).toHaveLength(5);
  });

  it("a server capping pages below the page size is read to the end, not stopped at the first short page", async () => {
    const kc = await start({ ignoreEnabledFilter: true, pageLimit: 2 });
    expect(await deactivatedUsers(optionsFor(kc, { pageSize: 5 }))).toEqual(DEACTIVATED);
    expect(kc.userPages().map((r) => r.query.first)).toEqual(["0", "2", "4", "6", "7"]);
  });

  it("a realm with no users, or none deactivated, is an empty list", async () => {
    const empty = await start({ users: [] });
    expect(await deactivatedUsers(optionsFor(empty))).toEqual([]);
    await empty.stop();
    const active = await start({ users: USERS.map((u) => ({ ...u, enabled: true })) });
    expect(await deactivatedUsers(optionsFor(active))).toEqual([]);
  });

  it("a wrong secret fails with one line naming the URL, realm and client, without the secret", async () => {
    const kc = await start({ clients: { regsweep: "the-real-secret-is-different" } });
    const error = await rejection(deactivatedUsers(optionsFor(kc)));
    expect(error).toBeInstanceOf(KeycloakError);
    expect(error.message).toBe(
      `Keycloak ${kc.url}/realms/domino: sign-in refused (401 unauthorized_client: Invalid client or Invalid client credentials); check the client id 'regsweep' and its secret, and that the client has "Client authentication" and "Service accounts roles" on`,
    );
    expectUserFacing(error, kc);
    expect(kc.userPages()).toHaveLength(0);
  });

  it("a secret that turns up in the client id is masked in the message", async () => {
    const kc = await start({ clients: {} });
    const error = await rejection(
      deactivatedUsers(optionsFor(kc, { clientId: `client-${SECRET}`, clientSecret: SECRET })),
    );
    expect(error.message).toContain("invalid_client");
    expect(error.message).toContain("client-***");
    expectUserFacing(error, kc);
  });

  it("an unknown realm fails naming the realm and what to check", async () => {
    const kc = await start();
    const error = await rejection(deactivatedUsers(optionsFor(kc, { realm: "dominoo" })));
    expect(error.message).toBe(
      `Keycloak ${kc.url}/realms/dominoo: realm not found (404 Realm does not exist); check the realm name and the URL (Keycloak before 17 serves under /auth)`,
    );
    expectUserFacing(error, kc);
  });

  it("a service account without view-users fails naming the role to grant", async () => {
    const kc = await start();
    const error = await rejection(
      deactivatedUsers(optionsFor(kc, { clientId: "no-roles", clientSecret: `${SECRET}-other` })),
    );
    expect(error.message).toBe(
      `Keycloak ${kc.url}/realms/domino: reading users is forbidden (403 HTTP 403 Forbidden); give the service account of client 'no-roles' the role view-users of realm-management`,
    );
    expect(inspect(error, { depth: 10 })).not.toContain(SECRET);
  });

  it("a hung Keycloak ends within the timeout, at sign-in and at the users API", async () => {
    const hung = await start({ hang: true });
    let started = Date.now();
    const atSignIn = await rejection(deactivatedUsers(optionsFor(hung, { timeoutMs: 200 })));
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(atSignIn).toBeInstanceOf(KeycloakError);
    expect(atSignIn.message).toBe(
      `Keycloak ${hung.url}/realms/domino: no answer within 200 ms while signing in; check that Keycloak is up and the URL is reachable`,
    );
    // The request itself was cancelled, not left open behind the error.
    await hung.heldRequestsClosed(1);
    await hung.stop();

    const usersHang = await start({ hang: "users" });
    started = Date.now();
    const atUsers = await rejection(deactivatedUsers(optionsFor(usersHang, { timeoutMs: 200 })));
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(atUsers.message).toContain("no answer within 200 ms while reading users");
    expect(usersHang.userPages()).toHaveLength(1);
    await usersHang.heldRequestsClosed(1);
  }, 10_000);

  it("an abort ends a hung call at once with AbortedError; an aborted signal sends nothing", async () => {
    const kc = await start({ hang: "users" });
    const controller = new AbortController();
    const call = rejection(
      deactivatedUsers(optionsFor(kc, { signal: controller.signal, timeoutMs: 60_000 })),
    );
    await kc.requestsArrived(2);
    const started = Date.now();
    controller.abort(new Error("stopped by the test"));
    const error = await call;
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error).toBeInstanceOf(AbortedError);
    expect(error.message).toBe(`Keycloak ${kc.url}/realms/domino: cancelled`);
    await kc.heldRequestsClosed(1);

    const before = kc.requests.length;
    const again = await rejection(deactivatedUsers(optionsFor(kc, { signal: controller.signal })));
    expect(again).toBeInstanceOf(AbortedError);
    expect(kc.requests).toHaveLength(before);
  }, 10_000);

  it("a server repeating the same page ends with a clear error, not a loop and not a result", async () => {
    const kc = await start({ repeatPages: true, ignoreEnabledFilter: true });
    const error = await rejection(deactivatedUsers(optionsFor(kc)));
    expect(error.message).toBe(
      `Keycloak ${kc.url}/realms/domino: the users page at first=2 repeats users already read; the server or a proxy ignores the 'first' parameter, so the listing cannot complete`,
    );
    expect(kc.userPages()).toHaveLength(2);
  });

  it("a listing that does not end within maxPages fails rather than being taken as complete", async () => {
    const kc = await start({ ignoreEnabledFilter: true });
    const error = await rejection(deactivatedUsers(optionsFor(kc, { maxPages: 3 })));
    expect(error.message).toContain("still more users after 3 pages of 2");
    expect(kc.userPages()).toHaveLength(3);
  });

  it("a token that expires mid-listing is replaced by signing in again", async () => {
    let kc: KeycloakServer | undefined;
    const base = Date.now();
    // The server's clock jumps past the token's 300 s once two pages were served.
    kc = await start({
      ignoreEnabledFilter: true,
      now: () => base + ((kc?.userPages().length ?? 0) >= 3 ? 301_000 : 0),
    });
    expect(await deactivatedUsers(optionsFor(kc))).toEqual(DEACTIVATED);
    expect(kc.requests.filter((r) => r.path.endsWith("/token"))).toHaveLength(2);
  });

  it("a Keycloak whose clock is an hour behind (a token already expired by ours) still works", async () => {
    const kc = await start({ now: () => Date.now() - 3_600_000 });
    expect(await deactivatedUsers(optionsFor(kc))).toEqual(DEACTIVATED);
  });

  it("an unreachable Keycloak and a URL that is not one fail with one line", async () => {
    const port = await freePort();
    const error = await rejection(
      deactivatedUsers({
        url: `http://127.0.0.1:${port}`,
        realm: "domino",
        clientId: "c",
        clientSecret: SECRET,
      }),
    );
    expect(error.message).toBe(
      `Keycloak http://127.0.0.1:${port}/realms/domino: cannot reach Keycloak (ECONNREFUSED); check the URL and the network`,
    );
    expect(inspect(error, { depth: 10 })).not.toContain(SECRET);

    const bad = await rejection(
      deactivatedUsers({ url: "keycloak", realm: "d", clientId: "c", clientSecret: SECRET }),
    );
    expect(bad.message).toBe("Keycloak URL 'keycloak': not a URL; use e.g. https://keycloak.example.com");
    const withPassword = await rejection(
      deactivatedUsers({
        url: `https://admin:${SECRET}@kc.example.com`,
        realm: "d",
        clientId: "c",
        clientSecret: "s",
      }),
    );
    expect(withPassword.message).not.toContain(SECRET);
  });

  it("doctor's check signs in, reads one page and says how many users it read and how many are deactivated", async () => {
    const kc = await start();
    expect(await checkKeycloak(optionsFor(kc, { pageSize: 100 }))).toBe(
      `Keycloak ${kc.url}/realms/domino: signed in as client 'regsweep' (service account); 7 users read (3 deactivated)`,
    );
    expect(await checkKeycloak(optionsFor(kc, { pageSize: 4 }))).toBe(
      `Keycloak ${kc.url}/realms/domino: signed in as client 'regsweep' (service account); 4 users read on the first page (2 deactivated)`,
    );
    const error = await rejection(checkKeycloak(optionsFor(kc, { clientSecret: "wrong" })));
    expect(error.message).toContain("sign-in refused (401 unauthorized_client");
  });
});

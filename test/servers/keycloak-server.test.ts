import KcAdminClient, { NetworkError } from "@keycloak/keycloak-admin-client";
import { afterEach, describe, expect, it } from "vitest";
import { type KeycloakServer, type KeycloakServerOptions, startKeycloakServer } from "./keycloak-server.js";

const SECRET = "Xq7rJ0p2bM1vT9sK4wE6yU3iO8aZ5nCd";

const fixture: KeycloakServerOptions = {
  realm: "domino",
  clients: { regsweep: SECRET, "no-roles": "another-secret-0123456789" },
  clientsWithoutViewUsers: ["no-roles"],
  users: [
    { id: "u-3", username: "carol", enabled: true, email: "carol@example.com", firstName: "Carol" },
    { id: "u-1", username: "alice", enabled: false, email: "alice@example.com", lastName: "Liddell" },
    { id: "u-2", username: "bob", enabled: true, attributes: { department: ["R&D"] } },
    { id: "u-4", username: "dave", enabled: false },
  ],
};

let server: KeycloakServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function signedIn(options: KeycloakServerOptions = fixture, clientId = "regsweep", secret = SECRET) {
  server = await startKeycloakServer(options);
  const kc = new KcAdminClient({ baseUrl: server.url, realmName: options.realm });
  await kc.auth({ grantType: "client_credentials", clientId, clientSecret: secret });
  return { kc, kcServer: server };
}

async function failure(promise: Promise<unknown>): Promise<NetworkError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(NetworkError);
  return error as NetworkError;
}

describe("Keycloak test server, driven by @keycloak/keycloak-admin-client", () => {
  it("issues a JWT-shaped service-account token for client_credentials sent with HTTP Basic", async () => {
    const { kc, kcServer } = await signedIn();
    const [token] = kcServer.requests;
    expect(token).toMatchObject({ method: "POST", path: "/realms/domino/protocol/openid-connect/token" });
    expect(token?.form).toEqual({ grant_type: "client_credentials", client_id: "regsweep" });
    expect(token?.authorization).toBe(`Basic ${Buffer.from(`regsweep:${SECRET}`).toString("base64")}`);
    const payload = JSON.parse(Buffer.from(kc.accessToken?.split(".")[1] ?? "", "base64url").toString());
    expect(payload).toMatchObject({ azp: "regsweep", preferred_username: "service-account-regsweep" });
    expect(payload.exp - payload.iat).toBe(300);
    expect(kc.refreshToken).toBeUndefined();
  });

  it("lists users sorted by username, paged by first and max, in the full or brief representation", async () => {
    const { kc, kcServer } = await signedIn();
    const full = await kc.users.find();
    expect(full.map((u) => u.username)).toEqual(["alice", "bob", "carol", "dave"]);
    expect(full[1]).toEqual({
      id: "u-2",
      username: "bob",
      emailVerified: false,
      createdTimestamp: expect.any(Number),
      enabled: true,
      attributes: { department: ["R&D"] },
      totp: false,
      disableableCredentialTypes: [],
      requiredActions: [],
      notBefore: 0,
      access: { manageGroupMembership: true, view: true, mapRoles: true, impersonate: false, manage: true },
    });
    const page = await kc.users.find({ first: 1, max: 2, briefRepresentation: true });
    expect(page).toEqual([
      {
        id: "u-2",
        username: "bob",
        emailVerified: false,
        createdTimestamp: expect.any(Number),
        enabled: true,
      },
      {
        id: "u-3",
        username: "carol",
        firstName: "Carol",
        email: "carol@example.com",
        emailVerified: false,
        createdTimestamp: expect.any(Number),
        enabled: true,
      },
    ]);
    expect(kcServer.userPages().at(-1)?.query).toEqual({ first: "1", max: "2", briefRepresentation: "true" });
    expect(kcServer.userPages().at(-1)?.authorization).toBe(`Bearer ${kc.accessToken}`);
    expect(await kc.users.find({ first: 4, max: 2 })).toEqual([]);
  });

  it("filters by enabled, search and username (substring, or exact), and counts", async () => {
    const { kc } = await signedIn();
    const names = (users: { username?: string }[]) => users.map((u) => u.username);
    expect(names(await kc.users.find({ enabled: false }))).toEqual(["alice", "dave"]);
    expect(names(await kc.users.find({ search: "example.com" }))).toEqual(["alice", "carol"]);
    expect(names(await kc.users.find({ search: "*" }))).toHaveLength(4);
    expect(names(await kc.users.find({ search: '"bo"' }))).toEqual([]);
    expect(names(await kc.users.find({ username: "a" }))).toEqual(["alice", "carol", "dave"]);
    expect(names(await kc.users.find({ username: "dave", exact: true }))).toEqual(["dave"]);
    expect(await kc.users.count({ username: "a" })).toBe(3);
  });

  it("gets one user by id, and a missing one is null (the client's catchNotFound on a 404)", async () => {
    const { kc } = await signedIn();
    expect(await kc.users.findOne({ id: "u-4" })).toMatchObject({
      id: "u-4",
      username: "dave",
      enabled: false,
    });
    expect(await kc.users.findOne({ id: "nobody" })).toBeNull();
  });

  it("a server capping pages answers at most pageLimit users; repeatPages answers the first page every time", async () => {
    const capped = await signedIn({ ...fixture, pageLimit: 3 });
    expect(await capped.kc.users.find({ max: 10 })).toHaveLength(3);
    await capped.kcServer.stop();
    const repeating = await signedIn({ ...fixture, repeatPages: true });
    const second = await repeating.kc.users.find({ first: 2, max: 2 });
    expect(second.map((u) => u.username)).toEqual(["alice", "bob"]);
  });

  it("a wrong secret is a 401 unauthorized_client, an unknown client a 401 invalid_client", async () => {
    server = await startKeycloakServer(fixture);
    const kc = new KcAdminClient({ baseUrl: server.url, realmName: "domino" });
    const wrong = await failure(
      kc.auth({ grantType: "client_credentials", clientId: "regsweep", clientSecret: "nope" }),
    );
    expect(wrong.response.status).toBe(401);
    expect(wrong.responseData).toEqual({
      error: "unauthorized_client",
      error_description: "Invalid client or Invalid client credentials",
    });
    const unknown = await failure(
      kc.auth({ grantType: "client_credentials", clientId: "who", clientSecret: "x" }),
    );
    expect(unknown.response.status).toBe(401);
    expect(unknown.message).toBe("invalid_client");
    const password = await failure(
      kc.auth({
        grantType: "password",
        clientId: "regsweep",
        clientSecret: SECRET,
        username: "a",
        password: "b",
      }),
    );
    expect(password.response.status).toBe(400);
    expect(password.message).toBe("unsupported_grant_type");
  });

  it("an unknown realm is a 404 at the token endpoint and at the admin API", async () => {
    server = await startKeycloakServer(fixture);
    const kc = new KcAdminClient({ baseUrl: server.url, realmName: "nope" });
    const error = await failure(
      kc.auth({ grantType: "client_credentials", clientId: "regsweep", clientSecret: SECRET }),
    );
    expect(error.response.status).toBe(404);
    expect(error.responseData).toEqual({ error: "Realm does not exist" });

    const { kc: good } = await signedIn();
    good.setConfig({ realmName: "other" });
    const admin = await failure(good.users.find());
    expect(admin.response.status).toBe(404);
    expect(admin.responseData).toEqual({ error: "Realm not found." });
  });

  it("the users API needs a live token (401) whose service account holds view-users (403)", async () => {
    server = await startKeycloakServer(fixture);
    const anonymous = await fetch(`${server.url}/admin/realms/domino/users`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toEqual({ error: "HTTP 401 Unauthorized" });
    await server.stop();

    const { kc } = await signedIn(fixture, "no-roles", "another-secret-0123456789");
    const forbidden = await failure(kc.users.find());
    expect(forbidden.response.status).toBe(403);
    expect(forbidden.responseData).toEqual({ error: "HTTP 403 Forbidden" });
  });

  it("tokens expire on the server's clock", async () => {
    let now = Date.now();
    const { kc } = await signedIn({ ...fixture, now: () => now });
    expect(await kc.users.find({ max: 1 })).toHaveLength(1);
    now += 301_000;
    const expired = await failure(kc.users.find({ max: 1 }));
    expect(expired.response.status).toBe(401);
  });

  it("hang: 'users' signs in but never answers the users API, and sees the client give up", async () => {
    const { kc, kcServer } = await signedIn({ ...fixture, hang: "users" });
    kc.setConfig({ requestOptions: { signal: AbortSignal.timeout(100) } as object });
    await expect(kc.users.find()).rejects.toThrow();
    expect(kcServer.userPages()).toHaveLength(1);
    await kcServer.heldRequestsClosed(1);
  });
});

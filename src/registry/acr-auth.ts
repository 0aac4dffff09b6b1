import type { TokenCredential } from "@azure/core-auth";
import { z } from "zod";
import { RegistryError } from "../errors.js";
import type { RegistryLocation } from "../oci/reference.js";
import type { Credentials } from "./auth.js";
import type { HttpTransport } from "./transport.js";

/** The user name ACR expects with a refresh token as the password. */
export const ACR_REFRESH_TOKEN_USER = "00000000-0000-0000-0000-000000000000";
export const ACR_ENTRA_SCOPE = "https://containerregistry.azure.net/.default";

const exchangeSchema = z.object({ refresh_token: z.string().min(1) });

/**
 * Turns an Entra ID identity into registry credentials: an Entra access token is exchanged at
 * `/oauth2/exchange` for an ACR refresh token, which then serves as the password in the ordinary
 * token flow (the way `az acr login` does it).
 */
export async function acrCredentialsFromEntra(
  transport: HttpTransport,
  location: RegistryLocation,
  credential: TokenCredential,
  tenantId?: string,
): Promise<Credentials> {
  const token = await credential.getToken(ACR_ENTRA_SCOPE);
  if (!token)
    throw new RegistryError(
      `no Entra token for ${ACR_ENTRA_SCOPE}: sign in (az login) or set up a managed identity`,
      401,
      "unauthorized",
    );
  const form = new URLSearchParams({
    grant_type: "access_token",
    service: location.host,
    access_token: token.token,
  });
  if (tenantId) form.set("tenant", tenantId);
  const res = await transport.send({
    method: "POST",
    url: `${location.baseUrl}/oauth2/exchange`,
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: form.toString(),
  });
  if (res.status !== 200) {
    throw new RegistryError(
      `${location.host} refused the Entra token exchange (HTTP ${res.status}): the identity needs AcrPull and AcrDelete (or a role with delete) on the registry`,
      res.status,
      res.status === 401 || res.status === 403 ? "unauthorized" : "http",
    );
  }
  const parsed = exchangeSchema.parse(JSON.parse(res.body.toString("utf8")));
  return { username: ACR_REFRESH_TOKEN_USER, password: parsed.refresh_token };
}

/** ACR login servers in every cloud. */
export function looksLikeAcr(host: string): boolean {
  return /\.azurecr\.(io|us|cn)(:\d+)?$/i.test(host);
}

/** What the audit records of how the run was called; never a password or token. */
export function redactedConfiguration(flags: object, command: string): Record<string, unknown> {
  const out: Record<string, unknown> = { command };
  for (const [key, value] of Object.entries(flags)) {
    if (/password|token|secret/i.test(key)) continue;
    out[key] = value;
  }
  return out;
}

/** Who the run acts as, where the environment says so without asking a service. */
export function identityOf(env: Record<string, string | undefined> = process.env): Record<string, string> {
  return {
    ...(env.REGSWEEP_USERNAME ? { registryUser: env.REGSWEEP_USERNAME } : {}),
    ...(env.AZURE_CLIENT_ID ? { azureClientId: env.AZURE_CLIENT_ID } : {}),
    ...(env.AZURE_TENANT_ID ? { azureTenantId: env.AZURE_TENANT_ID } : {}),
  };
}

/** `<account>.dkr.ecr.<region>.amazonaws.com` (and `.com.cn` in China): a private ECR registry. */
const ECR_HOST = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?(:\d+)?$/i;

/** ECR's registry hosts, told apart without loading the AWS SDK. */
export function looksLikeEcr(host: string): boolean {
  return ECR_HOST.test(host);
}

/** The account (ECR's registry id) and region an ECR host name carries; undefined for other hosts. */
export function ecrHostParts(
  host: string,
): { readonly account: string; readonly region: string } | undefined {
  const m = ECR_HOST.exec(host);
  return m?.[1] && m[2] ? { account: m[1], region: m[2].toLowerCase() } : undefined;
}

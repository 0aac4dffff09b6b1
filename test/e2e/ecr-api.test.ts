import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildImage, pushManifest } from "../../src/fixtures/image-factory.js";
import { type FaultProxy, startFaultProxy } from "../harness/fault-proxy.js";
import { type RunningRegistry, startRegistry } from "../harness/registry-process.js";
import { connect, runCli } from "../integration/helpers.js";
import { type EcrServer, startEcrServer } from "../servers/ecr-server.js";

const ACCOUNT = "123412341234";
const PASSWORD = "ecr-budget-token-password";
const KEY = "AKIDREGSWEEPBUDGET";
const REPOSITORIES = ["budget/a", "budget/b", "budget/c", "budget/d"];
const IMAGES_PER_REPOSITORY = 3;

/** The most timestamps (ms) that fall within any window of `windowMs`. */
function busiestWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let start = 0, end = 0; end < sorted.length; end++) {
    while ((sorted[end] ?? 0) - (sorted[start] ?? 0) >= windowMs) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}

/**
 * ECR's API calls and the /v2/ requests share one budget: --rps counts both, and a hung ECR API
 * ends the run within --timeout. The registry sits behind a proxy that records when each /v2/
 * request arrives; the ECR server records its own calls.
 */
describe("Amazon ECR's API: the run's --rps and --timeout, and doctor", () => {
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  let ecr: EcrServer;
  const v2Times: number[] = [];
  const env = {
    AWS_ACCESS_KEY_ID: KEY,
    AWS_SECRET_ACCESS_KEY: "not-a-real-secret",
    AWS_REGION: "eu-west-1",
    AWS_ENDPOINT_URL_ECR: "",
  };

  beforeAll(async () => {
    registry = await startRegistry({ auth: { htpasswd: { AWS: PASSWORD } } });
    proxy = await startFaultProxy(registry.url, () => {
      v2Times.push(performance.now());
      return null;
    });
    // One entry a page: every repository and every image is an ECR call of its own.
    ecr = await startEcrServer({
      account: ACCOUNT,
      password: PASSWORD,
      proxyEndpoint: proxy.url,
      accessKeyIds: [KEY],
      pageSize: 1,
    });
    env.AWS_ENDPOINT_URL_ECR = ecr.url;
    const { registry: pusher, transport } = connect(
      registry.url,
      {},
      { credentials: { username: "AWS", password: PASSWORD } },
    );
    for (const repository of REPOSITORIES) {
      const listed = [];
      for (let i = 0; i < IMAGES_PER_REPOSITORY; i++) {
        const image = buildImage({ seed: `ecr budget ${repository} ${i}` });
        await pushManifest(pusher, repository, image, [`v${i}`]);
        listed.push({ digest: image.digest, tags: [`v${i}`], pushedAt: Date.now() });
      }
      ecr.repositories.set(repository, listed);
    }
    await transport.close();
  });

  afterAll(async () => {
    await ecr?.stop();
    await proxy?.stop();
    await registry?.stop();
  });

  it("with --rps 6 (and one slot), no second sees more ECR and /v2/ requests together than the budget allows", async () => {
    const rps = 6;
    ecr.calls.length = 0;
    v2Times.length = 0;
    const res = await runCli(
      [
        "scan",
        "--registry",
        proxy.url,
        "--registry-type",
        "ecr",
        "--rps",
        String(rps),
        // One slot: an ECR call waiting on a /v2/ request (or the reverse) would hang here.
        "--concurrency",
        "1",
        "--no-cache",
        "--format",
        "json",
      ],
      { env },
    );
    expect(res.code, res.stderr).toBe(0);
    const ecrTimes = ecr.calls.map((c) => c.at);
    // 1 token + a DescribeRepositories page per repository (and the last, empty one) + a
    // DescribeImages page per image: enough to blow the budget at once if they bypassed it.
    expect(ecrTimes.length).toBeGreaterThanOrEqual(1 + REPOSITORIES.length * (1 + IMAGES_PER_REPOSITORY));
    // The limiter counts fixed one-second intervals, so a sliding second can hold two intervals'
    // worth; one more allows for arrival jitter. Unlimited, the ECR calls alone arrive at once.
    const allowed = 2 * rps + 1;
    expect(busiestWindow(ecrTimes, 1000)).toBeLessThanOrEqual(allowed);
    expect(busiestWindow([...ecrTimes, ...v2Times], 1000)).toBeLessThanOrEqual(allowed);
  });

  it("a hung ECR API ends the run within --timeout with one line naming the call and the registry", async () => {
    ecr.hold("DescribeRepositories");
    try {
      const started = performance.now();
      const res = await runCli(
        ["scan", "--registry", proxy.url, "--registry-type", "ecr", "--timeout", "1s", "--no-cache"],
        { env },
      );
      const elapsed = performance.now() - started;
      expect(res.code).toBe(1);
      const lines = res.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/ECR DescribeRepositories for 127\.0\.0\.1:\d+ got no answer within 1 s/);
      // One timeout and the process's start-up, nowhere near the SDK's retries of a hung call.
      expect(elapsed).toBeLessThan(10_000);
    } finally {
      ecr.hold(undefined);
    }
  });

  it("doctor says it signed in with GetAuthorizationToken (until when) and how many repositories DescribeRepositories listed", async () => {
    const res = await runCli(["doctor", "--registry", proxy.url, "--registry-type", "ecr", "--no-cache"], {
      env,
    });
    expect(res.code, res.stdout + res.stderr).toBe(0);
    const line = res.stdout.split("\n").find((l) => l.startsWith("ok    registry:"));
    expect(line).toMatch(
      /^ok {4}registry: 127\.0\.0\.1:\d+ \(ECR, eu-west-1\) signed in with GetAuthorizationToken \(token expires \d{4}-\d\d-\d\dT[\d:.]+Z\); DescribeRepositories answered: 4 repositories/,
    );
    // ECR hands out 12-hour tokens; the expiry shown is the one it answered.
    const expires = Date.parse(/token expires ([^)]+)\)/.exec(line ?? "")?.[1] ?? "");
    expect(expires - Date.now()).toBeGreaterThan(11 * 3_600_000);
  });

  const IAM = [
    "ecr:GetAuthorizationToken",
    "ecr:DescribeRepositories",
    "ecr:DescribeImages",
    "ecr:BatchGetImage",
    "ecr:BatchDeleteImage",
  ];

  it("doctor with a credential ECR refuses fails in one line naming the region and every IAM action needed", async () => {
    const res = await runCli(["doctor", "--registry", proxy.url, "--registry-type", "ecr", "--no-cache"], {
      env: { ...env, AWS_ACCESS_KEY_ID: "AKIDSOMEONEELSE" },
    });
    expect(res.code).toBe(1);
    const failed = res.stdout.split("\n").filter((l) => l.startsWith("FAIL"));
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatch(
      /^FAIL {2}registry: ECR GetAuthorizationToken for 127\.0\.0\.1:\d+ in region eu-west-1: refused/,
    );
    for (const action of IAM) expect(failed[0]).toContain(action);
    expect(res.stdout + res.stderr).not.toContain("not-a-real-secret");
  });

  it("doctor with no AWS credential at all fails in one line naming the region and every IAM action needed", async () => {
    const res = await runCli(["doctor", "--registry", proxy.url, "--registry-type", "ecr", "--no-cache"], {
      env: {
        ...env,
        AWS_ACCESS_KEY_ID: "",
        AWS_SECRET_ACCESS_KEY: "",
        AWS_PROFILE: "",
        AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/regsweep-credentials",
        AWS_CONFIG_FILE: "/nonexistent/regsweep-config",
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_CONTAINER_CREDENTIALS_FULL_URI: "",
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: "",
        AWS_WEB_IDENTITY_TOKEN_FILE: "",
      },
    });
    expect(res.code).toBe(1);
    const failed = res.stdout.split("\n").filter((l) => l.startsWith("FAIL"));
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatch(
      /^FAIL {2}registry: ECR GetAuthorizationToken for 127\.0\.0\.1:\d+ in region eu-west-1: no AWS credentials/,
    );
    for (const action of IAM) expect(failed[0]).toContain(action);
  });
});

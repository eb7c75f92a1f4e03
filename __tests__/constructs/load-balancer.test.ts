import { LbTargetGroup } from "@cdktf/provider-aws/lib/lb-target-group";
import { Testing } from "cdktf";
import { LoadBalancer, type LoadBalancerProps } from "../../src/constructs/load-balancer";
import { Naming } from "../../src/naming";
import { appPorts, PASSIVE_HEALTH_CHECK, SERVER_PATHS } from "../../src/userdata/app-host";
import { HEALTH_CHECK_ANSWER_SECONDS, nginxConf } from "../../src/userdata/nginx-conf";

/** A load balancer alone, synthesized: plain HTTP on port 80, with `overrides`. */
function loadBalancerJson(overrides: Partial<LoadBalancerProps> = {}): string {
  return Testing.synthScope(
    (scope) =>
      new LoadBalancer(scope, "LoadBalancer", {
        naming: new Naming("shop", "test"),
        vpcId: "vpc-1",
        subnetIds: ["subnet-a", "subnet-c"],
        targetPort: 80,
        healthCheckPath: "/healthz",
        certificateArn: undefined,
        deletionProtection: false,
        ...overrides,
      }),
  );
}

/** nginx's configuration on a server of two processes, as the boot script writes it. */
const serverNginxConf = () =>
  nginxConf({
    environment: "test",
    version: "1.0.0",
    listenPort: 80,
    healthCheckPath: "/healthz",
    appPorts: appPorts(2),
    appUser: "app",
    passiveHealthCheck: PASSIVE_HEALTH_CHECK,
    paths: SERVER_PATHS,
  });

describe("LoadBalancer: the target group's health check of each server", () => {
  const json = loadBalancerJson();
  const targets = Object.values(JSON.parse(json).resource.aws_lb_target_group as Record<string, any>)[0];

  test("a server that reports itself unhealthy (503) is out of the load balancer within 30 s", () => {
    expect(json).toHaveResourceWithProperties(LbTargetGroup, {
      health_check: expect.objectContaining({ path: "/healthz", matcher: "200", unhealthy_threshold: 3 }),
    });
    const { interval, unhealthy_threshold } = targets.health_check;
    expect(interval * unhealthy_threshold).toBeLessThanOrEqual(30);
  });

  test("the check waits longer than nginx ever takes to answer it, even with a hung process", () => {
    const conf = serverNginxConf();
    const location = /location = \/healthz \{([\s\S]*?)\n        \}/.exec(conf)?.[1] ?? "";
    // The longest answer: a try may start until the retry window ends, then take its connect
    // and read timeouts (read from the rendered configuration, not from the constant).
    const seconds = (directive: string) => Number(new RegExp(`${directive} (\\d+)s;`).exec(location)?.[1]);
    const longest =
      seconds("proxy_next_upstream_timeout") + seconds("proxy_connect_timeout") + seconds("proxy_read_timeout");
    expect(longest).toBe(HEALTH_CHECK_ANSWER_SECONDS);
    expect(targets.health_check.timeout).toBeGreaterThan(longest);
    expect(targets.health_check.timeout).toBeLessThan(targets.health_check.interval);
  });
});

describe("LoadBalancer: a new app.port, which replaces the target group", () => {
  const targetGroup = (targetPort: number, naming = new Naming("shop", "test")) =>
    Object.values(
      JSON.parse(loadBalancerJson({ targetPort, naming })).resource.aws_lb_target_group as Record<string, any>,
    )[0];

  test("creates the new group before deleting the old (a listener still forwards to it), under a name of its own", () => {
    const names = new Set<string>();
    for (const port of [80, 8080, 8081, 443, 65535]) {
      const group = targetGroup(port);
      expect(group.port).toBe(port);
      expect(group.lifecycle).toEqual({ create_before_destroy: true });
      names.add(group.name);
    }
    expect(names.size).toBe(5); // two groups with one name cannot exist side by side
    // the default's name, which stacks deployed before this change have, stays as it was
    expect(targetGroup(80).name).toBe("shop-test-app");
    expect(targetGroup(8080).name).toBe("shop-test-p8080");
  });

  test("the longest project and environment names fit the 32 characters with any port", () => {
    const longest = new Naming("a".repeat(12), "b".repeat(12));
    expect(targetGroup(65535, longest).name).toBe(`${"a".repeat(12)}-${"b".repeat(12)}-p65535`);
    expect(targetGroup(65535, longest).name).toHaveLength(32);
  });
});

describe("LoadBalancer: a server leaving (a scale-in, an instance refresh)", () => {
  const doc = JSON.parse(loadBalancerJson());
  const targets = Object.values(doc.resource.aws_lb_target_group as Record<string, any>)[0];
  const lb = Object.values(doc.resource.aws_lb as Record<string, any>)[0];

  test("finishes every request in flight: it stays registered longer than the load balancer lets a request run silent, and longer than nginx waits for an answer", () => {
    const conf = serverNginxConf();
    const readTimeout = Number(/\n {8}proxy_read_timeout (\d+)s;/.exec(conf)?.[1]);
    expect(readTimeout).toBeGreaterThan(0);
    const delay = Number(targets.deregistration_delay);
    expect(delay).toBeGreaterThan(lb.idle_timeout);
    expect(delay).toBeGreaterThan(readTimeout);
    expect(delay).toBeLessThanOrEqual(3600); // AWS's most
  });
});

test("requests HTTP desync could smuggle are refused: invalid header fields dropped, the strictest desync mitigation (AWS's default is defensive)", () => {
  const lb = Object.values(JSON.parse(loadBalancerJson()).resource.aws_lb as Record<string, any>)[0];
  expect(lb).toMatchObject({ drop_invalid_header_fields: true, desync_mitigation_mode: "strictest", internal: false });
});

test("an ALB on fewer than 2 subnets is refused as it is built, not by AWS at apply", () => {
  expect(() => loadBalancerJson({ subnetIds: ["subnet-a"] })).toThrow(
    "LoadBalancer: subnetIds must list at least 2 subnets, one per AZ, as an ALB requires (got 1)",
  );
});

describe("LoadBalancer: the access log bucket", () => {
  const json = JSON.parse(loadBalancerJson({ deletionProtection: true, accessLogs: true }));
  const only = (type: string) => {
    const entries = Object.entries(json.resource[type] as Record<string, any>);
    expect(entries).toHaveLength(1);
    return { name: entries[0]![0], values: entries[0]![1] };
  };

  test("gets its policy only once its public access block is written (S3 refuses the two at once), and the load balancer only after the policy", () => {
    const block = only("aws_s3_bucket_public_access_block");
    const policy = only("aws_s3_bucket_policy");
    expect(policy.values.depends_on).toEqual([`aws_s3_bucket_public_access_block.${block.name}`]);
    expect(only("aws_lb").values.depends_on).toEqual([`aws_s3_bucket_policy.${policy.name}`]);
  });

  test("the regional ELB account may write only this account's logs, under the path AWS documents; objects are the bucket owner's", () => {
    const document = Object.values(json.data.aws_iam_policy_document as Record<string, any>)[0];
    const write = document.statement.find((s: any) => s.sid === "ElbWritesAccessLogs");
    const bucket = only("aws_s3_bucket").name;
    const account = Object.keys(json.data.aws_caller_identity)[0];
    expect(write).toMatchObject({
      actions: ["s3:PutObject"],
      resources: [`\${aws_s3_bucket.${bucket}.arn}/alb/AWSLogs/\${data.aws_caller_identity.${account}.account_id}/*`],
    });
    // the prefix the load balancer writes under is the one the policy opens
    expect(only("aws_lb").values.access_logs).toMatchObject({ prefix: "alb", enabled: true });
    expect(only("aws_s3_bucket_ownership_controls").values).toMatchObject({
      bucket: `\${aws_s3_bucket.${bucket}.id}`,
      rule: { object_ownership: "BucketOwnerEnforced" },
    });
  });

  test("is private, encrypted at rest (SSE-S3: ALB log delivery takes no KMS key) and reached over TLS only", () => {
    const bucket = only("aws_s3_bucket").name;
    expect(only("aws_s3_bucket_public_access_block").values).toMatchObject({
      bucket: `\${aws_s3_bucket.${bucket}.id}`,
      block_public_acls: true,
      block_public_policy: true,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    });
    expect(only("aws_s3_bucket_server_side_encryption_configuration").values).toMatchObject({
      bucket: `\${aws_s3_bucket.${bucket}.id}`,
      rule: [{ apply_server_side_encryption_by_default: { sse_algorithm: "AES256" } }],
    });
    const document = Object.values(json.data.aws_iam_policy_document as Record<string, any>)[0];
    expect(document.statement).toContainEqual({
      sid: "DenyInsecureTransport",
      effect: "Deny",
      actions: ["s3:*"],
      principals: [{ type: "*", identifiers: ["*"] }],
      resources: [`\${aws_s3_bucket.${bucket}.arn}`, `\${aws_s3_bucket.${bucket}.arn}/*`],
      condition: [{ test: "Bool", variable: "aws:SecureTransport", values: ["false"] }],
    });
  });
});

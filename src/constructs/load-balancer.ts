import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { DataAwsElbServiceAccount } from "@cdktf/provider-aws/lib/data-aws-elb-service-account";
import { DataAwsIamPolicyDocument } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { Lb } from "@cdktf/provider-aws/lib/lb";
import { LbListener } from "@cdktf/provider-aws/lib/lb-listener";
import { LbTargetGroup } from "@cdktf/provider-aws/lib/lb-target-group";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketLifecycleConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { Naming } from "../naming";
import { HEALTH_CHECK_ANSWER_SECONDS } from "../userdata/nginx-conf";
import { denyInsecureTransport } from "./bucket-policy";
import { internetIngress, tierSecurityGroup } from "./tier-security-group";

/**
 * The target group's health check of each server's nginx. A server answers 503 there while its
 * watchdog finds it unable to recover (a process held out of rotation for minutes, or restarted
 * again and again); three failed checks 10 s apart take it out of the load balancer within about
 * 30 s, and the Auto Scaling group (health check type ELB) replaces it. The timeout is longer than
 * nginx ever takes to answer, even with a hung process (it gives up on one after 2 s).
 */
export const TARGET_HEALTH_CHECK = {
  intervalSeconds: 10,
  timeoutSeconds: HEALTH_CHECK_ANSWER_SECONDS + 1,
  healthyThreshold: 2,
  unhealthyThreshold: 3,
} as const;

/** AWS's TLS 1.3 policy for ALBs (TLS 1.3 and 1.2 with forward secrecy only). */
export const TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06";

export interface LoadBalancerProps {
  readonly naming: Naming;
  readonly vpcId: string;
  /** Public subnets in at least two AZs. */
  readonly subnetIds: readonly string[];
  /** Port the targets serve on. */
  readonly targetPort: number;
  /** Path the target group's health check requests. */
  readonly healthCheckPath: string;
  /** HTTPS listener with this ACM certificate, and HTTP redirected to it; `undefined` serves plain HTTP. */
  readonly certificateArn: string | undefined;
  /** Refuse deletion through the API. */
  readonly deletionProtection: boolean;
  /** Write access logs to a bucket this construct creates. @default false */
  readonly accessLogs?: boolean;
  /**
   * What makes the VPC reach the internet (its internet gateway's route): AWS refuses an
   * internet-facing load balancer in a VPC with no gateway attached. @default - nothing
   */
  readonly internetRoute?: ITerraformDependable;
  /** Let `destroy` delete the access log bucket with the logs in it (non-production environments). @default false */
  readonly forceDestroyLogs?: boolean;
  /**
   * Seconds a deregistering target keeps serving in-flight requests (a scale-in, an instance
   * refresh): the group terminates the server only after them.
   * @default - the load balancer's idle timeout and 5 s: the longest a request may run without a byte
   */
  readonly deregistrationDelay?: number;
}

/** Seconds the load balancer keeps a connection on which nothing is sent (its default, stated). */
const IDLE_TIMEOUT_SECONDS = 60;

/**
 * An internet-facing Application Load Balancer in the public subnets: its security group admits
 * only the listener ports from the internet; it drops invalid header fields; with a certificate
 * it serves HTTPS with a TLS 1.3 policy and redirects HTTP to HTTPS (301), without one it forwards
 * plain HTTP. One target group, health-checked on `healthCheckPath`.
 *
 * @example
 * const alb = new LoadBalancer(this, "LoadBalancer", { naming, vpcId, subnetIds, targetPort: 80, healthCheckPath: "/healthz", certificateArn, deletionProtection: true });
 */
export class LoadBalancer extends Construct {
  public readonly securityGroupId: string;
  public readonly targetGroupArn: string;
  public readonly dnsName: string;
  /** The load balancer's Route 53 zone, for an alias record to it. */
  public readonly zoneId: string;
  public readonly arnSuffix: string;
  public readonly targetGroupArnSuffix: string;
  /** `https` when a certificate is configured. */
  public readonly scheme: "http" | "https";
  /** The certificate the HTTPS listener serves, if any. */
  public readonly certificateArn: string | undefined;

  constructor(scope: Construct, id: string, props: LoadBalancerProps) {
    super(scope, id);
    const { naming } = props;
    const accessLogs = props.accessLogs ?? false;
    // A server leaving lets every request in flight finish: 30 s (the old default) cut off one that
    // nginx waits on for its 30-s read timeout, or longer with a retry.
    const deregistrationDelay = props.deregistrationDelay ?? IDLE_TIMEOUT_SECONDS + 5;
    if (props.subnetIds.length < 2) {
      // AWS also wants them in 2 AZs, which only the subnets' own settings say: the network gives one per AZ
      throw new Error(
        `LoadBalancer: subnetIds must list at least 2 subnets, one per AZ, as an ALB requires (got ${props.subnetIds.length})`,
      );
    }
    this.scheme = props.certificateArn ? "https" : "http";
    this.certificateArn = props.certificateArn;
    const listenerPorts = props.certificateArn ? [80, 443] : [80];

    // ---- Security group: the only ingress from the internet in the whole stack ----
    const group = tierSecurityGroup(this, naming, "alb", props.vpcId, "Load balancer");
    this.securityGroupId = group.id;
    for (const port of listenerPorts) {
      const what = port === 443 ? "HTTPS" : props.certificateArn ? "HTTP, redirected to HTTPS," : "HTTP";
      internetIngress(this, group.id, port, `${what} from the internet`);
    }

    const logs = accessLogs ? this.accessLogBucket(naming, props.forceDestroyLogs ?? false) : undefined;
    const dependencies = [...(props.internetRoute ? [props.internetRoute] : []), ...(logs ? [logs.policy] : [])];
    const lb = new Lb(this, "Alb", {
      name: naming.loadBalancerName("alb"),
      internal: false,
      loadBalancerType: "application",
      securityGroups: [group.id],
      subnets: [...props.subnetIds],
      dropInvalidHeaderFields: true,
      desyncMitigationMode: "strictest",
      idleTimeout: IDLE_TIMEOUT_SECONDS,
      enableDeletionProtection: props.deletionProtection,
      accessLogs: logs ? { bucket: logs.bucket, prefix: "alb", enabled: true } : undefined,
      tags: naming.tags("alb"),
      dependsOn: dependencies.length > 0 ? dependencies : undefined,
    });
    this.dnsName = lb.dnsName;
    this.zoneId = lb.zoneId;
    this.arnSuffix = lb.arnSuffix;

    // A target group's port cannot change in place: a new app.port replaces it. The new group is
    // created first, the listeners and the Auto Scaling group moved to it, and then the old one
    // deleted (AWS refuses to delete one a listener still forwards to, so the default order, delete
    // first, failed the apply). For that the name changes with the port: `app` for 80, the name
    // every stack has had, `p<port>` otherwise (`shop-prod-p8080`; 32 characters at most).
    const targets = new LbTargetGroup(this, "TargetGroup", {
      name: naming.loadBalancerName(props.targetPort === 80 ? "app" : `p${props.targetPort}`),
      lifecycle: { createBeforeDestroy: true },
      port: props.targetPort,
      protocol: "HTTP",
      targetType: "instance",
      vpcId: props.vpcId,
      deregistrationDelay: String(deregistrationDelay),
      healthCheck: {
        enabled: true,
        path: props.healthCheckPath,
        protocol: "HTTP",
        matcher: "200",
        interval: TARGET_HEALTH_CHECK.intervalSeconds,
        timeout: TARGET_HEALTH_CHECK.timeoutSeconds,
        healthyThreshold: TARGET_HEALTH_CHECK.healthyThreshold,
        unhealthyThreshold: TARGET_HEALTH_CHECK.unhealthyThreshold,
      },
      tags: naming.tags("app"),
    });
    this.targetGroupArn = targets.arn;
    this.targetGroupArnSuffix = targets.arnSuffix;

    // ---- Listeners ----
    const forward = [{ type: "forward", targetGroupArn: targets.arn }];
    if (props.certificateArn) {
      const https = new LbListener(this, "Https", {
        loadBalancerArn: lb.arn,
        port: 443,
        protocol: "HTTPS",
        sslPolicy: TLS_POLICY,
        certificateArn: props.certificateArn,
        defaultAction: forward,
        tags: naming.tags("alb-https"),
      });
      new LbListener(this, "Http", {
        loadBalancerArn: lb.arn,
        port: 80,
        protocol: "HTTP",
        defaultAction: [{ type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } }],
        tags: naming.tags("alb-http"),
        // Never redirect to a port nothing listens on: when the HTTPS listener cannot be created
        // (its certificate is not issued), the apply stops before the redirect exists.
        dependsOn: [https],
      });
    } else {
      new LbListener(this, "Http", {
        loadBalancerArn: lb.arn,
        port: 80,
        protocol: "HTTP",
        defaultAction: forward,
        tags: naming.tags("alb-http"),
      });
    }
  }

  /** A private bucket the regional ELB service may write access logs to (SSE-S3: ALB logs do not support KMS). */
  private accessLogBucket(naming: Naming, forceDestroy: boolean): { bucket: string; policy: S3BucketPolicy } {
    const bucket = new S3Bucket(this, "AccessLogs", {
      bucketPrefix: naming.bucketPrefix("alb-logs"),
      // A bucket holding objects cannot be deleted: without this, destroying the environment stops here.
      forceDestroy,
      tags: naming.tags("alb-logs"),
    });
    new S3BucketServerSideEncryptionConfigurationA(this, "AccessLogsEncryption", {
      bucket: bucket.id,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
    });
    const publicAccess = new S3BucketPublicAccessBlock(this, "AccessLogsPublicAccessBlock", {
      bucket: bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    // Objects belong to the bucket's account, ACLs off, as for the other buckets (bucket-hardening.ts),
    // and not left to the account's default; ALB log delivery needs no ACL.
    new S3BucketOwnershipControls(this, "AccessLogsOwnership", {
      bucket: bucket.id,
      rule: { objectOwnership: "BucketOwnerEnforced" },
    });
    new S3BucketLifecycleConfiguration(this, "AccessLogsLifecycle", {
      bucket: bucket.id,
      rule: [{ id: "expire-access-logs", status: "Enabled", filter: [{ prefix: "" }], expiration: [{ days: 90 }] }],
    });
    const elb = new DataAwsElbServiceAccount(this, "ElbServiceAccount");
    const account = new DataAwsCallerIdentity(this, "Account");
    const document = new DataAwsIamPolicyDocument(this, "AccessLogsPolicyDocument", {
      statement: [
        {
          sid: "ElbWritesAccessLogs",
          effect: "Allow",
          actions: ["s3:PutObject"],
          principals: [{ type: "AWS", identifiers: [elb.arn] }],
          // The regional ELB account writes for every customer's load balancers: only this
          // account's logs, under the path AWS documents (<prefix>/AWSLogs/<account id>/).
          resources: [`${bucket.arn}/alb/AWSLogs/${account.accountId}/*`],
        },
        denyInsecureTransport(bucket.arn),
      ],
    });
    const policy = new S3BucketPolicy(this, "AccessLogsPolicy", {
      bucket: bucket.id,
      policy: document.json,
      // S3 rejects a bucket policy while the public access block is being written (409, as the
      // other buckets' policies wait for theirs: bucket-hardening.ts).
      dependsOn: [publicAccess],
    });
    return { bucket: bucket.bucket, policy };
  }
}

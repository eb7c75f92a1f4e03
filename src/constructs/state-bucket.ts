import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { Construct } from "constructs";
import { versionedPrivateBucket } from "./bucket-hardening";

export interface StateBucketProps {
  /** Exact bucket name: environments' S3 backends refer to it by name, so it is not a prefix. */
  readonly bucketName: string;
  /**
   * Days a replaced state version is kept before it expires (versions are how a bad apply is undone).
   * @default 90
   */
  readonly noncurrentVersionDays?: number;
}

/**
 * An S3 bucket fit to hold Terraform state: versioned, encrypted by default with SSE-KMS (the S3
 * backend's `encrypt = true` writes its objects with SSE-S3 over that: docs/state.md), public access
 * blocked, ACLs disabled, TLS 1.2+ required by policy, and protected by `prevent_destroy`.
 * Locking uses S3-native lock files (`use_lockfile`), so no DynamoDB table is needed.
 *
 * @example
 * new StateBucket(this, "StateBucket", { bucketName: "acme-tfstate-apne2" });
 */
export class StateBucket extends Construct {
  public readonly bucketName: string;
  public readonly bucketArn: string;

  constructor(scope: Construct, id: string, props: StateBucketProps) {
    super(scope, id);
    const noncurrentVersionDays = props.noncurrentVersionDays ?? 90;

    const bucket = new S3Bucket(this, "Bucket", {
      bucket: props.bucketName,
      forceDestroy: false,
      // Losing this bucket loses every environment's state: Terraform refuses any plan that destroys it.
      lifecycle: { preventDestroy: true },
      tags: { Name: props.bucketName },
    });
    this.bucketName = bucket.bucket;
    this.bucketArn = bucket.arn;

    versionedPrivateBucket(this, bucket, {
      encryption: "aws:kms",
      noncurrentVersionDays,
      lifecycleRuleId: "expire-old-state-versions",
      extraStatements: [
        {
          sid: "DenyOutdatedTls",
          effect: "Deny",
          actions: ["s3:*"],
          principals: [{ type: "*", identifiers: ["*"] }],
          resources: [bucket.arn, `${bucket.arn}/*`],
          condition: [{ test: "NumericLessThan", variable: "s3:TlsVersion", values: ["1.2"] }],
        },
      ],
    });
  }
}

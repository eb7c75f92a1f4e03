import { DataAwsIamPolicyDocument } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketLifecycleConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3BucketVersioningA } from "@cdktf/provider-aws/lib/s3-bucket-versioning";
import { Construct } from "constructs";
import { denyInsecureTransport } from "./bucket-policy";

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
 * An S3 bucket fit to hold Terraform state: versioned, encrypted with SSE-KMS, public access
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

    new S3BucketVersioningA(this, "Versioning", {
      bucket: bucket.id,
      versioningConfiguration: { status: "Enabled" },
    });
    new S3BucketServerSideEncryptionConfigurationA(this, "Encryption", {
      bucket: bucket.id,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" }, bucketKeyEnabled: true }],
    });
    const publicAccess = new S3BucketPublicAccessBlock(this, "PublicAccessBlock", {
      bucket: bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketOwnershipControls(this, "OwnershipControls", {
      bucket: bucket.id,
      rule: { objectOwnership: "BucketOwnerEnforced" },
    });
    new S3BucketLifecycleConfiguration(this, "Lifecycle", {
      bucket: bucket.id,
      rule: [
        {
          id: "expire-old-state-versions",
          status: "Enabled",
          filter: [{ prefix: "" }],
          noncurrentVersionExpiration: [{ noncurrentDays: noncurrentVersionDays }],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: 7 }],
        },
      ],
    });

    // ---- Policy: refuse plain HTTP and TLS older than 1.2 ----
    const tlsOnly = new DataAwsIamPolicyDocument(this, "TlsOnlyPolicy", {
      statement: [
        denyInsecureTransport(bucket.arn),
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
    new S3BucketPolicy(this, "Policy", {
      bucket: bucket.id,
      policy: tlsOnly.json,
      // S3 rejects a bucket policy while the public access block is being written.
      dependsOn: [publicAccess],
    });
  }
}

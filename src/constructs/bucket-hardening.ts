import {
  DataAwsIamPolicyDocument,
  type DataAwsIamPolicyDocumentStatement,
} from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { S3BucketLifecycleConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3BucketVersioningA } from "@cdktf/provider-aws/lib/s3-bucket-versioning";
import type { Construct } from "constructs";
import { denyInsecureTransport } from "./bucket-policy";

export interface VersionedPrivateBucketOptions {
  /** `aws:kms` (with an S3 bucket key) or `AES256` (SSE-S3). */
  readonly encryption: "aws:kms" | "AES256";
  /** Days a replaced object version is kept before it expires. */
  readonly noncurrentVersionDays: number;
  /** Name of the lifecycle rule, saying what expires. */
  readonly lifecycleRuleId: string;
  /**
   * Days an object is kept as the current version before it expires (becomes noncurrent, then
   * goes after `noncurrentVersionDays`), for buckets that keep things for a set time, such as
   * backups. @default - current versions never expire
   */
  readonly currentVersionDays?: number;
  /** Statements added to the bucket policy after the TLS-only one. @default - none */
  readonly extraStatements?: readonly DataAwsIamPolicyDocumentStatement[];
}

/**
 * Makes a bucket versioned, encrypted at rest, private (all four public access blocks, ACLs
 * disabled) and TLS-only by policy, with replaced versions expiring: what every bucket of this
 * project that keeps history (state, releases) needs. Returns the versioning resource, which
 * objects that must survive as earlier versions depend on.
 */
export function versionedPrivateBucket(
  scope: Construct,
  bucket: { readonly id: string; readonly arn: string },
  options: VersionedPrivateBucketOptions,
): S3BucketVersioningA {
  const versioning = new S3BucketVersioningA(scope, "Versioning", {
    bucket: bucket.id,
    versioningConfiguration: { status: "Enabled" },
  });
  new S3BucketServerSideEncryptionConfigurationA(scope, "Encryption", {
    bucket: bucket.id,
    rule: [
      options.encryption === "aws:kms"
        ? { applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" }, bucketKeyEnabled: true }
        : { applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } },
    ],
  });
  const publicAccess = new S3BucketPublicAccessBlock(scope, "PublicAccessBlock", {
    bucket: bucket.id,
    blockPublicAcls: true,
    blockPublicPolicy: true,
    ignorePublicAcls: true,
    restrictPublicBuckets: true,
  });
  new S3BucketOwnershipControls(scope, "OwnershipControls", {
    bucket: bucket.id,
    rule: { objectOwnership: "BucketOwnerEnforced" },
  });
  new S3BucketLifecycleConfiguration(scope, "Lifecycle", {
    bucket: bucket.id,
    rule: [
      {
        id: options.lifecycleRuleId,
        status: "Enabled",
        filter: [{ prefix: "" }],
        noncurrentVersionExpiration: [{ noncurrentDays: options.noncurrentVersionDays }],
        // Current versions expire after their days, then stay noncurrent for noncurrentVersionDays.
        expiration: options.currentVersionDays === undefined ? undefined : [{ days: options.currentVersionDays }],
        abortIncompleteMultipartUpload: [{ daysAfterInitiation: 7 }],
      },
    ],
    // S3 rejects noncurrent-version rules until versioning is on.
    dependsOn: [versioning],
  });
  const policy = new DataAwsIamPolicyDocument(scope, "TlsOnlyPolicy", {
    statement: [denyInsecureTransport(bucket.arn), ...(options.extraStatements ?? [])],
  });
  new S3BucketPolicy(scope, "Policy", {
    bucket: bucket.id,
    policy: policy.json,
    // S3 rejects a bucket policy while the public access block is being written.
    dependsOn: [publicAccess],
  });
  return versioning;
}

import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3BucketVersioningA } from "@cdktf/provider-aws/lib/s3-bucket-versioning";
import { Testing } from "cdktf";
import { StateBucket } from "../../src/constructs/state-bucket";
import { Synthesized } from "../helpers";

describe("StateBucket", () => {
  const json = Testing.synthScope((scope) => new StateBucket(scope, "StateBucket", { bucketName: "acme-tfstate" }));
  const parsed = new Synthesized(json);
  const bucketRef = `\${aws_s3_bucket.${parsed.resources("aws_s3_bucket")[0].name}.id}`;

  test("the bucket has the exact name the backends use and cannot be destroyed by Terraform", () => {
    expect(json).toHaveResourceWithProperties(S3Bucket, {
      bucket: "acme-tfstate",
      force_destroy: false,
      lifecycle: { prevent_destroy: true },
    });
  });

  test("state versions are kept, so a bad apply can be rolled back", () => {
    expect(json).toHaveResourceWithProperties(S3BucketVersioningA, {
      bucket: bucketRef,
      versioning_configuration: { status: "Enabled" },
    });
  });

  test("state is encrypted at rest with SSE-KMS", () => {
    expect(json).toHaveResourceWithProperties(S3BucketServerSideEncryptionConfigurationA, {
      bucket: bucketRef,
      rule: [expect.objectContaining({ apply_server_side_encryption_by_default: { sse_algorithm: "aws:kms" } })],
    });
  });

  test("all four public access blocks are on", () => {
    expect(json).toHaveResourceWithProperties(S3BucketPublicAccessBlock, {
      bucket: bucketRef,
      block_public_acls: true,
      block_public_policy: true,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    });
  });

  test("the bucket policy denies plain HTTP and TLS below 1.2, on the bucket and its objects", () => {
    const policy = parsed.resources("aws_s3_bucket_policy")[0].values;
    const document = parsed.referenced(policy.policy);
    const statements = document.values.statement as Array<Record<string, any>>;
    const bucketArn = `\${aws_s3_bucket.${parsed.resources("aws_s3_bucket")[0].name}.arn}`;
    expect(statements).toEqual([
      expect.objectContaining({
        effect: "Deny",
        condition: [{ test: "Bool", variable: "aws:SecureTransport", values: ["false"] }],
        resources: [bucketArn, `${bucketArn}/*`],
      }),
      expect.objectContaining({
        effect: "Deny",
        condition: [{ test: "NumericLessThan", variable: "s3:TlsVersion", values: ["1.2"] }],
        resources: [bucketArn, `${bucketArn}/*`],
      }),
    ]);
  });

  test("ACLs are disabled and old state versions expire after 90 days", () => {
    expect(parsed.resources("aws_s3_bucket_ownership_controls")[0].values.rule).toEqual({
      object_ownership: "BucketOwnerEnforced",
    });
    expect(parsed.resources("aws_s3_bucket_lifecycle_configuration")[0].values.rule[0]).toMatchObject({
      status: "Enabled",
      noncurrent_version_expiration: [{ noncurrent_days: 90 }],
    });
  });
});

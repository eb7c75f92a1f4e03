import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3Object } from "@cdktf/provider-aws/lib/s3-object";
import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { Naming } from "../naming";
import { versionedPrivateBucket } from "./bucket-hardening";

/** Object keys of releases: `app/<version>.tar.gz`. */
export const RELEASE_KEY_PREFIX = "app/";

export interface ArtifactsBucketProps {
  readonly naming: Naming;
  /** The release this environment runs, e.g. `1.0.0`. */
  readonly version: string;
  /**
   * The release tarball, as Terraform reads it at plan time: a path relative to the stack's
   * directory (`npm run package-app` writes `dist/app-<version>.tar.gz`).
   */
  readonly artifactPath: string;
  /** SSM parameter that tells the servers the bucket's name (known only after apply). */
  readonly bucketParameterName: string;
  /** Let `destroy` empty the bucket (non-production environments). @default false */
  readonly forceDestroy?: boolean;
  /**
   * Days a replaced release stays downloadable: an instance refresh that rolls back boots the
   * previous release, whose object the newer deploy replaced.
   * @default 90
   */
  readonly noncurrentVersionDays?: number;
}

/**
 * Where releases live: an S3 bucket (versioned, encrypted, public access blocked, ACLs disabled,
 * TLS only) holding `app/<version>.tar.gz`, uploaded by Terraform from the local tarball with a
 * SHA-256 checksum the servers verify on download, and an SSM parameter holding the bucket name.
 *
 * A version change replaces the object; versioning keeps the previous release downloadable by
 * its key's earlier version, which is what the deploy script falls back to.
 */
export class ArtifactsBucket extends Construct {
  public readonly bucketName: string;
  public readonly bucketArn: string;
  /** Key of the release this environment runs. */
  public readonly releaseKey: string;
  public readonly parameterName: string;
  public readonly parameterArn: string;
  /** The uploaded release. */
  public readonly release: S3Object;
  /** What servers must not boot before: the release and the parameter naming the bucket. */
  public readonly bootDependsOn: readonly ITerraformDependable[];

  constructor(scope: Construct, id: string, props: ArtifactsBucketProps) {
    super(scope, id);
    const { naming } = props;
    const noncurrentVersionDays = props.noncurrentVersionDays ?? 90;

    const bucket = new S3Bucket(this, "Bucket", {
      bucketPrefix: `${naming.name("artifacts")}-`,
      forceDestroy: props.forceDestroy ?? false,
      tags: naming.tags("artifacts"),
    });
    this.bucketName = bucket.bucket;
    this.bucketArn = bucket.arn;

    const versioning = versionedPrivateBucket(this, bucket, {
      encryption: "AES256",
      noncurrentVersionDays,
      lifecycleRuleId: "expire-replaced-releases",
    });

    this.releaseKey = `${RELEASE_KEY_PREFIX}${props.version}.tar.gz`;
    this.release = new S3Object(this, "Release", {
      bucket: bucket.id,
      key: this.releaseKey,
      source: props.artifactPath,
      // Re-uploads when the tarball's content changes under the same version.
      sourceHash: `\${filemd5("${props.artifactPath}")}`,
      checksumAlgorithm: "SHA256",
      contentType: "application/gzip",
      tags: naming.tags("release"),
      // Versioning first: the previous release must survive as an earlier version when this is replaced.
      dependsOn: [versioning],
    });

    const parameter = new SsmParameter(this, "BucketParameter", {
      name: props.bucketParameterName,
      type: "String",
      value: bucket.bucket,
      description: "The artifacts bucket the app servers download releases from",
      tags: naming.tags("artifacts"),
    });
    // The literal name, not the resource's token: the servers' boot script (fixed at synth time)
    // names it. They boot after it exists (`bootDependsOn`).
    this.parameterName = props.bucketParameterName;
    this.parameterArn = parameter.arn;
    this.bootDependsOn = [this.release, parameter];
  }
}

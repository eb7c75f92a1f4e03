import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3Object } from "@cdktf/provider-aws/lib/s3-object";
import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import { AssetType, TerraformAsset, type ITerraformDependable, type TerraformProvider } from "cdktf";
import { Construct } from "constructs";
import type { ReleaseArtifact } from "../artifact/releases";
import type { Naming } from "../naming";
import { RELEASE_VERSION_METADATA } from "../userdata/app-host";
import { versionedPrivateBucket } from "./bucket-hardening";

/** The object key every release is uploaded to; the bucket keeps each upload as an object version. */
export const RELEASE_KEY = "app/release.tar.gz";

export interface ArtifactsBucketProps {
  readonly naming: Naming;
  /**
   * The release this environment runs: its version and tarball, which synth copies into the
   * stack's own folder (`assets/`), so the stack needs nothing outside it.
   */
  readonly release: ReleaseArtifact;
  /** SSM parameter that tells the servers the bucket's name (known only after apply). */
  readonly bucketParameterName: string;
  /** Let `destroy` empty the bucket (non-production environments). @default false */
  readonly forceDestroy?: boolean;
  /**
   * The release object's provider and tags, when its provider sets no default tags (S3 takes 10
   * tags on an object: src/stacks/aws-provider.ts, addObjectProvider); its `Name` is added.
   * @default the stack's provider, its default tags and the `Name`
   */
  readonly object?: { readonly provider: TerraformProvider; readonly tags: Readonly<Record<string, string>> };
  /**
   * Days a replaced release stays downloadable as an earlier object version: servers launched
   * from an earlier launch template version (or told to deploy an earlier version) fetch it.
   * @default 90
   */
  readonly noncurrentVersionDays?: number;
}

/**
 * Where releases live: an S3 bucket (versioned, encrypted, public access blocked, ACLs disabled,
 * TLS only) and an SSM parameter holding its name.
 *
 * Every release goes to the same key, `app/release.tar.gz`, uploaded by Terraform from the
 * tarball synth copied into the stack's folder, with a SHA-256 checksum the servers verify on download and the metadata
 * `app-version: <version>`. A new version is an update of that object, never a replacement: S3
 * keeps the previous upload as an earlier version (Terraform deletes every version of a key only
 * when the resource itself goes, with the bucket). The deploy script finds a release by walking
 * the key's versions, newest first, for the one whose `app-version` matches.
 */
export class ArtifactsBucket extends Construct {
  public readonly bucketName: string;
  public readonly bucketArn: string;
  /** Every bucket this one may be, by name (`arn:aws:s3:::<project>-<env>-artifacts-*`), for a permissions boundary. */
  public readonly bucketArnPattern: string;
  /** The key every release is uploaded to. */
  public readonly releaseKey = RELEASE_KEY;
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

    const bucketPrefix = naming.bucketPrefix("artifacts");
    const bucket = new S3Bucket(this, "Bucket", {
      bucketPrefix,
      forceDestroy: props.forceDestroy ?? false,
      tags: naming.tags("artifacts"),
    });
    this.bucketName = bucket.bucket;
    this.bucketArn = bucket.arn;
    this.bucketArnPattern = `arn:aws:s3:::${bucketPrefix}*`;

    const versioning = versionedPrivateBucket(this, bucket, {
      encryption: "AES256",
      noncurrentVersionDays,
      lifecycleRuleId: "expire-replaced-releases",
    });

    // Copied into `<stack>/assets/.../<sha256>/app-<version>.tar.gz` at synth: Terraform reads it
    // relative to the stack's folder, on any machine, with nothing built beforehand.
    const tarball = new TerraformAsset(this, "Tarball", {
      path: props.release.file,
      type: AssetType.FILE,
      assetHash: props.release.sha256,
    });
    this.release = new S3Object(this, "Release", {
      bucket: bucket.id,
      key: RELEASE_KEY,
      source: tarball.path,
      // A new version re-uploads the same key: an update, which S3 keeps as a new object version
      // beside the earlier ones. The checksum is known at synth (releases are reproducible), so
      // no file function is needed at plan time.
      sourceHash: props.release.sha256,
      metadata: { [RELEASE_VERSION_METADATA]: props.release.version },
      checksumAlgorithm: "SHA256",
      contentType: "application/gzip",
      provider: props.object?.provider,
      tags: { ...props.object?.tags, ...naming.tags("release") },
      // Versioning first: the previous release must survive as an earlier version of the key.
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

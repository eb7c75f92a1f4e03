import { TerraformOutput } from "cdktf";
import type { Construct } from "constructs";
import { StateBucket } from "../constructs/state-bucket";
import { Naming } from "../naming";
import { addAwsProvider } from "./aws-provider";
import { addStateBackend } from "./state-backend";
import { IndependentStack } from "./independent-stack";

export interface StateBucketStackProps {
  /** Name of the bucket the environments' S3 backends use. */
  readonly bucketName: string;
  /** Region of the bucket. */
  readonly region: string;
  /** Project tag. */
  readonly project: string;
  /** When set, Terraform refuses to run against any other AWS account. */
  readonly accountId?: string;
  /**
   * Path from this stack's working directory to the project root.
   * @default "../../.."
   */
  readonly projectRootFromStack?: string;
}

/**
 * Bootstrap stack for remote state: the S3 bucket that environments with `state.backend: s3`
 * use. It keeps its own state locally (`state/<stack>.tfstate`), since the bucket cannot hold
 * the state of its own creation; apply it once, before any environment that uses it.
 *
 * @example
 * new StateBucketStack(app, "state-acme-tfstate", { bucketName: "acme-tfstate", region: "ap-northeast-2", project: "shop" });
 */
export class StateBucketStack extends IndependentStack {
  constructor(scope: Construct, id: string, props: StateBucketStackProps) {
    super(scope, id);
    addAwsProvider(this, {
      region: props.region,
      accountId: props.accountId,
      defaultTags: new Naming(props.project, "shared").defaultTags(),
    });
    addStateBackend(
      this,
      { backend: "local", path: `state/${id}.tfstate` },
      { projectRootFromStack: props.projectRootFromStack ?? "../../.." },
    );
    const bucket = new StateBucket(this, "StateBucket", { bucketName: props.bucketName });
    new TerraformOutput(this, "bucket_arn", { value: bucket.bucketArn });
  }
}

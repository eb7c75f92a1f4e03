import type { App } from "cdktf";
import type { ReleaseArtifact } from "./artifact/releases";
import type { EnvironmentConfig } from "./config/load";
import { LAYOUT_STACKS } from "./stacks/layouts";
import { neighboursOf } from "./naming";
import { StateBucketStack } from "./stacks/state-bucket-stack";

export interface BuildOptions {
  /** Path from a stack's working directory (`<outdir>/stacks/<id>`) to the project root. */
  readonly projectRootFromStack: string;
  /** The release tarball of each `app.version` in use. @default - resolved by each stack */
  readonly releases?: ReadonlyMap<string, ReleaseArtifact>;
}

/** The id of the bootstrap stack that creates an S3 state bucket. */
export function stateBucketStackId(bucket: string): string {
  return `state-${bucket}`;
}

/**
 * Adds one stack per environment, of its layout's class and named after its folder (so
 * `cdktf deploy prod` deploys prod), and one bootstrap stack per S3 state bucket they use.
 */
export function buildStacks(app: App, environments: readonly EnvironmentConfig[], options: BuildOptions): void {
  const buckets = new Map<string, EnvironmentConfig>();
  for (const env of environments) {
    new LAYOUT_STACKS[env.layout](app, env.name, {
      env,
      projectRootFromStack: options.projectRootFromStack,
      release: options.releases?.get(env.app.version),
      neighbours: neighboursOf(env, environments),
    });
    if (env.state.backend === "s3" && !buckets.has(env.state.bucket)) buckets.set(env.state.bucket, env);
  }
  for (const [bucket, env] of buckets) {
    const region = env.state.backend === "s3" ? env.state.region : env.region;
    new StateBucketStack(app, stateBucketStackId(bucket), {
      bucketName: bucket,
      region,
      project: env.project,
      accountId: env.accountId,
      projectRootFromStack: options.projectRootFromStack,
    });
  }
}

import type { App } from "cdktf";
import { resolveEnvironmentReleases, type ReleaseArtifact } from "./artifact/releases";
import { PROJECT_ROOT } from "./project-root";
import type { EnvironmentConfig } from "./config/load";
import { LAYOUT_STACKS } from "./stacks/layouts";
import { neighboursOf, STATE_STACK_PREFIX } from "./naming";
import { StateBucketStack } from "./stacks/state-bucket-stack";
import { stateBuckets } from "./config/state-buckets";
import { ConfigError } from "./config/errors";
import { USER_DATA_LIMIT, UserDataTooLargeError } from "./userdata/encode";

export interface BuildOptions {
  /** Path from a stack's working directory (`<outdir>/stacks/<id>`) to the project root. */
  readonly projectRootFromStack: string;
  /**
   * The release tarball of each `app.version` in use. @default - resolved here, as a synth resolves
   * them: an `app.version` that is not a release is a ConfigError naming its folder
   */
  readonly releases?: ReadonlyMap<string, ReleaseArtifact>;
  /**
   * Every environment of the project, when `environments` is a selection (`ENVIRONMENTS=dev`), so
   * that a selected stack is what the full synth makes of it: its name patterns exclude every
   * neighbour's (`prod-eu` beside `prod`), and a state bucket's stack takes its account from
   * whichever environment using the bucket declares one. @default - `environments`
   */
  readonly everyEnvironment?: readonly EnvironmentConfig[];
  /** How the environments' folder is named in a problem (`<label>/<env>: ...`). @default "environments" */
  readonly environmentsLabel?: string;
}

/** The id of the bootstrap stack that creates an S3 state bucket. */
export function stateBucketStackId(bucket: string): string {
  return `${STATE_STACK_PREFIX}${bucket}`;
}

/**
 * Adds one stack per environment, of its layout's class and named after its folder (so
 * `cdktf deploy prod` deploys prod), and one bootstrap stack per S3 state bucket they use.
 */
export function buildStacks(app: App, environments: readonly EnvironmentConfig[], options: BuildOptions): void {
  const everyEnvironment = options.everyEnvironment ?? environments;
  const label = options.environmentsLabel ?? "environments";
  const releases =
    options.releases ?? resolveEnvironmentReleases(environments, { root: PROJECT_ROOT, environmentsLabel: label });
  const problems: string[] = [];
  for (const env of environments) {
    try {
      new LAYOUT_STACKS[env.layout](app, env.name, {
        env,
        projectRootFromStack: options.projectRootFromStack,
        release: releases.get(env.app.version),
        // of the whole project: a selection synthesizes what the full synth would for its stacks
        neighbours: neighboursOf(env, everyEnvironment),
      });
    } catch (error) {
      if (!(error instanceof UserDataTooLargeError)) throw error;
      problems.push(`${label}/${env.name}: ${userDataProblem(env, error.bytes)}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const every = stateBuckets(everyEnvironment);
  for (const bucket of stateBuckets(environments).keys()) {
    const { region, project, accountId } = every.get(bucket)!;
    new StateBucketStack(app, stateBucketStackId(bucket), {
      bucketName: bucket,
      region,
      project,
      accountId,
      projectRootFromStack: options.projectRootFromStack,
    });
  }
}

/**
 * A boot script past EC2's user-data limit, in the terms of the settings that grow it: one block
 * per app process, and the health-check path in nginx's configuration and the checks that ask it.
 * Each setting is within its own bounds; only their sum is too large, which the build finds.
 */
function userDataProblem(env: EnvironmentConfig, bytes: number): string {
  return (
    `app.processes (${env.app.processes}) and app.healthCheckPath (${env.app.healthCheckPath.length} characters) ` +
    `make the app servers' boot script (EC2 user data) ${bytes} bytes even gzip-compressed, over EC2's limit of ` +
    `${USER_DATA_LIMIT}: lower app.processes or shorten app.healthCheckPath`
  );
}

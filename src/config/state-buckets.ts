import type { EnvironmentConfig } from "./load";

/** What an S3 state bucket's bootstrap stack is made from, and which environment said so. */
export interface StateBucket {
  /** The bucket's region: the first environment's (in folder order) that uses it. */
  readonly region: string;
  /** That environment's folder name. */
  readonly regionFrom: string;
  readonly project: string;
  /** The account an environment using the bucket declares: the first (in folder order) to declare one. */
  readonly accountId?: string;
  /** That environment's folder name. */
  readonly accountFrom?: string;
}

/**
 * The S3 state buckets `environments` use, by name, as one place says what each is: the bucket's
 * stack is made from it (app.ts), and the checks between environments (load.ts) hold every other
 * environment using the bucket to it, so a message names the region and account the stack really
 * uses. `environments` in folder order: the answer must not move with which file was edited last.
 */
export function stateBuckets(environments: readonly EnvironmentConfig[]): Map<string, StateBucket> {
  const buckets = new Map<string, StateBucket>();
  for (const env of environments) {
    if (env.state.backend !== "s3") continue;
    const known = buckets.get(env.state.bucket);
    const account = known?.accountId === undefined && env.accountId !== undefined;
    buckets.set(env.state.bucket, {
      region: known?.region ?? env.state.region,
      regionFrom: known?.regionFrom ?? env.name,
      project: known?.project ?? env.project,
      accountId: account ? env.accountId : known?.accountId,
      accountFrom: account ? env.name : known?.accountFrom,
    });
  }
  return buckets;
}

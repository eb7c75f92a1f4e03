import type { EnvironmentConfig } from "./load";

/** What an S3 state bucket's bootstrap stack is made from, and which environment said so. */
export interface StateBucket {
  /**
   * The bucket's region: the one most of the environments using it name (a tie: the first of them
   * in folder order). A synth that passes has every one name it, so this only picks whom a
   * disagreement is reported on: one new folder in another region, not the deployed ones before it.
   */
  readonly region: string;
  /** The first environment (in folder order) to name that region. */
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
  const votes = new Map<string, Map<string, { count: number; from: string }>>();
  for (const env of environments) {
    if (env.state.backend !== "s3") continue;
    const regions = votes.get(env.state.bucket) ?? new Map<string, { count: number; from: string }>();
    votes.set(env.state.bucket, regions);
    const vote = regions.get(env.state.region);
    regions.set(env.state.region, { count: (vote?.count ?? 0) + 1, from: vote?.from ?? env.name });
    // the region most name; a tie keeps the one named first (Map order, then a strict >)
    const [region, { from }] = [...regions].reduce((best, next) => (next[1].count > best[1].count ? next : best));
    const known = buckets.get(env.state.bucket);
    const account = known?.accountId === undefined && env.accountId !== undefined;
    buckets.set(env.state.bucket, {
      region,
      regionFrom: from,
      project: known?.project ?? env.project,
      accountId: account ? env.accountId : known?.accountId,
      accountFrom: account ? env.name : known?.accountFrom,
    });
  }
  return buckets;
}

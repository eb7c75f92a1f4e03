import type { EnvironmentConfig } from "../config/load";

/** One leg of a workflow's per-environment matrix. */
export interface CiEnvironment {
  /** The folder name, also the stack name: `npm run plan -- <environment>`. */
  readonly environment: string;
  /** The AWS region, for the credentials step. */
  readonly region: string;
  /** Where its state lives: `local` state is thrown away with the CI runner. */
  readonly backend: EnvironmentConfig["state"]["backend"];
}

/**
 * The matrix of the pull-request and drift workflows, one leg per environment folder, so adding
 * a folder needs no workflow edit: `strategy: { matrix: ${{ fromJSON(needs.x.outputs.matrix) }} }`.
 */
export function ciMatrix(environments: readonly EnvironmentConfig[]): { include: CiEnvironment[] } {
  return {
    include: environments.map((env) => ({ environment: env.name, region: env.region, backend: env.state.backend })),
  };
}

/**
 * The deploy chain of `deploy.yml`: every environment folder, lowest `deployOrder` first, ties in
 * name order. The workflow deploys them one at a time in this order (a matrix with
 * `max-parallel: 1`), each only after the one before succeeded, so adding a folder adds it here.
 */
export function deployChain(environments: readonly EnvironmentConfig[]): string[] {
  return [...environments]
    .sort((a, b) => a.deployOrder - b.deployOrder || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((env) => env.name);
}

/**
 * Why CI must not deploy this environment, or undefined when it may. A CI runner is thrown away
 * after the job, and local state with it: the next deploy would create every resource again.
 */
export function ciDeployProblem(env: EnvironmentConfig): string | undefined {
  if (env.state.backend !== "local") return undefined;
  return (
    `environments/${env.name}: state.backend must be s3 or cloud to deploy from CI (got "local"); ` +
    `a runner's local state is lost after the job, so the next deploy would create everything again ` +
    `(docs/state.md)`
  );
}

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

/**
 * What gives Terraform in CI the API token of the HCP Terraform (or Terraform Enterprise) host an
 * environment keeps its state on: the `$GITHUB_ENV` line, or the problem that stops the job;
 * undefined when its state is elsewhere. Terraform reads a host's token from TF_TOKEN_ and the host
 * name, its dots as underscores and its hyphens as two (Terraform's CLI configuration docs,
 * "Environment Variable Credentials"). The token is a repository secret: TF_PLAN_API_TOKEN (read
 * state, lock) for the jobs that only plan, TF_API_TOKEN for the deploy; one that is not a single
 * word would write other lines into $GITHUB_ENV, and is refused.
 */
export function stateToken(
  env: EnvironmentConfig,
  token: string | undefined,
  /** The repository secret the token comes from, for the messages: the plan jobs' is read-only. */
  secret = "TF_API_TOKEN",
): { readonly line: string } | { readonly problem: string } | undefined {
  const state = env.state;
  if (state.backend !== "cloud") return undefined;
  const host = state.hostname;
  const where = `environments/${env.name}: state.backend is cloud (${host})`;
  if (!token) {
    return {
      problem: `${where}, and Terraform needs an API token for it: add one as the repository secret ${secret} (docs/ci-cd.md)`,
    };
  }
  if (!/^\S+$/.test(token)) {
    return { problem: `${where}: ${secret} must be one token, without spaces or line breaks` };
  }
  return { line: `TF_TOKEN_${host.replace(/-/g, "__").replace(/\./g, "_")}=${token}` };
}

import { ciDeployProblem, ciMatrix, deployChain, stateToken } from "./ci-environments";
import { environmentNamed, projectEnvironments, UsageError } from "./script-runner";
import { helpRequested } from "./usage";

const CI_ENVIRONMENTS_USAGE =
  "usage: ci-environments.ts [--chain [--only <environment>] | --deployable <environment> | --state-token <environment>]";

/**
 * For the workflows in .github/workflows; prints `key=value` lines for $GITHUB_OUTPUT.
 *   scripts/ci-environments.ts                    matrix=<JSON>: one leg per environment folder
 *   scripts/ci-environments.ts --chain            chain=<JSON>: every environment, in deploy order
 *   scripts/ci-environments.ts --chain --only ENV chain=<JSON> of ENV alone (the Deploy workflow run
 *                                                 by hand for one environment: a rollback that must
 *                                                 not wait behind the environments before it)
 *   scripts/ci-environments.ts --deployable ENV   region=<region>, or exit 1 when CI must not deploy ENV
 *   scripts/ci-environments.ts --state-token ENV  for $GITHUB_ENV: TF_TOKEN_<host>=$TF_API_TOKEN when
 *                                                 ENV keeps its state in HCP Terraform, else nothing;
 *                                                 exit 1 when it does and TF_API_TOKEN is empty
 * Every environment folder is validated first; a broken one fails the job with its problems.
 */
export function ciEnvironmentsCommand(args: readonly string[]): void {
  const environments = projectEnvironments();
  if (helpRequested(args)) {
    console.log(CI_ENVIRONMENTS_USAGE);
  } else if (args.length === 0) {
    console.log(`matrix=${JSON.stringify(ciMatrix(environments))}`);
  } else if (args.length === 1 && args[0] === "--chain") {
    console.log(`chain=${JSON.stringify(deployChain(environments))}`);
  } else if (args.length === 3 && args[0] === "--chain" && args[1] === "--only") {
    console.log(`chain=${JSON.stringify([environmentNamed(environments, args[2]).name])}`);
  } else if (args.length === 2 && args[0] === "--deployable") {
    const env = environmentNamed(environments, args[1]);
    const problem = ciDeployProblem(env);
    if (problem) throw new UsageError(problem);
    console.log(`region=${env.region}`);
  } else if (args.length === 2 && args[0] === "--state-token") {
    // TF_API_TOKEN_SECRET: which secret the workflow put in TF_API_TOKEN, for the messages
    const token = stateToken(
      environmentNamed(environments, args[1]),
      process.env.TF_API_TOKEN,
      process.env.TF_API_TOKEN_SECRET || undefined,
    );
    if (token && "problem" in token) throw new UsageError(token.problem);
    if (token) console.log(token.line);
  } else {
    throw new UsageError(`${CI_ENVIRONMENTS_USAGE} (got ${args.join(" ") || "nothing"})`);
  }
}

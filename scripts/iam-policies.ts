/**
 * `npm run iam-policies`: writes the CI roles' policies, iam/plan-role-policy.json (read-only:
 * pull requests, drift, the review before a deploy) and iam/deploy-role-policy-<env>.json (each
 * environment's deploy role, scoped to that environment's names), from the Terraform types the
 * stacks synthesize and the code can create (with managed policies beside a role's inline one
 * where that cannot hold it all), and removes the policy files no role has any more. It names each
 * file new, changed, unchanged or removed, with the command that puts it on its role. A test fails
 * while the files are stale (docs/ci-cd.md#setting-up-aws-and-github).
 */
import { PROJECT_ROOT, runScript } from "../src/ops/script-runner";
import { iamPoliciesCommand } from "../src/ops/pipeline-iam-files";

runScript("iam-policies", (args) => iamPoliciesCommand(PROJECT_ROOT, args));

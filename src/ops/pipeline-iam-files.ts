import * as path from "node:path";
import { loadEnvironments } from "../config/load";
import { deployRolePolicy, importedTypes, planRolePolicy, typesOf, type PolicyInputs } from "./pipeline-iam";
import { synthesizeDocuments } from "./synthesized";

/** Where `npm run iam-policies` writes each role's policy, relative to the project root. */
export const POLICY_FILES = { plan: "iam/plan-role-policy.json", deploy: "iam/deploy-role-policy.json" } as const;

/**
 * What the policies are made from: the types of every shipped environment's synthesized stack,
 * and of every binding the code imports (so an environment that turns on SSH or a domain later is
 * covered); the environments' projects and S3 state buckets.
 */
export function policyInputs(root: string, documents?: ReadonlyMap<string, object>): PolicyInputs {
  const environments = loadEnvironments({ dir: path.join(root, "environments") });
  const synthesized = [...(documents ?? synthesizeDocuments(environments)).values()].flatMap((doc) =>
    typesOf(doc as never),
  );
  return {
    types: [...new Set([...synthesized, ...importedTypes(path.join(root, "src"))])].sort(),
    projects: [...new Set(environments.map((e) => e.project))].sort(),
    stateBuckets: [...new Set(environments.flatMap((e) => (e.state.backend === "s3" ? [e.state.bucket] : [])))].sort(),
  };
}

/**
 * The policy files' content, by path.
 * @param documents the shipped environments' synthesized stacks, when already at hand
 */
export function pipelinePolicyFiles(root: string, documents?: ReadonlyMap<string, object>): Record<string, string> {
  const inputs = policyInputs(root, documents);
  return {
    [POLICY_FILES.plan]: `${JSON.stringify(planRolePolicy(inputs), null, 2)}\n`,
    [POLICY_FILES.deploy]: `${JSON.stringify(deployRolePolicy(inputs), null, 2)}\n`,
  };
}

import * as fs from "node:fs";
import * as path from "node:path";
import { loadEnvironments, type EnvironmentConfig } from "../config/load";
import { neighboursOf } from "../naming";
import {
  deployRolePolicy,
  importedTypes,
  INLINE_POLICY_LIMIT,
  planRolePolicy,
  policySize,
  typesOf,
  type PolicyDocument,
  type PolicyInputs,
} from "./pipeline-iam";
import { synthesizeDocuments } from "./synthesized";
import { noArguments } from "./usage";
import { replaceFiles } from "../replace-file";

/** Where `npm run iam-policies` writes each role's policy, relative to the project root. */
export const POLICY_FILES = {
  plan: "iam/plan-role-policy.json",
  /** One per environment: its deploy role reaches only what that environment names. */
  deploy: (environment: string) => `iam/deploy-role-policy-${environment}.json`,
} as const;

/**
 * What the policies are made from: the types of every shipped environment's synthesized stack,
 * and of every binding the code imports (so an environment that turns on SSH or a domain later is
 * covered); the environments' projects and S3 state buckets.
 */
export function policyInputs(root: string, documents?: ReadonlyMap<string, object>): PolicyInputs {
  return inputsOf(loadEnvironments({ dir: path.join(root, "environments") }), root, documents);
}

function inputsOf(
  environments: readonly EnvironmentConfig[],
  root: string,
  documents?: ReadonlyMap<string, object>,
): PolicyInputs {
  const synthesized = [...(documents ?? synthesizeDocuments(environments)).values()].flatMap((doc) =>
    typesOf(doc as never),
  );
  return {
    types: [...new Set([...synthesized, ...importedTypes(path.join(root, "src"))])].sort(),
    projects: [...new Set(environments.map((e) => e.project))].sort(),
    stateObjects: environments
      .flatMap((e) => (e.state.backend === "s3" ? [`${e.state.bucket}/${e.state.key}`] : []))
      .sort(),
  };
}

/**
 * The policy files' content, by path.
 * @param documents the shipped environments' synthesized stacks, when already at hand
 */
export function pipelinePolicyFiles(root: string, documents?: ReadonlyMap<string, object>): Record<string, string> {
  const environments = loadEnvironments({ dir: path.join(root, "environments") });
  const docs = documents ?? synthesizeDocuments(environments);
  const inputs = inputsOf(environments, root, docs);
  const json = (policy: PolicyDocument) => `${JSON.stringify(policy, null, 2)}\n`;
  return {
    [POLICY_FILES.plan]: json(withinInlineLimit("the plan role", planRolePolicy(inputs))),
    ...Object.fromEntries(
      environments.map((env) => [
        POLICY_FILES.deploy(env.name),
        json(
          withinInlineLimit(
            `environment ${env.name}'s deploy role`,
            deployRolePolicy(environmentInputs(inputs, env, docs.get(env.name), environments)),
          ),
        ),
      ]),
    ),
  };
}

/** `policy`, or an error naming whose it is when IAM would refuse it as a role's inline policy. */
function withinInlineLimit(whose: string, policy: PolicyDocument): PolicyDocument {
  const size = policySize(policy);
  if (size > INLINE_POLICY_LIMIT) {
    throw new Error(
      `pipeline IAM: the policy of ${whose} is ${size} characters, and IAM allows a role ${INLINE_POLICY_LIMIT} ` +
        "of inline policy (white space not counted): shorten the names that make it long (the state bucket " +
        "and key in its config.yaml), or split it into managed policies of at most 6,144 characters each",
    );
  }
  return policy;
}

/** The inputs of one environment's deploy role: the types of them all, the names of its own. */
export function environmentInputs(
  inputs: PolicyInputs,
  env: EnvironmentConfig,
  document?: object,
  environments: readonly EnvironmentConfig[] = [],
): PolicyInputs {
  const state = env.state;
  const resources = (document as { resource?: Record<string, Record<string, { force_destroy?: boolean }>> })?.resource;
  return {
    types: inputs.types,
    projects: [env.project],
    stateObjects: state.backend === "s3" ? [`${state.bucket}/${state.key}`] : [],
    environment: {
      name: env.name,
      stateObject: state.backend === "s3" ? `${state.bucket}/${state.key}` : undefined,
      emptiesBuckets: Object.values(resources?.aws_s3_bucket ?? {}).some((bucket) => bucket.force_destroy === true),
      longerNames: neighboursOf(env, environments),
      domainName: env.domain?.name,
      nestedDomainNames: environments
        .filter((other) => other.name !== env.name && env.domain && other.domain)
        .map((other) => other.domain!.name)
        .filter((name) => name === env.domain!.name || name.endsWith(`.${env.domain!.name}`))
        .sort(),
    },
  };
}

/**
 * `npm run iam-policies` in `root`: writes every policy file (`pipelinePolicyFiles`) and removes the
 * deploy role policy of an environment that is gone (no other file of iam/ is touched). Nothing is
 * written when an environment folder is invalid (its problems are printed, as by synth).
 */
export function iamPoliciesCommand(root: string, args: readonly string[]): void {
  noArguments("iam-policies", args);
  const files = pipelinePolicyFiles(root);
  for (const file of Object.keys(files)) fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  // all or none: the plan role's policy and the deploy roles' are put together
  replaceFiles(Object.entries(files).map(([file, content]) => [path.join(root, file), content] as const));
  for (const file of Object.keys(files)) console.log(`wrote ${file}`);
  for (const stale of fs.readdirSync(path.join(root, "iam")).map((name) => `iam/${name}`)) {
    if (/^iam\/deploy-role-policy-[^/]+\.json$/.test(stale) && !(stale in files)) {
      fs.rmSync(path.join(root, stale));
      console.log(`removed ${stale}`);
    }
  }
}

import * as fs from "node:fs";
import * as path from "node:path";
import { loadEnvironments, type EnvironmentConfig } from "../config/load";
import { neighboursOf } from "../naming";
import {
  asRolePolicies,
  deployRolePolicy,
  importedTypes,
  planRolePolicy,
  PolicyTooLarge,
  typesOf,
  type PolicyDocument,
  type PolicyInputs,
} from "./pipeline-iam";
import { synthesizeDocuments } from "./synthesized";
import { noArguments, UsageError } from "./usage";
import { readTextOrUndefined, replaceFiles } from "../replace-file";

/** Where `npm run iam-policies` writes each role's policy, relative to the project root. */
export const POLICY_FILES = {
  plan: "iam/plan-role-policy.json",
  /** One per environment: its deploy role reaches only what that environment names. */
  deploy: (environment: string) => `iam/deploy-role-policy-${environment}.json`,
  /**
   * The `n`th (from 1) managed policy to attach beside a role's inline policy (`file`), written only
   * when the inline one cannot hold it all (`asRolePolicies`). An environment's name has no dot, so
   * it is never another environment's file.
   */
  managed: (file: string, n: number) => file.replace(/\.json$/, `.managed-${n}.json`),
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
 * @param environments the environment folders, when already loaded
 */
export function pipelinePolicyFiles(
  root: string,
  documents?: ReadonlyMap<string, object>,
  environments: readonly EnvironmentConfig[] = loadEnvironments({ dir: path.join(root, "environments") }),
): Record<string, string> {
  const docs = documents ?? synthesizeDocuments(environments);
  const inputs = inputsOf(environments, root, docs);
  return {
    ...roleFiles(POLICY_FILES.plan, "the plan role", planRolePolicy(inputs)),
    ...Object.assign(
      {},
      ...environments.map((env) =>
        roleFiles(
          POLICY_FILES.deploy(env.name),
          `environment ${env.name}'s deploy role`,
          deployRolePolicy(environmentInputs(inputs, env, docs.get(env.name), environments)),
        ),
      ),
    ),
  };
}

/**
 * One role's files: `file`, its inline policy, and, when that cannot hold it all, the managed
 * policies to attach beside it (`asRolePolicies`); or an error naming whose it is when IAM could
 * not hold it at all.
 */
export function roleFiles(file: string, whose: string, policy: PolicyDocument): Record<string, string> {
  const json = (document: PolicyDocument) => `${JSON.stringify(document, null, 2)}\n`;
  let policies;
  try {
    policies = asRolePolicies(policy);
  } catch (error) {
    if (!(error instanceof PolicyTooLarge)) throw error;
    throw new UsageError(
      `pipeline IAM: IAM cannot hold the policy of ${whose}: ${error.message}; shorten the names that make it ` +
        "long (the state bucket and key in its config.yaml)",
    );
  }
  return Object.fromEntries([
    [file, json(policies.inline)],
    ...policies.managed.map((document, i) => [POLICY_FILES.managed(file, i + 1), json(document)]),
  ]);
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
 * policy files of a role that no longer has them (an environment that is gone, a managed policy no
 * longer needed; no other file of iam/ is touched). Nothing is written when an environment folder
 * is invalid (its problems are printed, as by synth). It names each file new, changed, unchanged or
 * removed, and for each that is not unchanged the command that puts it on its role: adding an
 * environment changes the policies of others too (the Denies of its names in a shorter-named
 * one's, as prod's for prod-eu; review CK), and a role keeps the policy it was given until then.
 * @param documents the environments' synthesized stacks, when already at hand (`pipelinePolicyFiles`)
 */
export function iamPoliciesCommand(
  root: string,
  args: readonly string[],
  documents?: ReadonlyMap<string, object>,
): void {
  noArguments("iam-policies", args);
  const environments = loadEnvironments({ dir: path.join(root, "environments") });
  const files = pipelinePolicyFiles(root, documents, environments);
  const commands = new PolicyCommands(environments);
  const before = new Map(Object.keys(files).map((file) => [file, readTextOrUndefined(path.join(root, file))]));
  for (const file of Object.keys(files)) fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  // all or none: the plan role's policy and the deploy roles' are put together
  replaceFiles(Object.entries(files).map(([file, content]) => [path.join(root, file), content] as const));
  const lines = Object.entries(files).map(([file, content]) => {
    const was = before.get(file);
    if (was === content) return { line: `unchanged ${file}` };
    return {
      line: `${was === undefined ? "new" : "changed"} ${file}: ${commands.putting(file, was === undefined)}`,
      put: true,
    };
  });
  for (const name of fs.readdirSync(path.join(root, "iam")).sort()) {
    const stale = `iam/${name}`;
    if (GENERATED_FILE.test(stale) && !(stale in files)) {
      fs.rmSync(path.join(root, stale));
      lines.push(
        isManaged(stale)
          ? { line: `removed ${stale}: ${commands.removing(stale)}`, put: true }
          : { line: `removed ${stale}` },
      );
    }
  }
  if (lines.some((line) => line.put)) {
    console.log("(the roles as docs/ci-cd.md names them: put yours in their place where they differ)");
  }
  for (const { line } of lines) console.log(line);
}

/** The files `npm run iam-policies` writes (and so may remove). */
const GENERATED_FILE = /^iam\/(plan-role-policy|deploy-role-policy-[^/.]+)(\.managed-\d+)?\.json$/;

/** The environment whose deploy role a policy file is for (none: the plan role's). */
const environmentOf = (file: string) => /^iam\/deploy-role-policy-([^/.]+)/.exec(file)?.[1];

const isManaged = (file: string) => /\.managed-\d+\.json$/.test(file);

/**
 * The commands that put each policy file on its role, as `npm run iam-policies` prints them, with
 * the names docs/ci-cd.md gives the roles (`ci-shop-plan`, `ci-shop-deploy-prod`: outside the
 * project's prefix, as a deploy role may change roles and policies named `<project>-<env>-*`) and
 * their inline policies (`plan`, `deploy`); each managed policy named after its role and number,
 * with that role's own project (review CN: a name from every project of the repository changed
 * when another project's environment was added, and named a policy never created).
 */
export class PolicyCommands {
  private readonly projectOf: ReadonlyMap<string, string>;
  private readonly accountOf: ReadonlyMap<string, string | undefined>;
  private readonly project: string;

  constructor(environments: readonly EnvironmentConfig[]) {
    this.projectOf = new Map(environments.map((env) => [env.name, env.project]));
    this.accountOf = new Map(environments.map((env) => [env.name, env.accountId]));
    // (the one plan role of a repository whose environments have several projects: the first by name)
    this.project = [...new Set(environments.map((env) => env.project))].sort()[0] ?? "project";
  }

  /** The role `file` is for, and the name of its inline policy. */
  private roleOf(file: string): { role: string; policyName: string } {
    const environment = environmentOf(file);
    return environment === undefined
      ? { role: `ci-${this.project}-plan`, policyName: "plan" }
      : { role: `ci-${this.projectOf.get(environment) ?? this.project}-deploy-${environment}`, policyName: "deploy" };
  }

  /**
   * The managed policy's name and ARN: in the environment's `accountId`, or the account of the
   * credentials in use, asked as the command runs (review CQ: an `<account>` placeholder made
   * every printed command fail as pasted).
   */
  private managedArn(file: string): { name: string; arn: string } {
    const name = `${this.roleOf(file).role}-${/managed-(\d+)\.json$/.exec(file)![1]}`;
    const environment = environmentOf(file);
    const account =
      (environment && this.accountOf.get(environment)) ??
      "$(aws sts get-caller-identity --query Account --output text)";
    return { name, arn: `arn:aws:iam::${account}:policy/${name}` };
  }

  /** What puts `file` (new or changed) on its role. */
  putting(file: string, isNew: boolean): string {
    const { role, policyName } = this.roleOf(file);
    const document = `--policy-document file://${file}`;
    if (!isManaged(file)) {
      return (
        `put it on ${role}${isNew ? "" : " again"}: aws iam put-role-policy --role-name ${role} ` +
        `--policy-name ${policyName} ${document}`
      );
    }
    const { name, arn } = this.managedArn(file);
    return isNew
      ? `a managed policy to attach to ${role} beside its inline one (which cannot hold it all): aws iam ` +
          `create-policy --policy-name ${name} ${document} && aws iam attach-role-policy --role-name ${role} ` +
          `--policy-arn ${arn}`
      : "a new version of its managed policy (IAM keeps 5 versions of a policy: delete the oldest first when it " +
          `has 5): aws iam create-policy-version --policy-arn ${arn} ${document} --set-as-default`;
  }

  /** What takes a managed policy that is no longer needed off its role. */
  removing(file: string): string {
    const { role } = this.roleOf(file);
    const { arn } = this.managedArn(file);
    return (
      `detach it from ${role} and delete it (its versions but the default first): aws iam detach-role-policy ` +
      `--role-name ${role} --policy-arn ${arn} && aws iam delete-policy --policy-arn ${arn}`
    );
  }
}

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import {
  environmentInputs,
  iamPoliciesCommand,
  pipelinePolicyFiles,
  POLICY_FILES,
  PolicyCommands,
  policyInputs,
  roleFiles,
} from "../../src/ops/pipeline-iam-files";
import { scriptCommand } from "../../src/ops/script-runner";
import { loadEnvironments } from "../../src/config/load";
import { runInProcess } from "../cli";
import { environment, environmentFolders, productionEnvironmentFile, tempDir } from "../helpers";
import {
  asRolePolicies,
  ATTACHED_POLICIES_LIMIT,
  BOUNDARY_WRITES_FOR_ADMINS,
  BOUNDED_ROLE_WRITES,
  DASHBOARD_WRITES,
  deployRolePolicy,
  OWN_DOCUMENT_WRITES,
  INLINE_POLICY_LIMIT,
  MANAGED_POLICY_LIMIT,
  planRolePolicy,
  PolicyTooLarge,
  policySize,
  SERVICE_LINKED_ROLES,
  TYPE_ACTIONS,
  UNTAGGED_WRITES,
} from "../../src/ops/pipeline-iam";
import { SHIPPED_ENVIRONMENTS, SHIPPED_NAMES, shippedStack } from "../shipped";
import { SSM_DOCUMENT_PURPOSES } from "../../src/naming";

/** The CI roles' policies ship as files, generated from the types the stacks use, and cover them. */

const ROOT = path.resolve(__dirname, "../..");
/**
 * The shipped environments' project name ("shop" as shipped; a team that renames the project in
 * its environment files keeps these tests passing).
 */
const PROJECT = SHIPPED_ENVIRONMENTS[0].project;
const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
// The run's shared synthesis of the shipped environments (the same stacks npm run synth writes).
const documents = new Map(SHIPPED_NAMES.map((name) => [name, shippedStack(name).doc as object]));
const inputs = policyInputs(ROOT, documents);
const plan = planRolePolicy(inputs);
const deploy = deployRolePolicy(inputs);

/** A policy's action or resource as IAM matches it: `*` is any characters, `/` included. */
const wildcard = (text: string, flags = "") => new RegExp(`^${escaped(text).replaceAll("\\*", ".*")}$`, flags);

/** A policy action as a pattern (actions are case-insensitive), made once per action for the file. */
const patterns = new Map<string, RegExp>();
function actionPattern(action: string): RegExp {
  let pattern = patterns.get(action);
  if (!pattern) {
    pattern = wildcard(action, "i");
    patterns.set(action, pattern);
  }
  return pattern;
}

/** Whether a policy allows `action` (IAM's `*` wildcards in the policy's actions). */
function allows(policy: typeof plan, action: string): boolean {
  return policy.Statement.some((s) => s.Action.some((a) => actionPattern(a).test(action)));
}

/** Whether `statement` names `action` on `resource` (IAM's `*` wildcards in both). */
function covers(statement: (typeof plan)["Statement"][number], action: string, resource: string): boolean {
  return (
    [statement.Action].flat().some((a) => actionPattern(a).test(action)) &&
    [statement.Resource].flat().some((r) => wildcard(r).test(resource))
  );
}

test("iam/*.json are what npm run iam-policies generates now (run it after changing the stacks)", () => {
  const files = pipelinePolicyFiles(ROOT, documents);
  for (const [file, content] of Object.entries(files)) {
    expect({ file, content: fs.readFileSync(path.join(ROOT, file), "utf8") }).toEqual({ file, content });
  }
  // a deploy role policy for each environment folder (and the managed policies beside one that its
  // inline policy cannot hold, in a repository whose names make it that long: review CN), and
  // nothing else in iam/ (npm run iam-policies removes the rest)
  expect(Object.keys(files)).toEqual(
    expect.arrayContaining([POLICY_FILES.plan, ...environmentFolders().map((env) => POLICY_FILES.deploy(env))]),
  );
  expect(fs.readdirSync(path.join(ROOT, "iam")).sort()).toEqual(
    Object.keys(files)
      .map((f) => path.basename(f))
      .sort(),
  );
});

test("each environment's deploy role reaches only what that environment names: dev's, which no one approves, never prod's", () => {
  const files = pipelinePolicyFiles(ROOT, documents);
  for (const env of environmentFolders()) {
    const text = files[POLICY_FILES.deploy(env)];
    // every name of the project's in it is the environment's own (a name, where an ARN's segment
    // begins: a state bucket named acme-shop-tfstate holds the project's name, and is no name of it)
    const names = [
      ...text.matchAll(new RegExp(`arn:aws:[a-z0-9]+:[^"]*?[:/](${escaped(PROJECT)}[-/][^"]*)"`, "g")),
    ].map((m) => m[1]);
    expect(names.length).toBeGreaterThan(5);
    for (const name of names) {
      expect({
        env,
        name,
        own: name.startsWith(`${PROJECT}-${env}-`) || name.startsWith(`${PROJECT}/${env}/`),
      }).toEqual({
        env,
        name,
        own: true,
      });
    }
  }
  // with S3 state, its own state object and lock, not the whole bucket
  const prod = environment("prod", {
    production: true,
    ...productionEnvironmentFile(),
    state: { backend: "s3", bucket: "acme-tfstate" },
  });
  const statements = Object.fromEntries(
    deployRolePolicy(environmentInputs(inputs, prod)).Statement.map((s) => [s.Sid, s.Resource]),
  );
  expect(statements.StateRead).toEqual(["arn:aws:s3:::acme-tfstate/shop/prod/terraform.tfstate"]);
  expect(statements.StateLock).toEqual(["arn:aws:s3:::acme-tfstate/shop/prod/terraform.tfstate.tflock"]);
});

test("every type the stacks synthesize (and the code can create) has its read actions in the plan role", () => {
  expect(inputs.types).toEqual(
    expect.arrayContaining(["aws_autoscaling_group", "aws_acm_certificate", "data.aws_route53_zone", "aws_key_pair"]),
  );
  for (const type of inputs.types) {
    for (const action of TYPE_ACTIONS[type].read)
      expect({ type, action, allowed: allows(plan, action) }).toEqual({ type, action, allowed: true });
    for (const action of [...TYPE_ACTIONS[type].read, ...TYPE_ACTIONS[type].write]) {
      // but the permissions boundary's writes, which are an administrator's (the next test)
      const allowed = !(BOUNDARY_WRITES_FOR_ADMINS as readonly string[]).includes(action);
      expect({ type, action, allowed: allows(deploy, action) }).toEqual({ type, action, allowed });
    }
  }
});

test("the reads the README's hand-written plan role lacked are there: SNS, KMS key policy and rotation, alarms, dashboards, SSM documents and associations, tags", () => {
  for (const action of [
    "sns:GetTopicAttributes",
    "sns:GetSubscriptionAttributes",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListResourceTags",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:GetDashboard",
    "cloudwatch:ListTagsForResource",
    "ssm:GetDocument",
    "ssm:DescribeAssociation",
    "ssm:ListTagsForResource",
    "logs:ListTagsForResource",
    "rds:ListTagsForResource",
    // the hosted zone data source lists the zone's tags on every refresh (prod's domain)
    "route53:ListTagsForResource",
  ]) {
    expect({ action, allowed: allows(plan, action) }).toEqual({ action, allowed: true });
  }
});

test("the plan role changes nothing, and reads no object but the releases", () => {
  for (const statement of planRolePolicy({ ...inputs, stateObjects: ["acme-tfstate/shop/prod.tfstate"] }).Statement) {
    for (const action of statement.Action) expect(action).toMatch(/^[a-z0-9-]+:(Describe|Get|List|Decrypt$)/);
  }
  const objectReads = plan.Statement.filter((s) => s.Action.includes("s3:GetObject") && s.Sid !== "StateRead");
  expect(objectReads.map((s) => s.Resource)).toEqual([[`arn:aws:s3:::${PROJECT}-*-artifacts-*/app/*`]]);
});

test("a deploy role can create the service-linked roles of Auto Scaling, ELB, RDS and CloudWatch's EC2 actions in a fresh account, and nothing else of the kind", () => {
  const linked = deploy.Statement.filter((s) => s.Action.includes("iam:CreateServiceLinkedRole"));
  expect(linked).toEqual([
    expect.objectContaining({
      Resource: "arn:aws:iam::*:role/aws-service-role/*",
      Condition: {
        StringEquals: {
          "iam:AWSServiceName": [
            "autoscaling.amazonaws.com",
            "elasticloadbalancing.amazonaws.com",
            "rds.amazonaws.com",
            "events.amazonaws.com",
          ],
        },
      },
    }),
  ]);
  expect([...SERVICE_LINKED_ROLES]).toHaveLength(4);
  // the shipped single servers' alarms that recover them are EC2 actions: the first one makes CloudWatch's role
  const ec2Actions = (name: string) =>
    Object.values((shippedStack(name).doc as any).resource.aws_cloudwatch_metric_alarm ?? {}).some((alarm: any) =>
      (alarm.alarm_actions ?? []).some((action: string) => action.startsWith("arn:aws:automate:")),
    );
  expect(SHIPPED_NAMES.filter(ec2Actions).length).toBeGreaterThan(0);
  // IAM writes and PassRole reach only the project's own roles, instance profiles and boundary policies.
  for (const statement of deploy.Statement.filter(
    (s) => s.Action.some((a) => a.startsWith("iam:")) && s.Sid !== "CreateServiceLinkedRoles",
  )) {
    for (const resource of [statement.Resource].flat())
      expect(resource).toMatch(new RegExp(`^arn:aws:iam::\\*:(role|\\*)/${escaped(PROJECT)}-\\*$`));
  }
});

test("the deploy role may make the calls an apply makes beyond create and delete: a fixed server's larger root volume, new security group and instance profile; a database's final snapshot on delete (review S)", () => {
  for (const action of [
    "ec2:ModifyVolume",
    "ec2:ModifyNetworkInterfaceAttribute",
    "ec2:AssociateIamInstanceProfile",
    "ec2:ReplaceIamInstanceProfileAssociation",
    "ec2:DisassociateIamInstanceProfile",
    "rds:CreateDBSnapshot",
    "rds:DescribeDBSnapshots",
  ]) {
    expect({ action, allowed: allows(deploy, action) }).toEqual({ action, allowed: true });
    // the plan role, which pull requests' code runs with, changes nothing
    if (!action.includes(":Describe")) expect({ action, plan: allows(plan, action) }).toEqual({ action, plan: false });
  }
});

test("a type the table does not know fails the generation, naming it", () => {
  expect(() => planRolePolicy({ ...inputs, types: [...inputs.types, "aws_efs_file_system"] })).toThrow(
    "pipeline IAM: no actions known for aws_efs_file_system: add them to TYPE_ACTIONS in src/ops/pipeline-iam.ts",
  );
});

test("S3 state buckets add state reads to the plan role (its plans take no lock: it may neither hold nor remove one), state writes and the lock to the deploy role", () => {
  const withState = {
    ...inputs,
    stateObjects: ["acme-tfstate/shop/prod.tfstate", "acme-tfstate/shop/staging.tfstate"],
  };
  const sids = (policy: typeof plan) => Object.fromEntries(policy.Statement.map((s) => [s.Sid, s]));
  expect(sids(planRolePolicy(withState)).StateLock).toBeUndefined();
  expect(sids(planRolePolicy(withState)).StateRead.Action).toEqual(["s3:GetObject"]);
  expect(sids(planRolePolicy(withState)).StateKey.Action).toEqual(["kms:Decrypt"]);
  expect(sids(deployRolePolicy(withState)).StateRead.Action).toEqual(["s3:GetObject", "s3:PutObject"]);
  // Terraform's S3 backend (use_lockfile) reads the lock back before it deletes it: without
  // GetObject every unlock fails with 403, and the lock stays for every later run
  expect(sids(deployRolePolicy(withState)).StateLock).toMatchObject({
    Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
    Resource: [
      "arn:aws:s3:::acme-tfstate/shop/prod.tfstate.tflock",
      "arn:aws:s3:::acme-tfstate/shop/staging.tfstate.tflock",
    ],
  });
  // the environments' state objects, and no other object of the bucket: a shared state bucket may
  // hold other projects' state, and state holds secrets (the plan role's runs come from pull requests)
  for (const policy of [planRolePolicy(withState), deployRolePolicy(withState)]) {
    expect(sids(policy).StateRead.Resource).toEqual([
      "arn:aws:s3:::acme-tfstate/shop/prod.tfstate",
      "arn:aws:s3:::acme-tfstate/shop/staging.tfstate",
    ]);
    expect(sids(policy).StateList.Resource).toEqual(["arn:aws:s3:::acme-tfstate"]);
  }
  // the state's KMS key, whichever it is, only through S3: never a key to decrypt anything else with
  for (const policy of [planRolePolicy(withState), deployRolePolicy(withState)]) {
    expect(sids(policy).StateKey).toMatchObject({
      Resource: "*",
      Condition: { StringLike: { "kms:ViaService": "s3.*.amazonaws.com" } },
    });
  }
});

test("a deploy role passes only its own environment's roles, and only to EC2 and VPC Flow Logs", () => {
  const dev = SHIPPED_ENVIRONMENTS.find((env) => env.name === "dev")!;
  const pass = deployRolePolicy(environmentInputs(inputs, dev)).Statement.filter((s) =>
    s.Action.includes("iam:PassRole"),
  );
  expect(pass).toEqual([
    {
      Sid: "PassOwnRoles",
      Effect: "Allow",
      Action: ["iam:PassRole"],
      Resource: [`arn:aws:iam::*:role/${PROJECT}-dev-*`],
      Condition: { StringEquals: { "iam:PassedToService": ["ec2.amazonaws.com", "vpc-flow-logs.amazonaws.com"] } },
    },
  ]);
});

test("a deploy role makes a role, writes or attaches its policies only while the role carries its environment's permissions boundary, which it may neither write nor take off: it cannot mint a role stronger than the boundary", () => {
  const files = pipelinePolicyFiles(ROOT, documents);
  for (const env of SHIPPED_NAMES) {
    const policy = JSON.parse(files[POLICY_FILES.deploy(env)]) as typeof deploy;
    // (written out here, not read from the source: a name dropped there must fail here; review BP)
    expect([...BOUNDED_ROLE_WRITES].sort()).toEqual([
      "iam:AttachRolePolicy",
      "iam:CreateRole",
      "iam:PutRolePermissionsBoundary",
      "iam:PutRolePolicy",
    ]);
    for (const action of BOUNDED_ROLE_WRITES) {
      const granting = policy.Statement.filter(
        (s) => s.Effect === "Allow" && s.Action.some((a) => actionPattern(a).test(action)),
      );
      expect({ env, action, granting }).toEqual({
        env,
        action,
        granting: [
          expect.objectContaining({
            Sid: "ManageIamBounded",
            Resource: [`arn:aws:iam::*:role/${PROJECT}-${env}-*`],
            Condition: {
              StringEquals: {
                "iam:PermissionsBoundary": [`arn:aws:iam::\${aws:PrincipalAccount}:policy/${PROJECT}-${env}-boundary`],
              },
            },
          }),
        ],
      });
    }
    // the boundary's content (a new policy, a new version, an older version made the default), and
    // a role's boundary taken off: no statement allows them
    for (const action of [
      "iam:CreatePolicy",
      "iam:CreatePolicyVersion",
      ...BOUNDARY_WRITES_FOR_ADMINS,
      "iam:SetDefaultPolicyVersion",
      "iam:DeleteRolePermissionsBoundary",
    ]) {
      expect({ env, action, allowed: allows(policy, action) }).toEqual({ env, action, allowed: false });
    }
  }
  // a policy for every environment of the project (no environment given): a boundary of the project's
  const everyEnvironment = deploy.Statement.find((s) => s.Sid === "ManageIamBounded")!;
  expect(everyEnvironment.Condition).toEqual({
    StringLike: { "iam:PermissionsBoundary": [`arn:aws:iam::\${aws:PrincipalAccount}:policy/${PROJECT}-*-boundary`] },
  });
  // and the stacks: every role carries the boundary the deploy role names, a policy of that name
  for (const [env, doc] of documents) {
    const { aws_iam_policy: policies, aws_iam_role: roles } = (doc as any).resource;
    const boundaries = Object.entries(policies as Record<string, { name: string }>);
    expect(boundaries.map(([, p]) => p.name)).toEqual([`${PROJECT}-${env}-boundary`]);
    const [[key]] = boundaries;
    for (const role of Object.values(roles as Record<string, { permissions_boundary?: string }>)) {
      expect({ env, boundary: role.permissions_boundary }).toEqual({ env, boundary: `\${aws_iam_policy.${key}.arn}` });
    }
  }
});

test("a deploy role may create, change and delete the app subnets' S3 gateway endpoint (an AZ added or dropped changes its route tables)", () => {
  for (const action of ["ec2:CreateVpcEndpoint", "ec2:ModifyVpcEndpoint", "ec2:DeleteVpcEndpoints"]) {
    expect({ action, allowed: allows(deploy, action) }).toEqual({ action, allowed: true });
    expect({ action, plan: allows(plan, action) }).toEqual({ action, plan: false });
  }
});

test("parameters are read and written by name: the project's own and AWS's public ones, every one the stacks use", () => {
  const named = (policy: typeof plan) =>
    policy.Statement.filter((s) => s.Action.some((a) => /^ssm:(Get|Put|Delete)Parameters?$/.test(a)));
  for (const policy of [plan, deploy]) {
    for (const statement of named(policy)) {
      expect(statement.Resource).toEqual([
        `arn:aws:ssm:*:*:parameter/${PROJECT}/*`,
        "arn:aws:ssm:*::parameter/aws/service/*",
      ]);
    }
  }
  expect(
    named(plan)
      .flatMap((s) => s.Action)
      .sort(),
  ).toEqual(["ssm:GetParameter", "ssm:GetParameters"]);
  // each parameter the stacks read or write is under one of them
  const names: string[] = [];
  for (const doc of documents.values()) {
    for (const section of [(doc as any).resource, (doc as any).data]) {
      for (const parameter of Object.values(section?.aws_ssm_parameter ?? {}) as Array<{ name: string }>) {
        names.push(parameter.name);
      }
    }
  }
  expect(names.length).toBeGreaterThan(4);
  for (const name of names)
    expect({ name, covered: name.startsWith(`/${PROJECT}/`) || name.startsWith("/aws/service/") }).toEqual({
      name,
      covered: true,
    });
});

test("bucket actions are granted on the buckets, s3:GetBucketObjectLockConfiguration too (every bucket refresh reads it)", () => {
  for (const policy of [plan, deploy]) {
    const onObjects = policy.Statement.filter((s) => [s.Resource].flat().every((r) => /:::[^/]+\/./.test(r)));
    for (const statement of onObjects) {
      for (const action of statement.Action)
        expect({ action, onObjects: true }).toEqual({ action: expect.not.stringMatching(/Bucket/), onObjects: true });
    }
    const onBuckets = policy.Statement.filter((s) => [s.Resource].flat().some((r) => /^arn:aws:s3:::[^/]+$/.test(r)));
    const bucketActions = onBuckets.flatMap((s) => s.Action);
    expect(bucketActions.some((a) => actionPattern(a).test("s3:GetBucketObjectLockConfiguration"))).toBe(true);
    // the settings' reads as two wildcards, which reach no object action (an object's data)
    const wildcards = bucketActions.filter((a) => a.includes("*"));
    expect(wildcards).toEqual(["s3:Get*Configuration", "s3:GetBucket*"]);
    for (const objectRead of [
      "s3:GetObject",
      "s3:GetObjectVersion",
      "s3:GetObjectAcl",
      "s3:GetObjectAttributes",
      "s3:GetObjectTagging",
      "s3:GetObjectRetention",
      "s3:GetObjectLegalHold",
      "s3:GetObjectTorrent",
    ])
      expect({ objectRead, granted: wildcards.some((w) => actionPattern(w).test(objectRead)) }).toEqual({
        objectRead,
        granted: false,
      });
  }
});

test("an environment whose buckets are force_destroy may empty its own buckets to delete them; production's may not", () => {
  const files = pipelinePolicyFiles(ROOT, documents);
  for (const env of SHIPPED_ENVIRONMENTS) {
    const buckets = Object.values((documents.get(env.name) as any).resource.aws_s3_bucket) as Array<{
      force_destroy: boolean;
    }>;
    const forced = buckets.some((b) => b.force_destroy);
    const empty = JSON.parse(files[POLICY_FILES.deploy(env.name)]).Statement.find(
      (s: any) => s.Sid === "ManageS3EmptyBuckets",
    );
    expect({ env: env.name, production: env.production, forced, empties: empty?.Resource }).toEqual({
      env: env.name,
      production: env.production,
      forced: !env.production,
      empties: forced ? [`arn:aws:s3:::${PROJECT}-${env.name}-*/*`] : undefined,
    });
  }
});

test("a deploy role associates, makes and changes only its own environment's SSM documents: SSM checks an association's document, never its targets, so an AWS-owned or another environment's document associated with prod's servers would run there (review DI)", () => {
  const dev = environment("dev");
  const policy = deployRolePolicy(environmentInputs(inputs, dev, undefined, [dev, environment("dev-eu")]));
  const allowed = (action: string, arn: string) =>
    policy.Statement.some((s) => s.Effect === "Allow" && covers(s, action, arn));
  const at = "arn:aws:ssm:ap-northeast-2:123456789012";
  for (const action of OWN_DOCUMENT_WRITES) {
    expect({ action, own: allowed(action, `${at}:document/shop-dev-deploy`) }).toEqual({ action, own: true });
    expect({ action, own: allowed(action, `${at}:document/shop-dev-app-os`) }).toEqual({ action, own: true });
    for (const arn of [
      "arn:aws:ssm:ap-northeast-2::document/AWS-RunShellScript",
      `${at}:document/shop-prod-deploy`,
      `${at}:document/shop-dev-eu-deploy`,
      `${at}:document/anything`,
    ]) {
      expect({ action, arn, allowed: allowed(action, arn) }).toEqual({ action, arn, allowed: false });
    }
  }
  // an update that names no document is checked against the association itself
  expect(allowed("ssm:UpdateAssociation", `${at}:association/0123abcd-4567-89ef-0123-456789abcdef`)).toBe(true);
});

test("the SSM documents the stacks make are exactly SSM_DOCUMENT_PURPOSES, each named <project>-<env>-<purpose>: what the deploy roles may associate and the servers read", () => {
  for (const env of SHIPPED_ENVIRONMENTS) {
    const names = Object.values<any>((shippedStack(env.name).doc as any).resource.aws_ssm_document ?? {}).map(
      (d) => d.name,
    );
    for (const name of names) {
      expect({ name, known: SSM_DOCUMENT_PURPOSES.some((p) => name === `${env.project}-${env.name}-${p}`) }).toEqual({
        name,
        known: true,
      });
    }
  }
  const made = SHIPPED_ENVIRONMENTS.flatMap((env) =>
    Object.values<any>((shippedStack(env.name).doc as any).resource.aws_ssm_document ?? {}).map((d) =>
      d.name.slice(`${env.project}-${env.name}-`.length),
    ),
  );
  expect(new Set(made)).toEqual(new Set(SSM_DOCUMENT_PURPOSES));
});

test("dev's deploy role does not reach dev-eu's roles and buckets, which its patterns (shop-dev-*) also match", () => {
  const dev = environment("dev");
  const devEu = environment("dev-eu");
  const policy = deployRolePolicy(environmentInputs(inputs, dev, undefined, [dev, devEu, environment("devx")]));
  const ofNames = (s: (typeof policy.Statement)[number]) =>
    s.Effect === "Deny" && !s.Sid.startsWith("OtherEnvironments");
  expect(policy.Statement.filter(ofNames)).toEqual([
    {
      Sid: "NotOtherEnvironments",
      Effect: "Deny",
      Action: ["*"],
      Resource: ["arn:aws:iam::*:*/shop-dev-eu-*", "arn:aws:s3:::shop-dev-eu-*"],
    },
  ]);
  // as IAM matches a resource (`*` across `/` too): dev-eu's roles, instance profiles, buckets and
  // objects, and nothing of dev's own
  const denied = (arn: string) =>
    policy.Statement.filter(ofNames)
      .flatMap((s) => [s.Resource].flat())
      .some((pattern) => wildcard(pattern).test(arn));
  for (const arn of [
    "arn:aws:iam::123456789012:role/shop-dev-eu-app-20261204",
    "arn:aws:iam::123456789012:instance-profile/shop-dev-eu-app-20261204",
    "arn:aws:s3:::shop-dev-eu-artifacts-20261204",
    "arn:aws:s3:::shop-dev-eu-artifacts-20261204/app/1.3.0.tgz",
  ])
    expect({ arn, denied: denied(arn) }).toEqual({ arn, denied: true });
  for (const arn of [
    "arn:aws:iam::123456789012:role/shop-dev-app-1",
    "arn:aws:s3:::shop-dev-artifacts-1/app/1.3.0.tgz",
  ])
    expect({ arn, denied: denied(arn) }).toEqual({ arn, denied: false });
  // without such a neighbour, no name is denied
  expect(deployRolePolicy(environmentInputs(inputs, dev, undefined, [dev])).Statement.some(ofNames)).toBe(false);
});

test("a deploy role may not change or delete what another environment's Environment tag names (dev's, which no reviewer approves, could turn off prod's database's deletion protection and delete it); untagged and new resources are left to the Allow statements", () => {
  const dev = environment("dev");
  const deny = deployRolePolicy(environmentInputs(inputs, dev)).Statement.find((s) => s.Sid === "OtherEnvironments")!;
  expect(deny).toMatchObject({
    Effect: "Deny",
    Resource: "*",
    Condition: {
      StringNotEquals: { "aws:ResourceTag/Environment": "dev" },
      // a resource without the tag (or one being created) is not denied: StringNotEquals alone is true for a missing key
      Null: { "aws:ResourceTag/Environment": "false" },
    },
  });
  // as IAM matches an action: what would take prod's data, keys, alarms or servers
  const denied = (action: string) => [deny.Action].flat().some((pattern) => wildcard(pattern).test(action));
  for (const action of [
    "rds:ModifyDBInstance",
    "rds:DeleteDBInstance",
    "kms:ScheduleKeyDeletion",
    "kms:PutKeyPolicy",
    "ec2:TerminateInstances",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:CreateLaunchTemplateVersion",
    "autoscaling:UpdateAutoScalingGroup",
    "elasticloadbalancing:DeleteLoadBalancer",
    "cloudwatch:DeleteAlarms",
    "sns:DeleteTopic",
    "logs:DeleteLogGroup",
    "ssm:SendCommand",
  ])
    expect({ action, denied: denied(action) }).toEqual({ action, denied: true });
  // not what a shared AMI or key (which may carry another environment's tag) is used by
  for (const action of ["ec2:RunInstances", "kms:Decrypt", "kms:GenerateDataKey", "kms:CreateGrant"])
    expect({ action, denied: denied(action) }).toEqual({ action, denied: false });
  // the project-wide role (no environment) has no such Deny
  expect(deployRolePolicy(inputs).Statement.some((s) => s.Sid.startsWith("OtherEnvironments"))).toBe(false);
});

test("nor take another environment's tag off first (after which that Deny would not see it), take its network offline, stop its servers or launch one into its subnets", () => {
  const deny = deployRolePolicy(environmentInputs(inputs, environment("dev"))).Statement.filter((s) =>
    s.Sid.startsWith("OtherEnvironments"),
  );
  const denied = (action: string, resource: string) => deny.some((s) => covers(s, action, resource));
  const key = "arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
  // the untag-then-delete path a review found: each step is denied while prod's tag is on
  for (const action of ["kms:UntagResource", "kms:TagResource", "kms:ScheduleKeyDeletion", "kms:PutKeyPolicy"])
    expect({ action, denied: denied(action, key) }).toEqual({ action, denied: true });
  for (const action of [
    "ec2:DetachInternetGateway",
    "ec2:ReplaceRoute",
    "ec2:DisassociateRouteTable",
    "ec2:StopInstances",
    "ec2:ReplaceIamInstanceProfileAssociation",
    "ec2:DisassociateAddress",
    "events:DeleteRule",
    "acm:DeleteCertificate",
    "secretsmanager:DeleteSecret",
  ])
    expect({ action, denied: denied(action, "*") }).toEqual({ action, denied: true });
  // a server launched into prod's subnet or with prod's security group reaches prod's database;
  // the AMI it launches from may be shared (and tagged), so the image itself is not checked
  expect(denied("ec2:RunInstances", "arn:aws:ec2:ap-northeast-2:123456789012:subnet/subnet-0abc")).toBe(true);
  expect(denied("ec2:RunInstances", "arn:aws:ec2:ap-northeast-2:123456789012:security-group/sg-0abc")).toBe(true);
  expect(denied("ec2:RunInstances", "arn:aws:ec2:ap-northeast-2::image/ami-0abc")).toBe(false);
});

test("every write a deploy role may make on any resource falls under the Deny of other environments' resources, or is one that makes a new resource", () => {
  const files = pipelinePolicyFiles(ROOT, documents);
  for (const env of environmentFolders()) {
    const policy = JSON.parse(files[POLICY_FILES.deploy(env)]) as typeof deploy;
    const manage = policy.Statement.find((s) => s.Sid === "Manage")!;
    const deny = policy.Statement.find((s) => s.Sid === "OtherEnvironments")!;
    const writes = manage.Action.filter((a) => !/^[a-z0-9-]+:(Describe|List|Get)/.test(a));
    const uncovered = writes.filter(
      (action) => !deny.Action.some((pattern) => wildcard(pattern).test(action)) && !UNTAGGED_WRITES.includes(action),
    );
    expect({ env, uncovered }).toEqual({ env, uncovered: [] });
    // and each exception is one the role has (a stale name would hide nothing, but says the list is not read)
    expect({ env, unused: UNTAGGED_WRITES.filter((a) => !writes.includes(a)) }).toEqual({ env, unused: [] });
  }
});

/**
 * The resource types of the stacks that take no tags (their provider resource has no `tags`), each
 * with why a write of theirs granted on `*` is still denied on another environment's: the tagged
 * resource AWS checks it against. A type not listed here must have its writes granted by name.
 */
const CHECKED_ON_A_TAGGED_RESOURCE: Record<string, string> = {
  aws_acm_certificate_validation: "no write at all: it waits for the certificate",
  aws_autoscaling_group: "its tags are `tag` blocks, Environment among them, not `tags`",
  aws_autoscaling_lifecycle_hook: "the group",
  aws_autoscaling_policy: "the group",
  aws_cloudwatch_log_metric_filter: "the log group",
  aws_kms_alias: "the key, as well as the alias",
  aws_route: "the route table",
  aws_route_table_association: "the route table",
  aws_sns_topic_policy: "the topic (sns:SetTopicAttributes)",
  // not verified against AWS for sns:Unsubscribe and sns:SetSubscriptionAttributes, which name the
  // subscription (its ARN is the topic's and an id)
  aws_sns_topic_subscription: "the topic",
};

test("a resource type that takes no tags is not left to the tag's Deny: its writes are granted by name, or AWS checks them on a tagged resource (dev's role could rewrite prod's dashboard: review DN)", () => {
  const takesTags = (type: string) =>
    /readonly tags\?:/.test(
      fs.readFileSync(
        path.join(
          ROOT,
          "node_modules/@cdktf/provider-aws/lib",
          type.slice("aws_".length).replaceAll("_", "-"),
          "index.d.ts",
        ),
        "utf8",
      ),
    );
  const dev = deployRolePolicy(environmentInputs(inputs, environment("dev")));
  const onAny = dev.Statement.filter((s) => s.Effect === "Allow" && s.Resource === "*").flatMap((s) => s.Action);
  const untagged = inputs.types.filter((t) => t.startsWith("aws_") && !takesTags(t));
  const leftToTheDeny = untagged.filter(
    (type) =>
      !(type in CHECKED_ON_A_TAGGED_RESOURCE) &&
      !/^aws_(iam|s3|route53)_/.test(type) && // granted by name (roles, buckets, records): tested above
      TYPE_ACTIONS[type].write.some((action) => onAny.includes(action)),
  );
  expect(leftToTheDeny).toEqual([]);
  // the list is read: each of its types is one the stacks use that takes no tags
  expect(Object.keys(CHECKED_ON_A_TAGGED_RESOURCE).filter((t) => !untagged.includes(t))).toEqual([]);
  // the dashboards, by name: dev's own, never prod's
  const prodDashboard = `arn:aws:cloudwatch::123456789012:dashboard/${PROJECT}-prod-dashboard`;
  const devDashboard = `arn:aws:cloudwatch::123456789012:dashboard/${PROJECT}-dev-dashboard`;
  for (const action of DASHBOARD_WRITES) {
    const allowed = (arn: string) => dev.Statement.some((s) => s.Effect === "Allow" && covers(s, action, arn));
    expect({ action, prod: allowed(prodDashboard), dev: allowed(devDashboard) }).toEqual({
      action,
      prod: false,
      dev: true,
    });
  }
  // by its exact name: not dev-eu's either, which shop-dev-* would match
  const devEuDashboard = `arn:aws:cloudwatch::123456789012:dashboard/${PROJECT}-dev-eu-dashboard`;
  expect(dev.Statement.some((s) => s.Effect === "Allow" && covers(s, "cloudwatch:PutDashboard", devEuDashboard))).toBe(
    false,
  );
  // and it is the name the stack gives it
  const [dashboard] = Object.values<any>((shippedStack("dev").doc as any).resource.aws_cloudwatch_dashboard);
  expect(dashboard.dashboard_name).toBe(`${PROJECT}-dev-dashboard`);
});

test("IAM reads on the environment's names reach its roles, profiles and policies, never a user's, group's or server certificate's that share the prefix (review DR)", () => {
  const dev = deployRolePolicy(environmentInputs(inputs, environment("dev")));
  for (const policy of [plan, dev]) {
    const allowed = (action: string, arn: string) =>
      policy.Statement.some((s) => s.Effect === "Allow" && covers(s, action, arn));
    // what a refresh of the stacks' IAM reads, on their own names
    for (const [action, arn] of [
      ["iam:GetRole", `role/${PROJECT}-dev-app-1`],
      ["iam:GetRolePolicy", `role/${PROJECT}-dev-app-1`],
      ["iam:ListAttachedRolePolicies", `role/${PROJECT}-dev-app-1`],
      ["iam:ListInstanceProfilesForRole", `role/${PROJECT}-dev-app-1`],
      ["iam:GetInstanceProfile", `instance-profile/${PROJECT}-dev-app-1`],
      ["iam:GetPolicyVersion", `policy/${PROJECT}-dev-boundary`],
    ])
      expect({ action, allowed: allowed(action, `arn:aws:iam::123456789012:${arn}`) }).toEqual({
        action,
        allowed: true,
      });
    // and nothing of a user, group or server certificate named alike
    for (const [action, arn] of [
      ["iam:GetUser", `user/${PROJECT}-dev-ci`],
      ["iam:GetUserPolicy", `user/${PROJECT}-dev-ci`],
      ["iam:ListAccessKeys", `user/${PROJECT}-dev-ci`],
      ["iam:ListGroupsForUser", `user/${PROJECT}-dev-ci`],
      ["iam:ListAttachedUserPolicies", `user/${PROJECT}-dev-ci`],
      ["iam:ListSSHPublicKeys", `user/${PROJECT}-dev-ci`],
      ["iam:GetLoginProfile", `user/${PROJECT}-dev-ci`],
      ["iam:GetGroup", `group/${PROJECT}-dev-admins`],
      ["iam:GetGroupPolicy", `group/${PROJECT}-dev-admins`],
      ["iam:GetServerCertificate", `server-certificate/${PROJECT}-dev-legacy`],
    ])
      expect({ action, allowed: allowed(action, `arn:aws:iam::123456789012:${arn}`) }).toEqual({
        action,
        allowed: false,
      });
  }
});

test("an environment's deploy role changes DNS records of its own domain name and the names under it, and one without a domain none", () => {
  const files = pipelinePolicyFiles(ROOT, documents);
  for (const env of SHIPPED_ENVIRONMENTS) {
    const policy = JSON.parse(files[POLICY_FILES.deploy(env.name)]) as typeof deploy;
    const changes = policy.Statement.filter((s) =>
      s.Action.some((a) => actionPattern(a).test("route53:ChangeResourceRecordSets")),
    );
    const name = env.domain?.name;
    expect({ env: env.name, changes }).toEqual({
      env: env.name,
      changes: name
        ? [
            {
              Sid: "ManageRoute53Records",
              Effect: "Allow",
              Action: ["route53:ChangeResourceRecordSets"],
              Resource: "arn:aws:route53:::hostedzone/*",
              Condition: {
                "ForAllValues:StringLike": {
                  "route53:ChangeResourceRecordSetsNormalizedRecordNames": [name, `*.${name}`],
                },
              },
            },
          ]
        : [],
    });
  }
  // a shipped environment has a domain, and one has none (else this test would not test both)
  expect(new Set(SHIPPED_ENVIRONMENTS.map((e) => e.domain !== undefined))).toEqual(new Set([true, false]));
});

describe("each role's policy fits IAM's limit on a role's inline policies (10,240 characters, white space not counted)", () => {
  test("the shipped files, as IAM counts them", () => {
    for (const [file, content] of Object.entries(pipelinePolicyFiles(ROOT, documents))) {
      const size = content.replace(/\s/g, "").length;
      expect({ file, size, fits: size <= INLINE_POLICY_LIMIT }).toEqual({ file, size, fits: true });
      expect(policySize(JSON.parse(content))).toBe(size);
    }
  });

  test("the longest names a config allows, S3 state in a 63-character bucket and two neighbours denied: room to spare", () => {
    // 12-character project and environment names (the most SHORT_NAME allows), the default state key
    const bucket = `${"s".repeat(62)}1`;
    const longest = (name: string) => environment(name, { project: "abcdefghijkl", state: { backend: "s3", bucket } });
    // (within 1 %: the Deny of other environments' tagged resources took most of the 5 % kept here
    // before, the statement of the environment's own SSM documents (review DI) another 0.4 %, its
    // dashboard's (review DN) 1.3 %, taken back by IAM's reads as iam:Get* and iam:List*; a policy
    // over the limit is split, below)
    const env = longest("prodprodprod");
    expect(policySize(deployRolePolicy(environmentInputs(inputs, env)))).toBeLessThan(INLINE_POLICY_LIMIT * 0.99);
    // neighbours whose names begin with this one's (prod-eu beside prod) add a Deny of their names:
    // two of them with these names went past the limit by 0.4 % with the statement of the
    // environment's own SSM documents (review DI), and were split; with IAM's reads on the
    // environment's names as iam:Get* and iam:List* (room taken back for its dashboard's statement,
    // review DN) they fit whole again. A policy that does not is split (below).
    const [prod, eu, us] = ["prod", "prod-europe", "prod-america"].map(longest);
    const whole = deployRolePolicy(environmentInputs(inputs, prod, undefined, [prod, eu, us]));
    expect(policySize(whole)).toBeLessThanOrEqual(INLINE_POLICY_LIMIT);
    const held = asRolePolicies(whole);
    expect(held).toEqual({ inline: whole, managed: [] });
    expect(policySize(held.inline)).toBeLessThanOrEqual(INLINE_POLICY_LIMIT);
  });
});

describe("a policy a role's inline policy cannot hold: its Denies stay inline, the Allows that do not fit go to managed policies (review CK)", () => {
  type PolicyDocumentOf = typeof deploy;

  /** The statements of `documents` as JSON, each cut by its actions (`Manage1`, `Manage2`) joined back, for `whole`. */
  function statementsOf(whole: PolicyDocumentOf, ...documents: PolicyDocumentOf[]): string[] {
    const sids = new Set(whole.Statement.map((s) => s.Sid));
    const joined = new Map<string, (typeof deploy.Statement)[number]>();
    for (const statement of documents.flatMap((d) => d.Statement)) {
      const sid = sids.has(statement.Sid) ? statement.Sid : statement.Sid.replace(/\d+$/, "");
      const seen = joined.get(sid);
      if (seen) seen.Action.push(...statement.Action);
      else joined.set(sid, { ...statement, Sid: sid, Action: [...statement.Action] });
    }
    return [...joined.values()].map((statement) => JSON.stringify(statement)).sort();
  }

  /** Each document within IAM's limit for where it goes, and every Deny in the inline one. */
  function expectHeld(
    whole: PolicyDocumentOf,
    held: { inline: PolicyDocumentOf; managed: readonly PolicyDocumentOf[] },
  ) {
    expect(policySize(held.inline)).toBeLessThanOrEqual(INLINE_POLICY_LIMIT);
    for (const managed of held.managed) {
      expect(policySize(managed)).toBeLessThanOrEqual(MANAGED_POLICY_LIMIT);
      expect(managed.Statement.filter((s) => s.Effect === "Deny")).toEqual([]);
    }
    expect(held.inline.Statement.filter((s) => s.Effect === "Deny")).toEqual(
      whole.Statement.filter((s) => s.Effect === "Deny"),
    );
    // nothing lost, nothing added: the same statements (a cut one joined back), the same order inline
    expect(statementsOf(whole, held.inline, ...held.managed)).toEqual(statementsOf(whole, whole));
    const order = whole.Statement.map((s) => s.Sid);
    const inlineOrder = held.inline.Statement.map((s) => order.indexOf(s.Sid));
    expect(inlineOrder).toEqual([...inlineOrder].sort((a, b) => a - b));
  }

  test("prod with S3 state and a copy in another region (prod-eu, its domain under prod's): the reviewer's case, put through", () => {
    // the shipped prod's folder, as the reviewer copied it
    const file = parse(fs.readFileSync(path.join(ROOT, "environments", "prod", "config.yaml"), "utf8"));
    const prod = environment("prod", { ...file, state: { backend: "s3", bucket: "acme-tfstate" } });
    const eu = environment("prod-eu", {
      ...file,
      network: { ...file.network, cidr: "10.31.0.0/16" },
      domain: { ...file.domain, name: `eu.${file.domain.name}` },
    });
    const whole = deployRolePolicy(environmentInputs(inputs, prod, undefined, [prod, eu]));
    expect(whole.Statement.map((s) => s.Sid)).toEqual(
      expect.arrayContaining(["NotOtherEnvironments", "OtherEnvironmentsRecords", "StateLock"]),
    );
    expect(policySize(whole)).toBeGreaterThan(INLINE_POLICY_LIMIT);
    const held = asRolePolicies(whole);
    expect(held.managed.length).toBe(1);
    expectHeld(whole, held);
  });

  test("a policy that fits is the inline policy as it is, with no managed one", () => {
    expect(asRolePolicies(deploy)).toEqual({ inline: deploy, managed: [] });
  });

  const statement = (sid: string, effect: "Allow" | "Deny", actions: number, resource = "*") => ({
    Sid: sid,
    Effect: effect,
    Action: Array.from({ length: actions }, (_, i) => `ec2:DescribeSomethingLong${String(i).padStart(4, "0")}`),
    Resource: resource,
  });
  const policy = (...statements: ReturnType<typeof statement>[]) => ({
    Version: "2012-10-17" as const,
    Statement: statements,
  });

  test("an Allow too long for one managed policy is cut by its actions into statements that each fit", () => {
    const whole = policy(
      statement("Guard", "Deny", 20),
      statement("Inline", "Allow", 150),
      statement("Big", "Allow", 600),
    );
    const held = asRolePolicies(whole);
    expect(held.managed.length).toBeGreaterThan(1);
    expect(held.managed.map((d) => d.Statement.map((s) => s.Sid))).toEqual(held.managed.map((_, i) => [`Big${i + 1}`]));
    expectHeld(whole, held);
  });

  test("what IAM cannot hold however it is split is refused, saying why: Denies past the inline limit, more managed policies than a role takes", () => {
    expect(() => asRolePolicies(policy(statement("Guard", "Deny", 400), statement("Allow", "Allow", 10)))).toThrow(
      new PolicyTooLarge(
        `its Deny statements alone are ${policySize(policy(statement("Guard", "Deny", 400)))} characters, more than a role's inline policies may hold (10240)`,
      ),
    );
    const tooMany = policy(statement("Guard", "Deny", 5), statement("Huge", "Allow", 3000));
    expect(() => asRolePolicies(tooMany)).toThrow(
      /^it needs 1\d managed policies besides its inline one, and IAM attaches 10 to a role$/,
    );
    expect(ATTACHED_POLICIES_LIMIT).toBe(10);
    // as npm run iam-policies says it: whose policy, why, and what to shorten (no stack trace: a UsageError)
    expect(() => roleFiles(POLICY_FILES.deploy("prod"), "environment prod's deploy role", tooMany)).toThrow(
      /^pipeline IAM: IAM cannot hold the policy of environment prod's deploy role: it needs 1\d managed policies besides its inline one, and IAM attaches 10 to a role; shorten the names that make it long \(the state bucket and key in its config\.yaml\)$/,
    );
  });

  test("a state key of 1,024 characters (the most S3 allows; it is in the policy twice) gives a managed policy beside the inline one", () => {
    const root = tempDir("iam-limit-");
    try {
      // the project with dev alone: its sources (for the types it can create) and dev's folder
      fs.symlinkSync(path.join(ROOT, "src"), path.join(root, "src"));
      fs.cpSync(path.join(ROOT, "environments", "dev"), path.join(root, "environments", "dev"), { recursive: true });
      const file = path.join(root, "environments", "dev", "config.yaml");
      const key = `${"k".repeat(1019)}.json`;
      const text = fs.readFileSync(file, "utf8");
      expect(text).toContain("state:\n  backend: local\n");
      fs.writeFileSync(
        file,
        text.replace("state:\n  backend: local\n", `state:\n  backend: s3\n  bucket: acme-tfstate\n  key: ${key}\n`),
      );
      const files = pipelinePolicyFiles(root, documents);
      expect(Object.keys(files).sort()).toEqual(
        [POLICY_FILES.plan, POLICY_FILES.deploy("dev"), "iam/deploy-role-policy-dev.managed-1.json"].sort(),
      );
      const parse = (name: string) => JSON.parse(files[name]) as PolicyDocumentOf;
      const dev = loadEnvironments({ dir: path.join(root, "environments") })[0];
      const whole = deployRolePolicy(environmentInputs(policyInputs(root, documents), dev, documents.get("dev")));
      expectHeld(whole, {
        inline: parse(POLICY_FILES.deploy("dev")),
        managed: [parse("iam/deploy-role-policy-dev.managed-1.json")],
      });
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("npm run iam-policies (in this process, as its script runs it)", () => {
  /** A project root whose environments/ holds a copy of the shipped staging folder as `name`. */
  function projectWith(name: string): string {
    const root = tempDir("iam-policies-");
    fs.cpSync(path.join(ROOT, "environments", "staging"), path.join(root, "environments", name), { recursive: true });
    return root;
  }
  const iamPolicies = (root: string, args: string[]) =>
    runInProcess(() => scriptCommand("iam-policies", (a) => iamPoliciesCommand(root, a, documents), args));

  test("it names each file new, changed, unchanged or removed, with the command that puts it on its role: a copy (prod-eu) changes prod's policy, which past the inline limit gets a managed one beside it (review CK)", async () => {
    const root = tempDir("iam-policies-");
    try {
      fs.symlinkSync(path.join(ROOT, "src"), path.join(root, "src"));
      const folder = (name: string) => path.join(root, "environments", name);
      const prodFile = path.join(ROOT, "environments", "prod", "config.yaml");
      fs.mkdirSync(folder("prod"), { recursive: true });
      const text = fs.readFileSync(prodFile, "utf8");
      expect(text).toContain("state:\n  backend: local\n");
      fs.writeFileSync(
        path.join(folder("prod"), "config.yaml"),
        text.replace("state:\n  backend: local\n", "state:\n  backend: s3\n  bucket: acme-tfstate\n"),
      );
      // the role names docs/ci-cd.md gives, which a shell takes as they are printed
      const put = (env: string, again = " again") =>
        `put it on ci-shop-deploy-${env}${again}: aws iam put-role-policy --role-name ci-shop-deploy-${env} --policy-name deploy --policy-document file://iam/deploy-role-policy-${env}.json`;
      const first = await iamPolicies(root, []);
      const names = "(the roles as docs/ci-cd.md names them: put yours in their place where they differ)";
      expect(first.stdout.split("\n")).toEqual([
        names,
        "new iam/plan-role-policy.json: put it on ci-shop-plan: aws iam put-role-policy --role-name ci-shop-plan --policy-name plan --policy-document file://iam/plan-role-policy.json",
        `new iam/deploy-role-policy-prod.json: ${put("prod", "")}`,
        "",
      ]);
      // a copy in another region, its domain under prod's: Denies of its names in prod's policy
      fs.mkdirSync(folder("prod-eu"));
      fs.writeFileSync(
        path.join(folder("prod-eu"), "config.yaml"),
        text
          .replace("cidr: 10.30.0.0/16", "cidr: 10.31.0.0/16")
          .replace("name: shop.example.net", "name: eu.shop.example.net"),
      );
      // and another project's environment: the names of prod's role and policies stay its own project's (review CN)
      fs.mkdirSync(folder("blog"));
      const dev = fs.readFileSync(path.join(ROOT, "environments", "dev", "config.yaml"), "utf8");
      expect(dev).toMatch(/^project: shop$/m);
      fs.writeFileSync(
        path.join(folder("blog"), "config.yaml"),
        dev.replace(/^project: shop$/m, "project: blog").replace(/cidr: 10\.\d+\.0\.0\/16/, "cidr: 10.60.0.0/16"),
      );
      const managed = "iam/deploy-role-policy-prod.managed-1.json";
      // in prod's accountId (an environment without one: the account of the credentials in use, asked by the command)
      const arn = "arn:aws:iam::111122223333:policy/ci-shop-deploy-prod-1";
      const second = await iamPolicies(root, []);
      expect({ status: second.status, lines: second.stdout.split("\n") }).toEqual({
        status: 0,
        lines: [
          names,
          "changed iam/plan-role-policy.json: put it on ci-blog-plan again: aws iam put-role-policy --role-name ci-blog-plan --policy-name plan --policy-document file://iam/plan-role-policy.json",
          "new iam/deploy-role-policy-blog.json: put it on ci-blog-deploy-blog: aws iam put-role-policy --role-name ci-blog-deploy-blog --policy-name deploy --policy-document file://iam/deploy-role-policy-blog.json",
          `changed iam/deploy-role-policy-prod.json: ${put("prod")}`,
          `new ${managed}: a managed policy to attach to ci-shop-deploy-prod beside its inline one (which cannot hold it all): aws iam create-policy --policy-name ci-shop-deploy-prod-1 --policy-document file://${managed} && aws iam attach-role-policy --role-name ci-shop-deploy-prod --policy-arn ${arn}`,
          `new iam/deploy-role-policy-prod-eu.json: ${put("prod-eu", "")}`,
          "",
        ],
      });
      expect(
        JSON.parse(fs.readFileSync(path.join(root, "iam/deploy-role-policy-prod.json"), "utf8")).Statement,
      ).toEqual(expect.arrayContaining([expect.objectContaining({ Sid: "NotOtherEnvironments", Effect: "Deny" })]));
      expect((await iamPolicies(root, [])).stdout).toBe(
        [
          "iam/plan-role-policy.json",
          "iam/deploy-role-policy-blog.json",
          "iam/deploy-role-policy-prod.json",
          managed,
          "iam/deploy-role-policy-prod-eu.json",
        ]
          .map((file) => `unchanged ${file}\n`)
          .join(""),
      );
      // the copy gone: prod's policy fits its inline one again, and the managed one is to be taken off
      fs.rmSync(folder("prod-eu"), { recursive: true });
      const last = await iamPolicies(root, []);
      expect(last.stdout.split("\n")).toEqual([
        names,
        "unchanged iam/plan-role-policy.json",
        "unchanged iam/deploy-role-policy-blog.json",
        `changed iam/deploy-role-policy-prod.json: ${put("prod")}`,
        "removed iam/deploy-role-policy-prod-eu.json",
        `removed ${managed}: detach it from ci-shop-deploy-prod and delete it (its versions but the default first): aws iam detach-role-policy --role-name ci-shop-deploy-prod --policy-arn ${arn} && aws iam delete-policy --policy-arn ${arn}`,
        "",
      ]);
      expect(fs.readdirSync(path.join(root, "iam")).sort()).toEqual([
        "deploy-role-policy-blog.json",
        "deploy-role-policy-prod.json",
        "plan-role-policy.json",
      ]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test("each printed command pastes into a shell as it is: a managed policy's ARN in the environment's accountId, or the account of the credentials in use, asked as it runs (review CQ)", () => {
    const qa = { ...environment("qa", {}), accountId: undefined }; // no accountId
    const prod = environment("prod", { ...productionEnvironmentFile(), accountId: "111122223333" });
    const commands = new PolicyCommands([qa, prod]);
    const lines = [
      commands.putting("iam/deploy-role-policy-qa.managed-1.json", true),
      commands.putting("iam/deploy-role-policy-qa.managed-1.json", false),
      commands.removing("iam/deploy-role-policy-qa.managed-1.json"),
      commands.putting("iam/deploy-role-policy-prod.managed-2.json", false),
      commands.putting(POLICY_FILES.deploy("qa"), false),
    ];
    expect(lines[1]).toMatch(
      /: aws iam create-policy-version --policy-arn arn:aws:iam::\$\(aws sts get-caller-identity --query Account --output text\):policy\/ci-shop-deploy-qa-1 --policy-document file:\/\/iam\/deploy-role-policy-qa\.managed-1\.json --set-as-default$/,
    );
    expect(lines[3]).toContain("--policy-arn arn:aws:iam::111122223333:policy/ci-shop-deploy-prod-2 ");
    // what follows the last ": " is the command, whole, and bash reads it as one
    for (const line of lines) {
      const command = line.slice(line.lastIndexOf(": ") + 2);
      expect(command).toMatch(/^aws iam /);
      expect(command).not.toMatch(/[<>]|, then /);
      expect({ command, bash: spawnSync("bash", ["-n"], { input: command, encoding: "utf8" }).status }).toEqual({
        command,
        bash: 0,
      });
    }
  });

  test("an invalid environment folder is printed as synth prints it, without a stack trace, and nothing is written", async () => {
    const root = projectWith("b"); // a folder name too short
    const run = await iamPolicies(root, []);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(
      /^iam-policies: 1 problem\(s\) in the environment folders:\n {2}\S*environments\/b: folder name /,
    );
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(fs.readdirSync(root)).toEqual(["environments"]);
  });

  test("a folder it cannot write (a file where iam/ should be, a read-only checkout) is one line, Node's own, with no stack trace", async () => {
    const root = projectWith("qa");
    fs.writeFileSync(path.join(root, "iam"), "not a folder\n");
    const run = await iamPolicies(root, []);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^iam-policies: E[A-Z]+: .*iam.*\n$/);
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });

  test("an argument is refused before anything is read or written: it has no options, no dry run", async () => {
    const root = projectWith("qa");
    const run = await iamPolicies(root, ["--dry-run"]);
    expect(run).toEqual({
      status: 1,
      stdout: "",
      stderr:
        "iam-policies: takes no arguments, and did nothing (got --dry-run): it has no options, no dry run; run it as `npm run iam-policies`\n",
    });
    expect(fs.readdirSync(root)).toEqual(["environments"]);
  });
});

test("reads on every resource are grouped only where they read settings and names: Describe* and List*, never Get* (parameters, secrets, key policies) nor SSM's List* (commands' output)", () => {
  for (const policy of [plan, deploy]) {
    const wildcards = policy.Statement.filter((s) => s.Resource === "*")
      .flatMap((s) => s.Action)
      .filter((a) => a.includes("*"));
    expect(wildcards.length).toBeGreaterThan(3);
    for (const action of wildcards)
      expect({
        action,
        metadata: /^[a-z0-9-]+:(Describe|List)\*$/.test(action) && !["ssm:List*", "logs:List*"].includes(action),
      }).toEqual({
        action,
        metadata: true,
      });
  }
  // what the roles must still do is allowed through them
  for (const action of ["rds:DescribeDBInstances", "logs:DescribeLogGroups", "ssm:ListTagsForResource"])
    expect({ action, allowed: allows(plan, action) }).toEqual({ action, allowed: true });
  expect(allows(plan, "ssm:ListCommandInvocations")).toBe(false);
  expect(allows(plan, "logs:ListAnomalies")).toBe(false); // samples of log events (review AV)
  expect(allows(plan, "secretsmanager:GetSecretValue")).toBe(false);
});

test("an environment at a zone's apex may not change the records of another environment whose name lies under it (review AV)", () => {
  const staging = environment("staging", { domain: { name: "acme-corp.io", hostedZone: "acme-corp.io" } });
  const prod = environment("prod", { domain: { name: "shop.acme-corp.io" } });
  const dev = environment("dev");
  const all = [staging, prod, dev];
  const statementsOf = (env: typeof dev) =>
    deployRolePolicy(environmentInputs(inputs, env, undefined, all)).Statement.filter((s) =>
      s.Action.includes("route53:ChangeResourceRecordSets"),
    );
  expect(statementsOf(staging)).toEqual([
    expect.objectContaining({
      Sid: "ManageRoute53Records",
      Effect: "Allow",
      Condition: {
        "ForAllValues:StringLike": {
          "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["acme-corp.io", "*.acme-corp.io"],
        },
      },
    }),
    {
      Sid: "OtherEnvironmentsRecords",
      Effect: "Deny",
      Action: ["route53:ChangeResourceRecordSets"],
      Resource: "*",
      Condition: {
        "ForAnyValue:StringLike": {
          "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["shop.acme-corp.io", "*.shop.acme-corp.io"],
        },
      },
    },
  ]);
  // prod's name is under no other's; dev has no domain and changes no record
  expect(statementsOf(prod).map((s) => s.Sid)).toEqual(["ManageRoute53Records"]);
  expect(statementsOf(dev)).toEqual([]);
});

import {
  DataAwsIamPolicyDocument,
  type DataAwsIamPolicyDocumentStatement,
  type DataAwsIamPolicyDocumentStatementCondition,
} from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { DataAwsSsmParameter } from "@cdktf/provider-aws/lib/data-aws-ssm-parameter";
import { IamInstanceProfile } from "@cdktf/provider-aws/lib/iam-instance-profile";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { KeyPair } from "@cdktf/provider-aws/lib/key-pair";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { Fn, type ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { SSM_DOCUMENT_PURPOSES, type Naming } from "../naming";
import type { RoleBoundary } from "./role-boundary";
import { TerraformData } from "./terraform-data";
import { eitherNamespaces, namespaceList, type MetricNamespaces } from "../userdata/metric-namespaces";
import { internetIngress, tierSecurityGroup } from "./tier-security-group";

/** SSH access: an existing key pair or a public key to import, and the admin networks that may connect. */
export interface SshAccess {
  readonly keyName?: string;
  readonly publicKey?: string;
  readonly allowedCidrs: readonly string[];
}

export interface AppIdentityProps {
  readonly naming: Naming;
  /** The environment's permissions boundary: the role carries it, and each of its policies joins it. */
  readonly boundary: RoleBoundary;
  /**
   * The namespaces the servers publish their metrics to (the CloudWatch agent's, the health
   * probe's, the nightly dump's): the only ones the role may publish to.
   */
  readonly metricNamespaces: MetricNamespaces;
  /** VPC of the app servers. */
  readonly vpcId: string;
  /** `al2023` for the latest Amazon Linux 2023 of `architecture`, or a pinned `ami-...` id. */
  readonly ami: string;
  /**
   * With `al2023`: keep the AMI resolved at the first apply until this label changes, instead of
   * following every Amazon Linux release. @default - follow AWS's newest at every plan
   */
  readonly amiPinnedAt?: string;
  /** CPU architecture of the instance type, which selects the AL2023 image. */
  readonly architecture: "x86_64" | "arm64";
  /** Ports opened to the whole internet (a server without a load balancer in front). @default - none */
  readonly publicPorts?: readonly number[];
  /** SSH from admin networks only. @default - no SSH: Session Manager needs no inbound port */
  readonly ssh?: SshAccess;
  /** What the servers may do with the app's database. @default - nothing: the app has no database */
  readonly database?: DatabaseAccess;
  /** Releases the servers may download. @default - none */
  readonly releases?: ReleaseSource;
  /**
   * The servers are launched by an Auto Scaling group whose name starts with `groupNamePrefix`, in
   * `region`, and whose `Name` tag is `groupNameTag`: they may read their own launch state and
   * complete the group's lifecycle actions (their boot script ends its launch hook). @default - lone servers
   */
  readonly launchHook?: { readonly region: string; readonly groupNamePrefix: string; readonly groupNameTag: string };
}

/** Where the servers download releases from: read-only, and only the releases' key. */
export interface ReleaseSource {
  readonly bucketArn: string;
  /** The bucket by name, for the permissions boundary (`arn:aws:s3:::<prefix>*`). */
  readonly bucketArnPattern: string;
  /** The key every release is an object version of, e.g. `app/release.tar.gz`. */
  readonly key: string;
  /** The SSM parameter that names the bucket. */
  readonly parameterArn: string;
}

/**
 * The app's database, as far as AWS is concerned: exactly what the servers need for the contract
 * in `app/db.js` (and, on the single server, its backups), nothing more.
 */
export interface DatabaseAccess {
  /** The secret whose password the app connects with: the servers may read it. */
  readonly secretArn: string;
  /** The secret by name, for the permissions boundary. */
  readonly secretArnPattern: string;
  /**
   * The database instance whose secret it is (`arn:aws:rds:*:*:db:<identifier>`), where the name
   * says nothing of it (RDS's `rds!db-<id>`): the boundary refuses another instance's secret.
   * @default - the name is the environment's own
   */
  readonly secretOwner?: string;
  /** The servers store the password in the secret once (the single server generates it). */
  readonly fillsSecret: boolean;
  /** SSM parameters the servers read: the app's settings, the backups bucket's name. */
  readonly parameterArns: readonly string[];
  /** Where the single server's dumps go: it may write, read and list them there, never delete. */
  readonly backups?: { readonly bucketArn: string; readonly bucketArnPattern: string; readonly prefix: string };
}

/** The public SSM parameter AWS keeps pointing at the newest Amazon Linux 2023 AMI. */
export function al2023Parameter(architecture: "x86_64" | "arm64"): string {
  return `/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${architecture}`;
}

/**
 * What every app server is, whatever the layout: its security group (egress to HTTPS only),
 * an instance role with least privilege (Session Manager core, CloudWatch agent, the app's
 * database secret and settings, the releases), the AMI, and optional SSH from admin CIDRs.
 *
 * @example
 * const identity = new AppIdentity(this, "AppIdentity", { naming, vpcId, ami: "al2023", architecture: "arm64" });
 */
export class AppIdentity extends Construct {
  public readonly securityGroupId: string;
  public readonly instanceProfileName: string;
  public readonly roleName: string;
  public readonly imageId: string;
  /** The key pair name when SSH is configured. */
  public readonly keyName?: string;
  /**
   * The role's policies: a server must not boot before they exist, or its first AWS calls (the
   * release download, the agent) are refused.
   */
  public readonly permissions: ITerraformDependable[] = [];

  constructor(scope: Construct, id: string, props: AppIdentityProps) {
    super(scope, id);
    const { naming } = props;
    const publicPorts = props.publicPorts ?? [];

    // ---- Security group: no inline rules; one resource per rule ----
    const group = tierSecurityGroup(this, naming, "app", props.vpcId, "App servers");
    this.securityGroupId = group.id;
    // HTTPS only: Amazon Linux 2023's package repositories (cdn.amazonlinux.com and its regional
    // S3 buckets), Session Manager and the AWS APIs all answer on 443. The instance metadata
    // service and the time server are link-local, which security groups do not filter.
    new VpcSecurityGroupEgressRule(this, "EgressInternet443", {
      securityGroupId: group.id,
      cidrIpv4: "0.0.0.0/0",
      ipProtocol: "tcp",
      fromPort: 443,
      toPort: 443,
      description: "HTTPS out: packages, Session Manager, AWS APIs",
    });
    for (const port of publicPorts) {
      internetIngress(
        this,
        group.id,
        port,
        // plain HTTP whatever the port: nothing on such a server terminates TLS (publicPorts)
        "HTTP from the internet (no load balancer in front)",
      );
    }

    // ---- SSH: only from admin networks, only when configured ----
    if (props.ssh) {
      this.keyName = props.ssh.publicKey
        ? new KeyPair(this, "KeyPair", {
            keyNamePrefix: `${naming.name("admin")}-`,
            publicKey: props.ssh.publicKey,
            tags: naming.tags("admin"),
          }).keyName
        : props.ssh.keyName;
      props.ssh.allowedCidrs.forEach((cidr, i) => {
        new VpcSecurityGroupIngressRule(this, `IngressSsh${i}`, {
          securityGroupId: group.id,
          cidrIpv4: cidr,
          ipProtocol: "tcp",
          fromPort: 22,
          toPort: 22,
          description: `SSH from admin network ${cidr}`,
        });
      });
    }

    // ---- Instance role: Session Manager, CloudWatch agent, and only the listed secrets ----
    const trust = new DataAwsIamPolicyDocument(this, "TrustPolicy", {
      statement: [
        {
          effect: "Allow",
          actions: ["sts:AssumeRole"],
          principals: [{ type: "Service", identifiers: ["ec2.amazonaws.com"] }],
        },
      ],
    });
    const { boundary } = props;
    const role = new IamRole(this, "Role", {
      namePrefix: naming.iamRolePrefix("app"),
      assumeRolePolicy: trust.json,
      permissionsBoundary: boundary.arn,
      tags: naming.tags("app"),
    });
    this.roleName = role.name;
    this.permissions.push(
      new IamRolePolicyAttachment(this, "SessionManager", {
        role: role.name,
        policyArn: "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
      }),
      boundary.policy,
    );
    boundary.allow(sessionManagerBoundary(naming));
    // What the CloudWatch agent and the servers' own metrics need: the actions of AWS's
    // CloudWatchAgentServerPolicy (less X-Ray, the agent's SSM configuration and log retention,
    // which these servers do not use), whose Resource "*" would let a server of any environment
    // write into another's log groups (the access log feeds its 5xx alarm) and any namespace's
    // metrics. Log groups and metric namespaces are this environment's only (with
    // monitoring.metricNamespaces: shared, the namespaces every such environment shares).
    // no resource-level permissions: only these namespaces
    const publishMetrics = (namespaces: string[]): DataAwsIamPolicyDocumentStatement => ({
      sid: "PublishMetrics",
      effect: "Allow",
      actions: ["cloudwatch:PutMetricData"],
      resources: ["*"],
      condition: [{ test: "StringEquals", variable: "cloudwatch:namespace", values: namespaces }],
    });
    const agentStatements: DataAwsIamPolicyDocumentStatement[] = [
      {
        sid: "ShipLogs",
        effect: "Allow",
        actions: ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
        // the groups and their streams, `/<project>/<env>/...` (any region and account: the role's own)
        resources: [`arn:aws:logs:*:*:log-group:${naming.path("*")}`],
      },
      { sid: "FindLogGroups", effect: "Allow", actions: ["logs:DescribeLogGroups"], resources: ["*"] },
      publishMetrics(namespaceList(props.metricNamespaces)),
      {
        // the instance's tags (its Auto Scaling group, for the metrics' dimensions) and volumes
        sid: "DescribeInstance",
        effect: "Allow",
        actions: ["ec2:DescribeTags", "ec2:DescribeVolumes"],
        resources: ["*"],
      },
    ];
    const agent = new DataAwsIamPolicyDocument(this, "CloudWatchAgentPolicy", { statement: agentStatements });
    this.permissions.push(new IamRolePolicy(this, "CloudWatchAgent", { role: role.id, policy: agent.json }));
    // The boundary allows the namespaces of either monitoring.metricNamespaces, so that moving from
    // one to the other (once a kept server is replaced) changes the role's policy, which a deploy
    // role may write, and not the boundary, which only an administrator may.
    boundary.allow(
      agentStatements.map((statement) =>
        statement.sid === "PublishMetrics"
          ? publishMetrics(eitherNamespaces(naming.project, naming.environment))
          : statement,
      ),
    );
    if (props.database) {
      this.permissions.push(databasePolicy(this, role.id, props.database));
      boundary.allow(databaseBoundary(props.database));
      if (props.database.secretOwner) boundary.deny([otherDatabasesSecrets(props.database)]);
    }
    if (props.launchHook) {
      const { region, groupNamePrefix, groupNameTag } = props.launchHook;
      const launch = new DataAwsIamPolicyDocument(this, "LaunchHookPolicy", {
        statement: [
          {
            // Which group the server is in and whether a launch action waits for it (this action
            // has no resource-level permissions).
            sid: "ReadLaunchState",
            effect: "Allow",
            actions: ["autoscaling:DescribeAutoScalingInstances"],
            resources: ["*"],
          },
          {
            // Any account in the ARN: the call acts in the role's own account, the only one whose
            // groups it can reach (a group has no resource policy to let another account in). The
            // name prefix alone would also match the group of an environment named like this one
            // and `-app` (`prod-app` beside `prod`: shop-prod-app-app-...); its Name tag does not.
            sid: "CompleteLaunch",
            effect: "Allow",
            actions: ["autoscaling:CompleteLifecycleAction"],
            resources: [`arn:aws:autoscaling:${region}:*:autoScalingGroup:*:autoScalingGroupName/${groupNamePrefix}*`],
            condition: [{ test: "StringEquals", variable: "autoscaling:ResourceTag/Name", values: [groupNameTag] }],
          },
        ],
      });
      this.permissions.push(new IamRolePolicy(this, "LaunchHook", { role: role.id, policy: launch.json }));
      boundary.allow(launch);
    }
    if (props.releases) {
      const { bucketArn, key, parameterArn } = props.releases;
      const readReleases = new DataAwsIamPolicyDocument(this, "ReadReleasesPolicy", {
        statement: [
          {
            sid: "ReadReleases",
            effect: "Allow",
            actions: ["s3:GetObject", "s3:GetObjectVersion"],
            resources: [`${bucketArn}/${key}`],
          },
          {
            // Finds a release among the key's object versions.
            sid: "ListReleaseVersions",
            effect: "Allow",
            actions: ["s3:ListBucketVersions"],
            resources: [bucketArn],
            condition: [{ test: "StringLike", variable: "s3:prefix", values: [key] }],
          },
          // AmazonSSMManagedInstanceCore already allows ssm:GetParameter on every parameter; this
          // statement keeps the servers' needs explicit should that managed policy be narrowed.
          { sid: "FindBucket", effect: "Allow", actions: ["ssm:GetParameter"], resources: [parameterArn] },
        ],
      });
      this.permissions.push(new IamRolePolicy(this, "ReadReleases", { role: role.id, policy: readReleases.json }));
      boundary.allow(releasesBoundary(props.releases));
    }
    const profile = new IamInstanceProfile(this, "InstanceProfile", {
      namePrefix: naming.iamRolePrefix("app"),
      role: role.name,
      tags: naming.tags("app"),
    });
    this.instanceProfileName = profile.name;

    // ---- AMI: resolved at plan time from AWS's public parameter, optionally pinned; or an id ----
    if (props.ami !== "al2023") {
      this.imageId = props.ami;
    } else {
      const parameter = al2023Parameter(props.architecture);
      const latest = new DataAwsSsmParameter(this, "Al2023Ami", { name: parameter });
      if (props.amiPinnedAt === undefined) {
        this.imageId = latest.insecureValue;
      } else {
        // The value read at the first apply is kept in state (later reads are ignored) until the
        // label changes, which replaces this record and reads the parameter again: a new Amazon
        // Linux release rolls the servers only when someone bumps the label on purpose.
        const pin = new TerraformData(this, "AmiPin", {
          input: { ami: latest.insecureValue, parameter: latest.name },
          triggersReplace: { pinnedAt: props.amiPinnedAt },
          lifecycle: {
            // Later reads of the parameter (a new release) are ignored: only a new pinnedAt moves it.
            ignoreChanges: ["input"],
            // Nor is a new architecture (an app.instanceType of the other kind): the kept AMI would
            // be launched on a type it cannot run on, which AWS refuses at every launch, after the
            // plan and the apply passed. The plan fails instead, saying what to run.
            postcondition: [
              {
                condition: `\${self.output.parameter == "${parameter}"}`,
                errorMessage:
                  `The AMI pinned for environments/${naming.environment} is not the ${props.architecture} one its ` +
                  `app.instanceType needs (AWS would refuse to launch it on that type). Run npm run bump-ami -- ` +
                  `${naming.environment} in the same change: it pins the newest Amazon Linux 2023 for ${props.architecture}.`,
              },
            ],
          },
        });
        this.imageId = Fn.lookup(pin.output, "ami");
      }
    }
  }
}

/**
 * The role's policy for the app's database: read its secret (and, on the single server, fill it
 * once), read its settings, and the single server's dumps: put, get and list under their prefix;
 * no delete, so a compromised server cannot destroy its backups (the bucket is versioned too).
 */
function databasePolicy(scope: Construct, roleId: string, access: DatabaseAccess): IamRolePolicy {
  const statements: DataAwsIamPolicyDocumentStatement[] = [
    {
      sid: "ReadDatabaseSecret",
      effect: "Allow",
      actions: ["secretsmanager:GetSecretValue"],
      resources: [access.secretArn],
    },
  ];
  if (access.fillsSecret) {
    statements.push({
      sid: "FillDatabaseSecret",
      effect: "Allow",
      actions: ["secretsmanager:PutSecretValue"],
      resources: [access.secretArn],
    });
  }
  statements.push({
    sid: "ReadDatabaseSettings",
    effect: "Allow",
    actions: ["ssm:GetParameter"],
    resources: [...access.parameterArns],
  });
  if (access.backups) {
    const { bucketArn, prefix } = access.backups;
    statements.push(
      {
        sid: "WriteAndReadDumps",
        effect: "Allow",
        actions: ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
        resources: [`${bucketArn}/${prefix}*`],
      },
      {
        // `db-restore latest` finds the newest dump.
        sid: "ListDumps",
        effect: "Allow",
        actions: ["s3:ListBucket"],
        resources: [bucketArn],
        condition: [{ test: "StringLike", variable: "s3:prefix", values: [`${prefix}*`] }],
      },
    );
  }
  const document = new DataAwsIamPolicyDocument(scope, "DatabasePolicy", { statement: statements });
  return new IamRolePolicy(scope, "Database", { role: roleId, policy: document.json });
}

/**
 * What the attached AmazonSSMManagedInstanceCore (version 2) allows, as far as the boundary lets
 * it: the SSM Agent's own calls, and Session Manager's channels. Its `ssm:GetParameter` and
 * `ssm:GetParameters` on every parameter of the account stop at the environment's own parameters
 * and AWS's public ones: a server of dev reads none of prod's.
 */
function sessionManagerBoundary(naming: Naming): DataAwsIamPolicyDocumentStatement[] {
  return [
    {
      sid: "SsmAgent",
      effect: "Allow",
      actions: [
        "ssm:DescribeAssociation",
        "ssm:GetDeployablePatchSnapshotForInstance",
        "ssm:GetManifest",
        "ssm:ListAssociations",
        "ssm:ListInstanceAssociations",
        "ssm:PutComplianceItems",
        "ssm:PutConfigurePackageResult",
        "ssm:PutInventory",
        "ssm:UpdateAssociationStatus",
        "ssm:UpdateInstanceAssociationStatus",
        "ssm:UpdateInstanceInformation",
      ],
      resources: ["*"],
    },
    {
      // The documents the agent reads to run an association: the environment's own, AWS's (no
      // account in their ARN) and the account's Session Manager preferences, not another
      // environment's. SSM runs an association on whatever servers its targets name, checking no
      // target against its maker's policy: a server that reads only its own documents runs no
      // other environment's (review DI; the deploy roles associate only their own: pipeline-iam.ts).
      sid: "SsmAgentDocuments",
      effect: "Allow",
      actions: ["ssm:DescribeDocument", "ssm:GetDocument"],
      resources: [
        ...SSM_DOCUMENT_PURPOSES.map((purpose) => `arn:aws:ssm:*:*:document/${naming.name(purpose)}`),
        "arn:aws:ssm:*::document/*",
        "arn:aws:ssm:*:*:document/SSM-SessionManagerRunShell",
      ],
    },
    {
      sid: "SsmAgentParameters",
      effect: "Allow",
      actions: ["ssm:GetParameter", "ssm:GetParameters"],
      resources: [`arn:aws:ssm:*:*:parameter${naming.path("*")}`, "arn:aws:ssm:*::parameter/aws/service/*"],
    },
    {
      sid: "SessionManagerChannels",
      effect: "Allow",
      actions: [
        "ec2messages:AcknowledgeMessage",
        "ec2messages:DeleteMessage",
        "ec2messages:FailMessage",
        "ec2messages:GetEndpoint",
        "ec2messages:GetMessages",
        "ec2messages:SendReply",
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
      ],
      resources: ["*"],
    },
  ];
}

// ---- The permissions boundary's share of the role's own policies (src/constructs/role-boundary.ts) ----
// By name, where those name a resource by reference: a reference would make the boundary, and the
// launch template that needs the role, depend on that resource, and Terraform would then replace
// the database, say, create-before-destroy (a second instance of the same identifier, refused).
// The parameters are the environment's own (SsmAgentParameters, above).

/** The releases: read (and list the versions of) the release key of the environment's artifacts buckets. */
function releasesBoundary(source: ReleaseSource): DataAwsIamPolicyDocumentStatement[] {
  return [
    {
      sid: "OwnReleases",
      effect: "Allow",
      actions: ["s3:GetObject", "s3:GetObjectVersion"],
      resources: [`${source.bucketArnPattern}/${source.key}`],
    },
    {
      sid: "OwnReleaseVersions",
      effect: "Allow",
      actions: ["s3:ListBucketVersions"],
      resources: [source.bucketArnPattern],
    },
  ];
}

/** KMS used by Secrets Manager on the caller's behalf, and by nothing else. */
const THROUGH_SECRETS_MANAGER: DataAwsIamPolicyDocumentStatementCondition = {
  test: "StringLike",
  variable: "kms:ViaService",
  values: ["secretsmanager.*.amazonaws.com"],
};

/** The database's secret (read, and fill where the server fills it) and the single server's dumps. */
function databaseBoundary(access: DatabaseAccess): DataAwsIamPolicyDocumentStatement[] {
  const statements: DataAwsIamPolicyDocumentStatement[] = [
    {
      sid: "OwnDatabaseSecret",
      effect: "Allow",
      actions: access.fillsSecret
        ? ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"]
        : ["secretsmanager:GetSecretValue"],
      resources: [access.secretArnPattern],
    },
    {
      // The secret's key is AWS's aws/secretsmanager, whose key policy grants its use through
      // Secrets Manager to the account's principals: whether IAM lets that grant reach a role under
      // a boundary without kms:Decrypt is not certain (not tried against AWS), so the boundary
      // allows the decrypt, through Secrets Manager only (the secret itself is limited above).
      sid: "DecryptThroughSecretsManager",
      effect: "Allow",
      actions: ["kms:Decrypt"],
      resources: ["*"],
      condition: [THROUGH_SECRETS_MANAGER],
    },
  ];
  if (access.fillsSecret) {
    // Writing a secret value, Secrets Manager asks KMS for a new data key on the caller's behalf
    // (AWS's "Permissions for the KMS key": kms:GenerateDataKey and kms:Decrypt): without it under
    // the boundary, a server's first boot could not store its database password, for the reason above.
    statements.push({
      sid: "EncryptThroughSecretsManager",
      effect: "Allow",
      actions: ["kms:GenerateDataKey"],
      resources: ["*"],
      condition: [THROUGH_SECRETS_MANAGER],
    });
  }
  if (access.backups) {
    const { bucketArnPattern, prefix } = access.backups;
    statements.push(
      {
        sid: "OwnDumps",
        effect: "Allow",
        actions: ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
        resources: [`${bucketArnPattern}/${prefix}*`],
      },
      { sid: "OwnDumpList", effect: "Allow", actions: ["s3:ListBucket"], resources: [bucketArnPattern] },
    );
  }
  return statements;
}

/**
 * RDS's secrets are all `rds!db-<id>`: the boundary refuses one RDS tags as another instance's
 * (`aws:rds:primaryDBInstanceArn`; a secret without that tag is left to the role's own policy,
 * which names this instance's by ARN).
 */
function otherDatabasesSecrets(access: DatabaseAccess): DataAwsIamPolicyDocumentStatement {
  const tag = "secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn";
  return {
    sid: "NotOtherDatabasesSecrets",
    effect: "Deny",
    actions: ["secretsmanager:*"],
    resources: [access.secretArnPattern],
    condition: [
      { test: "StringNotLike", variable: tag, values: [access.secretOwner!] },
      { test: "Null", variable: tag, values: ["false"] },
    ],
  };
}

// The IAM policies of the CI pipelines' two roles, generated from the Terraform types the stacks
// use (`npm run iam-policies` writes iam/plan-role-policy.json and iam/deploy-role-policy-<env>.json):
// the plan role reads what a plan refreshes, the deploy role also creates, changes and deletes
// it. A test fails when a stack uses a type this table does not know.

import { Naming, SSM_DOCUMENT_PURPOSES } from "../naming";

/** What Terraform calls to refresh (read) and to create, change and delete (write) one type. */
export interface TypeActions {
  readonly read: readonly string[];
  readonly write: readonly string[];
}

const TAGS_EC2 = ["ec2:CreateTags", "ec2:DeleteTags"];
const EC2_READ = ["ec2:Describe*"];
const s3Bucket = (write: string[]): TypeActions => ({ read: S3_BUCKET_READ, write });
const S3_BUCKET_READ = [
  "s3:ListBucket",
  "s3:GetBucketAcl",
  "s3:GetBucketCORS",
  "s3:GetBucketLocation",
  "s3:GetBucketLogging",
  "s3:GetBucketObjectLockConfiguration",
  "s3:GetBucketOwnershipControls",
  "s3:GetBucketPolicy",
  "s3:GetBucketPolicyStatus",
  "s3:GetBucketPublicAccessBlock",
  "s3:GetBucketRequestPayment",
  "s3:GetBucketTagging",
  "s3:GetBucketVersioning",
  "s3:GetBucketWebsite",
  "s3:GetAccelerateConfiguration",
  "s3:GetEncryptionConfiguration",
  "s3:GetLifecycleConfiguration",
  "s3:GetReplicationConfiguration",
];
const ELB_READ = ["elasticloadbalancing:Describe*"];
const AUTOSCALING_READ = ["autoscaling:Describe*"];
const RDS_READ = [
  "rds:DescribeDBInstances",
  "rds:DescribeDBParameterGroups",
  "rds:DescribeDBParameters",
  "rds:DescribeDBSubnetGroups",
  "rds:ListTagsForResource",
];
const LOGS_READ = ["logs:DescribeLogGroups", "logs:ListTagsForResource", "logs:ListTagsLogGroup"];
/**
 * What a deploy role may never do, though an apply of its stack may call it: write the permissions
 * boundary policy, which caps every role the deploy role can make or change. Its writes need an
 * administrator's credentials (docs/ci-cd.md); a deploy role may still delete it (it cannot make
 * another) and tag it.
 */
export const BOUNDARY_WRITES_FOR_ADMINS = ["iam:CreatePolicy", "iam:CreatePolicyVersion"] as const;

/**
 * The IAM writes that set what a role may do: a deploy role may make them only on a role that
 * carries its environment's permissions boundary (the `iam:PermissionsBoundary` condition), so
 * that whatever policy it writes, the role can do no more than the boundary allows.
 */
export const BOUNDED_ROLE_WRITES = [
  "iam:AttachRolePolicy",
  "iam:CreateRole",
  "iam:PutRolePermissionsBoundary",
  "iam:PutRolePolicy",
] as const;

const IAM_ROLE_READ = [
  "iam:GetRole",
  "iam:GetRolePolicy",
  "iam:ListRolePolicies",
  "iam:ListAttachedRolePolicies",
  "iam:ListInstanceProfilesForRole",
];
const SSM_PARAMETER_READ = [
  "ssm:GetParameter",
  "ssm:GetParameters",
  "ssm:DescribeParameters",
  "ssm:ListTagsForResource",
];
const ROUTE53_READ = [
  "route53:GetHostedZone",
  "route53:ListHostedZones",
  "route53:ListResourceRecordSets",
  "route53:GetChange",
  // the zone data source reads the zone's tags on every refresh
  "route53:ListTagsForResource",
];
const NONE: TypeActions = { read: [], write: [] };

/**
 * Every Terraform resource and data source type the stacks can synthesize, with its actions.
 * Reads are the provider's refresh calls; the deploy role gets reads and writes.
 */
export const TYPE_ACTIONS: Readonly<Record<string, TypeActions>> = {
  // ---- Network ----
  aws_vpc: { read: EC2_READ, write: ["ec2:CreateVpc", "ec2:DeleteVpc", "ec2:ModifyVpcAttribute", ...TAGS_EC2] },
  aws_subnet: {
    read: EC2_READ,
    write: ["ec2:CreateSubnet", "ec2:DeleteSubnet", "ec2:ModifySubnetAttribute", ...TAGS_EC2],
  },
  aws_internet_gateway: {
    read: EC2_READ,
    write: [
      "ec2:CreateInternetGateway",
      "ec2:DeleteInternetGateway",
      "ec2:AttachInternetGateway",
      "ec2:DetachInternetGateway",
      ...TAGS_EC2,
    ],
  },
  aws_nat_gateway: { read: EC2_READ, write: ["ec2:CreateNatGateway", "ec2:DeleteNatGateway", ...TAGS_EC2] },
  aws_eip: {
    read: EC2_READ,
    write: [
      "ec2:AllocateAddress",
      "ec2:ReleaseAddress",
      "ec2:AssociateAddress",
      "ec2:DisassociateAddress",
      ...TAGS_EC2,
    ],
  },
  aws_route_table: { read: EC2_READ, write: ["ec2:CreateRouteTable", "ec2:DeleteRouteTable", ...TAGS_EC2] },
  aws_route: { read: EC2_READ, write: ["ec2:CreateRoute", "ec2:DeleteRoute", "ec2:ReplaceRoute"] },
  aws_vpc_endpoint: {
    read: EC2_READ,
    write: ["ec2:CreateVpcEndpoint", "ec2:ModifyVpcEndpoint", "ec2:DeleteVpcEndpoints", ...TAGS_EC2],
  },
  aws_route_table_association: {
    read: EC2_READ,
    write: ["ec2:AssociateRouteTable", "ec2:DisassociateRouteTable", "ec2:ReplaceRouteTableAssociation"],
  },
  aws_default_security_group: {
    read: EC2_READ,
    write: [
      "ec2:RevokeSecurityGroupIngress",
      "ec2:RevokeSecurityGroupEgress",
      "ec2:AuthorizeSecurityGroupEgress",
      ...TAGS_EC2,
    ],
  },
  aws_security_group: {
    read: EC2_READ,
    write: ["ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup", "ec2:RevokeSecurityGroupEgress", ...TAGS_EC2],
  },
  aws_vpc_security_group_ingress_rule: {
    read: EC2_READ,
    write: [
      "ec2:AuthorizeSecurityGroupIngress",
      "ec2:RevokeSecurityGroupIngress",
      "ec2:ModifySecurityGroupRules",
      "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
      ...TAGS_EC2,
    ],
  },
  aws_vpc_security_group_egress_rule: {
    read: EC2_READ,
    write: [
      "ec2:AuthorizeSecurityGroupEgress",
      "ec2:RevokeSecurityGroupEgress",
      "ec2:ModifySecurityGroupRules",
      "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
      ...TAGS_EC2,
    ],
  },
  aws_flow_log: { read: EC2_READ, write: ["ec2:CreateFlowLogs", "ec2:DeleteFlowLogs", ...TAGS_EC2] },

  // ---- Servers ----
  aws_key_pair: { read: EC2_READ, write: ["ec2:ImportKeyPair", "ec2:DeleteKeyPair", ...TAGS_EC2] },
  aws_instance: {
    read: EC2_READ,
    write: [
      "ec2:RunInstances",
      "ec2:TerminateInstances",
      "ec2:StopInstances",
      "ec2:StartInstances",
      "ec2:ModifyInstanceAttribute",
      "ec2:ModifyInstanceMetadataOptions",
      "ec2:MonitorInstances",
      "ec2:UnmonitorInstances",
      "ec2:CreateVolume",
      // in-place updates of a fixed server: a larger root volume (app.rootVolumeGb), a replaced
      // security group (created first), a replaced instance profile
      "ec2:ModifyVolume",
      "ec2:ModifyNetworkInterfaceAttribute",
      "ec2:AssociateIamInstanceProfile",
      "ec2:ReplaceIamInstanceProfileAssociation",
      "ec2:DisassociateIamInstanceProfile",
      ...TAGS_EC2,
    ],
  },
  aws_launch_template: {
    read: EC2_READ,
    write: [
      "ec2:CreateLaunchTemplate",
      "ec2:CreateLaunchTemplateVersion",
      "ec2:ModifyLaunchTemplate",
      "ec2:DeleteLaunchTemplate",
      "ec2:DeleteLaunchTemplateVersions",
      ...TAGS_EC2,
    ],
  },
  aws_autoscaling_group: {
    read: [...AUTOSCALING_READ, ...EC2_READ],
    write: [
      "autoscaling:CreateAutoScalingGroup",
      "autoscaling:UpdateAutoScalingGroup",
      "autoscaling:DeleteAutoScalingGroup",
      "autoscaling:CreateOrUpdateTags",
      "autoscaling:DeleteTags",
      "autoscaling:EnableMetricsCollection",
      "autoscaling:DisableMetricsCollection",
      "autoscaling:AttachLoadBalancerTargetGroups",
      "autoscaling:DetachLoadBalancerTargetGroups",
      "autoscaling:StartInstanceRefresh",
      "autoscaling:CancelInstanceRefresh",
      "autoscaling:SetInstanceProtection",
      // The group launches servers from the template with the deploy role's permissions.
      "ec2:RunInstances",
      ...TAGS_EC2,
    ],
  },
  aws_autoscaling_lifecycle_hook: {
    read: AUTOSCALING_READ,
    write: ["autoscaling:PutLifecycleHook", "autoscaling:DeleteLifecycleHook"],
  },
  aws_autoscaling_policy: {
    read: AUTOSCALING_READ,
    write: ["autoscaling:PutScalingPolicy", "autoscaling:DeletePolicy"],
  },
  aws_iam_role: {
    read: IAM_ROLE_READ,
    write: [
      "iam:CreateRole",
      "iam:DeleteRole",
      "iam:UpdateRole",
      "iam:UpdateAssumeRolePolicy",
      // a role made before its environment had a boundary gets it in place
      "iam:PutRolePermissionsBoundary",
      "iam:TagRole",
      "iam:UntagRole",
    ],
  },
  // the roles' permissions boundary (src/constructs/role-boundary.ts); of its writes a deploy role
  // may only delete it and tag it: BOUNDARY_WRITES_FOR_ADMINS
  aws_iam_policy: {
    read: ["iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions"],
    write: [
      "iam:CreatePolicy",
      "iam:CreatePolicyVersion",
      "iam:DeletePolicy",
      "iam:DeletePolicyVersion",
      "iam:TagPolicy",
      "iam:UntagPolicy",
    ],
  },
  aws_iam_role_policy: { read: IAM_ROLE_READ, write: ["iam:PutRolePolicy", "iam:DeleteRolePolicy"] },
  aws_iam_role_policy_attachment: { read: IAM_ROLE_READ, write: ["iam:AttachRolePolicy", "iam:DetachRolePolicy"] },
  aws_iam_instance_profile: {
    read: ["iam:GetInstanceProfile"],
    write: [
      "iam:CreateInstanceProfile",
      "iam:DeleteInstanceProfile",
      "iam:AddRoleToInstanceProfile",
      "iam:RemoveRoleFromInstanceProfile",
      "iam:TagInstanceProfile",
      "iam:UntagInstanceProfile",
    ],
  },

  // ---- Load balancer, DNS, certificates ----
  aws_lb: {
    read: ELB_READ,
    write: [
      "elasticloadbalancing:CreateLoadBalancer",
      "elasticloadbalancing:DeleteLoadBalancer",
      "elasticloadbalancing:ModifyLoadBalancerAttributes",
      "elasticloadbalancing:SetSecurityGroups",
      "elasticloadbalancing:SetSubnets",
      "elasticloadbalancing:AddTags",
      "elasticloadbalancing:RemoveTags",
    ],
  },
  aws_lb_target_group: {
    read: ELB_READ,
    write: [
      "elasticloadbalancing:CreateTargetGroup",
      "elasticloadbalancing:DeleteTargetGroup",
      "elasticloadbalancing:ModifyTargetGroup",
      "elasticloadbalancing:ModifyTargetGroupAttributes",
      "elasticloadbalancing:AddTags",
      "elasticloadbalancing:RemoveTags",
    ],
  },
  aws_lb_listener: {
    read: ELB_READ,
    write: [
      "elasticloadbalancing:CreateListener",
      "elasticloadbalancing:DeleteListener",
      "elasticloadbalancing:ModifyListener",
      "elasticloadbalancing:AddTags",
      "elasticloadbalancing:RemoveTags",
    ],
  },
  aws_acm_certificate: {
    read: ["acm:DescribeCertificate", "acm:ListTagsForCertificate"],
    write: [
      "acm:RequestCertificate",
      "acm:DeleteCertificate",
      "acm:AddTagsToCertificate",
      "acm:RemoveTagsFromCertificate",
    ],
  },
  aws_acm_certificate_validation: { read: ["acm:DescribeCertificate"], write: [] },
  aws_route53_record: { read: ROUTE53_READ, write: ["route53:ChangeResourceRecordSets"] },

  // ---- Database ----
  aws_db_instance: {
    read: [...RDS_READ, ...EC2_READ],
    write: [
      "rds:CreateDBInstance",
      "rds:ModifyDBInstance",
      "rds:DeleteDBInstance",
      // a delete with a final snapshot (every environment without prevent_destroy) takes it as the
      // deploy role: DeleteDBInstance needs CreateDBSnapshot for it
      "rds:CreateDBSnapshot",
      "rds:DescribeDBSnapshots",
      "rds:RebootDBInstance",
      "rds:AddTagsToResource",
      "rds:RemoveTagsFromResource",
      // RDS keeps the master password in a secret of its own, encrypted with the AWS managed key.
      "secretsmanager:CreateSecret",
      "secretsmanager:DeleteSecret",
      "secretsmanager:TagResource",
      "secretsmanager:RotateSecret",
      "kms:DescribeKey",
    ],
  },
  // The single server's database password: the secret only, created without a value (the server
  // fills it); the pipelines never read a secret's value.
  aws_secretsmanager_secret: {
    read: ["secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy"],
    write: [
      "secretsmanager:CreateSecret",
      "secretsmanager:UpdateSecret",
      "secretsmanager:DeleteSecret",
      "secretsmanager:TagResource",
      "secretsmanager:UntagResource",
    ],
  },
  aws_db_parameter_group: {
    read: RDS_READ,
    write: [
      "rds:CreateDBParameterGroup",
      "rds:ModifyDBParameterGroup",
      "rds:ResetDBParameterGroup",
      "rds:DeleteDBParameterGroup",
      "rds:AddTagsToResource",
      "rds:RemoveTagsFromResource",
    ],
  },
  aws_cloudwatch_event_rule: {
    read: ["events:DescribeRule", "events:ListTagsForResource", "events:ListTargetsByRule"],
    write: ["events:PutRule", "events:DeleteRule", "events:TagResource", "events:UntagResource"],
  },
  aws_cloudwatch_event_target: {
    read: ["events:ListTargetsByRule"],
    write: ["events:PutTargets", "events:RemoveTargets"],
  },
  aws_db_event_subscription: {
    read: ["rds:DescribeEventSubscriptions", "rds:ListTagsForResource"],
    write: [
      "rds:CreateEventSubscription",
      "rds:ModifyEventSubscription",
      "rds:DeleteEventSubscription",
      "rds:AddSourceIdentifierToSubscription",
      "rds:RemoveSourceIdentifierFromSubscription",
      "rds:AddTagsToResource",
      "rds:RemoveTagsFromResource",
    ],
  },
  aws_db_subnet_group: {
    read: RDS_READ,
    write: [
      "rds:CreateDBSubnetGroup",
      "rds:ModifyDBSubnetGroup",
      "rds:DeleteDBSubnetGroup",
      "rds:AddTagsToResource",
      "rds:RemoveTagsFromResource",
    ],
  },

  // ---- Releases, logs, parameters, deploys ----
  aws_s3_bucket: s3Bucket([
    "s3:CreateBucket",
    "s3:DeleteBucket",
    "s3:PutBucketTagging",
    "s3:ListBucketVersions",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
  ]),
  aws_s3_bucket_versioning: s3Bucket(["s3:PutBucketVersioning"]),
  aws_s3_bucket_server_side_encryption_configuration: s3Bucket(["s3:PutEncryptionConfiguration"]),
  aws_s3_bucket_public_access_block: s3Bucket(["s3:PutBucketPublicAccessBlock"]),
  aws_s3_bucket_ownership_controls: s3Bucket(["s3:PutBucketOwnershipControls"]),
  aws_s3_bucket_policy: s3Bucket(["s3:PutBucketPolicy", "s3:DeleteBucketPolicy"]),
  aws_s3_bucket_lifecycle_configuration: s3Bucket(["s3:PutLifecycleConfiguration"]),
  // The release object: read back on refresh (HeadObject needs s3:GetObject), scoped in the policy.
  aws_s3_object: {
    read: ["s3:GetObject", "s3:GetObjectTagging", "s3:GetObjectVersion"],
    write: ["s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObject", "s3:DeleteObjectVersion"],
  },
  aws_cloudwatch_log_group: {
    read: LOGS_READ,
    write: [
      "logs:CreateLogGroup",
      "logs:DeleteLogGroup",
      "logs:PutRetentionPolicy",
      "logs:DeleteRetentionPolicy",
      "logs:TagResource",
      "logs:UntagResource",
      "logs:TagLogGroup",
    ],
  },
  aws_cloudwatch_log_metric_filter: {
    read: ["logs:DescribeMetricFilters"],
    write: ["logs:PutMetricFilter", "logs:DeleteMetricFilter"],
  },
  aws_ssm_parameter: {
    read: SSM_PARAMETER_READ,
    write: ["ssm:PutParameter", "ssm:DeleteParameter", "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource"],
  },
  aws_ssm_document: {
    read: ["ssm:GetDocument", "ssm:DescribeDocument", "ssm:DescribeDocumentPermission", "ssm:ListTagsForResource"],
    write: [
      "ssm:CreateDocument",
      "ssm:UpdateDocument",
      "ssm:UpdateDocumentDefaultVersion",
      "ssm:DeleteDocument",
      "ssm:AddTagsToResource",
      "ssm:RemoveTagsFromResource",
    ],
  },
  aws_ssm_association: {
    read: ["ssm:DescribeAssociation", "ssm:ListAssociations", "ssm:DescribeAssociationExecutions"],
    write: ["ssm:CreateAssociation", "ssm:UpdateAssociation", "ssm:DeleteAssociation"],
  },

  // ---- Monitoring ----
  aws_sns_topic: {
    read: ["sns:GetTopicAttributes", "sns:ListTagsForResource"],
    write: ["sns:CreateTopic", "sns:DeleteTopic", "sns:SetTopicAttributes", "sns:TagResource", "sns:UntagResource"],
  },
  aws_sns_topic_policy: { read: ["sns:GetTopicAttributes"], write: ["sns:SetTopicAttributes"] },
  aws_sns_topic_subscription: {
    read: ["sns:GetSubscriptionAttributes", "sns:ListSubscriptionsByTopic"],
    write: ["sns:Subscribe", "sns:Unsubscribe", "sns:SetSubscriptionAttributes"],
  },
  aws_kms_key: {
    read: ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags"],
    write: [
      "kms:CreateKey",
      "kms:PutKeyPolicy",
      "kms:EnableKeyRotation",
      "kms:DisableKeyRotation",
      "kms:ScheduleKeyDeletion",
      "kms:TagResource",
      "kms:UntagResource",
      "kms:UpdateKeyDescription",
    ],
  },
  aws_kms_alias: { read: ["kms:ListAliases"], write: ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"] },
  aws_cloudwatch_metric_alarm: {
    read: ["cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"],
    write: [
      "cloudwatch:PutMetricAlarm",
      "cloudwatch:DeleteAlarms",
      "cloudwatch:TagResource",
      "cloudwatch:UntagResource",
    ],
  },
  aws_cloudwatch_dashboard: {
    read: ["cloudwatch:GetDashboard"],
    write: ["cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards"],
  },

  // ---- Terraform's own, and data sources ----
  terraform_data: NONE,
  "data.aws_caller_identity": { read: ["sts:GetCallerIdentity"], write: [] },
  "data.aws_iam_policy_document": NONE, // computed locally
  "data.aws_elb_service_account": NONE, // a table in the provider
  "data.aws_ssm_parameter": { read: SSM_PARAMETER_READ, write: [] },
  "data.aws_route53_zone": { read: ROUTE53_READ, write: [] },
};

/** The services that must be able to create their service-linked roles in a fresh account. */
export const SERVICE_LINKED_ROLES = [
  "autoscaling.amazonaws.com",
  "elasticloadbalancing.amazonaws.com",
  "rds.amazonaws.com",
  // CloudWatch's (AWSServiceRoleForCloudWatchEvents), made by the first alarm with an EC2 action:
  // a single server's recovery on a failed system status check
  "events.amazonaws.com",
] as const;

interface Statement {
  readonly Sid: string;
  readonly Effect: "Allow" | "Deny";
  readonly Action: string[];
  readonly Resource: string | string[];
  readonly Condition?: Record<string, Record<string, string | string[]>>;
}
export interface PolicyDocument {
  readonly Version: "2012-10-17";
  readonly Statement: Statement[];
}

/** What the policies are made for: the types to cover and the names the stacks give things. */
export interface PolicyInputs {
  /** Resource types and `data.<type>` data source types. */
  readonly types: readonly string[];
  /** Project prefixes of the environments (`shop`): IAM and release objects are scoped to them. */
  readonly projects: readonly string[];
  /**
   * The S3 state objects of the environments (`<bucket>/<key>`, each with its `.tflock` lock
   * object beside it): the only objects of their buckets the roles may read, as a shared state
   * bucket may hold the state of other projects, and state holds secrets.
   */
  readonly stateObjects: readonly string[];
  /**
   * The one environment a deploy role is for: its roles, buckets, parameters and state object
   * only (`<project>-<env>-*`, `/<project>/<env>/*`, its state key), so that dev's deploy role,
   * which no reviewer approves, cannot reach prod's. @default - every environment of the projects
   */
  readonly environment?: {
    readonly name: string;
    readonly stateObject?: string;
    /** Some of its buckets are `force_destroy`: deleting one deletes its objects first. */
    readonly emptiesBuckets?: boolean;
    /**
     * Other environments of the project whose names begin with this one's and a hyphen (`dev-eu`
     * beside `dev`): their names match this one's patterns (`shop-dev-*`), so they are denied.
     */
    readonly longerNames?: readonly string[];
    /** Its `domain.name`, the only records it may change (with the names under it). */
    readonly domainName?: string;
    /** Other environments' `domain.name`s under its own (prod's shop.example.net under staging's example.net): denied. */
    readonly nestedDomainNames?: readonly string[];
  };
}

/** The names of what a policy may change: the project's, or one environment's of it. */
function scope(inputs: PolicyInputs) {
  const env = inputs.environment?.name;
  const prefix = (p: string) => (env ? `${p}-${env}-` : `${p}-`);
  const boundary: Record<string, Record<string, string[]>> = env
    ? {
        StringEquals: {
          "iam:PermissionsBoundary": inputs.projects.map((p) => boundaryArn(new Naming(p, env).roleBoundaryName())),
        },
      }
    : { StringLike: { "iam:PermissionsBoundary": inputs.projects.map((p) => boundaryArn(`${p}-*-boundary`)) } };
  return {
    roles: inputs.projects.map((p) => `arn:aws:iam::*:role/${prefix(p)}*`),
    // roles, instance profiles, the boundary policy
    iam: inputs.projects.map((p) => `arn:aws:iam::*:*/${prefix(p)}*`),
    /**
     * A role's permissions boundary is the environment's (`<project>-<env>-boundary`, in the
     * caller's own account: a role's boundary is a policy of its own account). A policy variable,
     * so that the file fits every account. @see BOUNDED_ROLE_WRITES
     */
    boundary,
    buckets: inputs.projects.map((p) => `arn:aws:s3:::${prefix(p)}*`),
    /**
     * The environment's dashboard by its exact name (`<project>-<env>-dashboard`), so that no
     * neighbour's (`<project>-<env>-eu-dashboard`) matches: a dashboard takes no tags, so the
     * OtherEnvironments Deny cannot see whose it is (review DN). Global: no region in the ARN.
     */
    dashboards: inputs.projects.map(
      (p) => `arn:aws:cloudwatch::*:dashboard/${env ? new Naming(p, env).name("dashboard") : `${p}-*-dashboard`}`,
    ),
    artifacts: inputs.projects.map((p) => `arn:aws:s3:::${env ? prefix(p) : `${p}-*-`}artifacts-*`),
    parameters: inputs.projects.map((p) => `arn:aws:ssm:*:*:parameter/${p}/${env ? `${env}/` : ""}*`),
    /** The SSM documents the stacks make (`<project>-<env>-deploy`, `-app-os`), each by its name. */
    documents: inputs.projects.flatMap((p) =>
      SSM_DOCUMENT_PURPOSES.map((purpose) => `arn:aws:ssm:*:*:document/${env ? prefix(p) : `${p}-*-`}${purpose}`),
    ),
  };
}

/**
 * What a deploy role may do only with its own environment's SSM documents (review DI). SSM runs an
 * association's document on whatever instances its targets name, and checks no target against the
 * caller's policy (AWS: "The Targets parameter for each resource in the account isn't checked"),
 * only the document: with these on every document, dev's role could associate AWS-RunShellScript
 * with the servers tagged prod and run a script as root there, under prod's instance role. Its own
 * documents (SSM_DOCUMENT_PURPOSES, by exact name) it may still associate with any target: another
 * environment's servers do not run them, as each server may read only its own environment's
 * documents and AWS's (the permissions boundary's SsmAgentDocuments, src/constructs/app-identity.ts).
 */
export const OWN_DOCUMENT_WRITES = [
  "ssm:CreateAssociation",
  "ssm:CreateDocument",
  "ssm:DeleteDocument",
  "ssm:UpdateAssociation",
  "ssm:UpdateDocument",
  "ssm:UpdateDocumentDefaultVersion",
] as const;

/**
 * CloudWatch's writes of a dashboard, which takes no tags: granted on the environment's own
 * dashboard by its name, not on `*` under the tag's Deny, which cannot see whose a dashboard is
 * (review DN: dev's role could rewrite or delete prod's).
 */
export const DASHBOARD_WRITES = ["cloudwatch:DeleteDashboards", "cloudwatch:PutDashboard"] as const;

/** A boundary policy's ARN in the account of the caller. */
const boundaryArn = (name: string) => `arn:aws:iam::\${aws:PrincipalAccount}:policy/${name}`;

/** The actions of `types`, sorted, or an error naming the types the table does not know. */
function actionsOf(types: readonly string[], kind: keyof TypeActions): string[] {
  const unknown = types.filter((t) => !TYPE_ACTIONS[t]);
  if (unknown.length > 0) {
    throw new Error(
      `pipeline IAM: no actions known for ${unknown.join(", ")}: add them to TYPE_ACTIONS in src/ops/pipeline-iam.ts`,
    );
  }
  return [...new Set(types.flatMap((t) => TYPE_ACTIONS[t][kind]))].sort();
}

/** Splits actions into one statement per service, IAM and S3 objects aside (they are scoped). */
function byService(sidPrefix: string, actions: readonly string[], inputs: PolicyInputs): Statement[] {
  const names = scope(inputs);
  const services = new Map<string, string[]>();
  for (const action of actions) {
    const service = action.split(":")[0];
    services.set(service, [...(services.get(service) ?? []), action]);
  }
  const statements: Statement[] = [];
  for (const [service, list] of [...services].sort(([a], [b]) => a.localeCompare(b))) {
    const sid = `${sidPrefix}${service.replace(/(^|[^a-z0-9])([a-z0-9])/g, (_m, _s, c: string) => c.toUpperCase())}`;
    if (service === "iam") {
      // Roles, instance profiles and the boundary policy by name (`*/<project>-<env>-*`): reads,
      // deletes, tags, trust policies, detaching.
      const bounded = list.filter((a) => (BOUNDED_ROLE_WRITES as readonly string[]).includes(a));
      const rest = list.filter(
        (a) => !bounded.includes(a) && !(BOUNDARY_WRITES_FOR_ADMINS as readonly string[]).includes(a),
      );
      // Its reads of roles and policies by wildcards that name no user, group or server
      // certificate (`*/<prefix>*` matches those too: review DR), which leaves room in the inline
      // policy for what is granted by name (the dashboards)
      statements.push({ Sid: sid, Effect: "Allow", Action: iamReadsAsOne(rest), Resource: names.iam });
      if (bounded.length > 0) {
        statements.push({
          Sid: `${sid}Bounded`,
          Effect: "Allow",
          Action: bounded,
          Resource: names.roles,
          Condition: names.boundary,
        });
      }
    } else if (service === "ssm") {
      // Parameters by name: the project's own (/<project>/...) and AWS's public ones (the AMI ids);
      // not every parameter of the account, which a pull request's code could otherwise read.
      const named = list.filter((a) => /^ssm:(Get|Put|Delete)Parameters?$/.test(a));
      const parameters = [...names.parameters, "arn:aws:ssm:*::parameter/aws/service/*"];
      const documentWrites = list.filter((a) => (OWN_DOCUMENT_WRITES as readonly string[]).includes(a));
      const rest = list.filter((a) => !named.includes(a) && !documentWrites.includes(a));
      if (rest.length > 0) statements.push({ Sid: sid, Effect: "Allow", Action: rest, Resource: "*" });
      if (named.length > 0)
        statements.push({ Sid: `${sid}Parameters`, Effect: "Allow", Action: named, Resource: parameters });
      if (documentWrites.length > 0) {
        statements.push({
          Sid: `${sid}Documents`,
          Effect: "Allow",
          Action: documentWrites,
          // An association is checked against the document it names, never against its targets;
          // the association's own ARN for an update that names no document (the stacks' name their
          // targets, not the deprecated InstanceId, whose instance a call would also be checked on)
          Resource: [...names.documents, "arn:aws:ssm:*:*:association/*"],
        });
      }
    } else if (service === "s3") {
      // object actions act on keys; bucket actions, s3:GetBucketObjectLockConfiguration among them, on the bucket
      const objects = list.filter((a) => /Object/.test(a) && !/Bucket/.test(a));
      // The bucket settings a refresh reads, as wildcards: a dozen actions, each only reading a
      // setting of the project's own buckets (never an object): s3:GetBucket*, and the settings
      // named <setting>Configuration (lifecycle, encryption, replication, acceleration) as
      // s3:Get*Configuration
      const settingReads = list.filter((a) => a.startsWith("s3:GetBucket"));
      const configurationReads = list.filter((a) => /^s3:Get\w*Configuration$/.test(a) && !settingReads.includes(a));
      const buckets = list
        .filter((a) => !objects.includes(a) && !settingReads.includes(a) && !configurationReads.includes(a))
        .concat(settingReads.length > 1 ? ["s3:GetBucket*"] : settingReads)
        .concat(configurationReads.length > 1 ? ["s3:Get*Configuration"] : configurationReads)
        .sort();
      const artifacts = names.artifacts;
      if (buckets.length > 0) {
        statements.push({
          Sid: `${sid}Buckets`,
          Effect: "Allow",
          Action: buckets,
          Resource: names.buckets,
        });
      }
      if (objects.length > 0) {
        statements.push({
          Sid: `${sid}Releases`,
          Effect: "Allow",
          Action: objects,
          // Only the release objects of the artifacts buckets: never the data of other buckets.
          Resource: artifacts.map((a) => `${a}/app/*`),
        });
      }
      // An environment whose buckets are force_destroy (not production) empties them to delete them.
      const emptying = list.filter((a) => a === "s3:DeleteObject" || a === "s3:DeleteObjectVersion");
      if (inputs.environment?.emptiesBuckets && emptying.length > 0) {
        statements.push({
          Sid: `${sid}EmptyBuckets`,
          Effect: "Allow",
          Action: emptying,
          Resource: names.buckets.map((b) => `${b}/*`),
        });
      }
    } else if (service === "cloudwatch") {
      // Alarms carry the Environment tag; dashboards take none, so their writes go by name
      const dashboards = list.filter((a) => (DASHBOARD_WRITES as readonly string[]).includes(a));
      const rest = list.filter((a) => !dashboards.includes(a));
      if (rest.length > 0) statements.push({ Sid: sid, Effect: "Allow", Action: rest, Resource: "*" });
      if (dashboards.length > 0)
        statements.push({ Sid: `${sid}Dashboards`, Effect: "Allow", Action: dashboards, Resource: names.dashboards });
    } else if (service === "route53" && inputs.environment) {
      // Route 53 checks no tag of a hosted zone or record: one environment's role changes the
      // records of its own domain name and the names under it (its certificate's validation
      // records), in any zone; one without a domain changes none (npm run iam-policies after a
      // domain is added, and the role's policy put again).
      const changes: string[] = list.filter((a) => a === "route53:ChangeResourceRecordSets");
      const rest = list.filter((a) => !changes.includes(a));
      if (rest.length > 0) statements.push({ Sid: sid, Effect: "Allow", Action: rest, Resource: "*" });
      const name = inputs.environment.domainName;
      if (changes.length > 0 && name) {
        statements.push({
          Sid: `${sid}Records`,
          Effect: "Allow",
          Action: changes,
          Resource: "arn:aws:route53:::hostedzone/*",
          Condition: {
            "ForAllValues:StringLike": {
              "route53:ChangeResourceRecordSetsNormalizedRecordNames": [name, `*.${name}`],
            },
          },
        });
      }
    } else {
      statements.push({ Sid: sid, Effect: "Allow", Action: list, Resource: "*" });
    }
  }
  return statements;
}

function stateStatements(inputs: PolicyInputs, write: boolean): Statement[] {
  if (inputs.stateObjects.length === 0) return [];
  const buckets = [...new Set(inputs.stateObjects.map((o) => `arn:aws:s3:::${o.split("/")[0]}`))];
  // one environment's deploy role: its own state object and lock; otherwise each environment's
  const own = inputs.environment?.stateObject;
  const objects = (own ? [own] : inputs.stateObjects).map((o) => `arn:aws:s3:::${o}`);
  return [
    { Sid: "StateList", Effect: "Allow", Action: ["s3:ListBucket"], Resource: buckets },
    {
      Sid: "StateRead",
      Effect: "Allow",
      Action: write ? ["s3:GetObject", "s3:PutObject"] : ["s3:GetObject"],
      Resource: objects,
    },
    // S3-native locking: a lock object beside the state, written, read back and removed by the
    // deploy's plan and apply (Terraform reads the lock before it deletes it: without GetObject the
    // unlock fails, 403, and the lock stays for every later run). The plan role's plans read the
    // state without it (npm run plan --no-lock, drift): code from a pull request can neither hold
    // nor remove a lock a deploy relies on.
    ...(write
      ? [
          {
            Sid: "StateLock",
            Effect: "Allow" as const,
            Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            Resource: objects.map((o) => `${o}.tflock`),
          },
        ]
      : []),
    {
      Sid: "StateKey",
      Effect: "Allow",
      Action: write ? ["kms:Decrypt", "kms:GenerateDataKey"] : ["kms:Decrypt"],
      Resource: "*",
      Condition: { StringLike: { "kms:ViaService": "s3.*.amazonaws.com" } },
    },
  ];
}

/**
 * A service's `Describe` actions as `<service>:Describe*`, and its `List` actions as
 * `<service>:List*`, where the list holds two or more of them, as EC2_READ does: what each reads is
 * the resources' settings and names, and the room they took (over 500 characters) is what the
 * OtherEnvironments Deny needs. Not `Get*` (ssm:GetParameter, secretsmanager:GetSecretValue and
 * kms:GetKeyPolicy read data), nor SSM's or CloudWatch Logs' `List*` (ssm:ListCommandInvocations
 * reads commands' output, logs:ListAnomalies samples of log events: review AV).
 */
const LISTS_THAT_READ_DATA = ["logs", "ssm"];
function metadataReadsAsOne(actions: readonly string[]): string[] {
  /** The wildcard an action may be grouped under (`rds:Describe*`), or undefined. */
  const groupOf = (action: string) => {
    const match = /^([a-z0-9-]+):(Describe|List)[A-Z]/.exec(action);
    if (!match || (match[2] === "List" && LISTS_THAT_READ_DATA.includes(match[1]))) return undefined;
    return `${match[1]}:${match[2]}*`;
  };
  const groups = actions.map(groupOf);
  const count = new Map<string, number>();
  for (const group of groups) if (group) count.set(group, (count.get(group) ?? 0) + 1);
  return [...new Set(actions.map((action, i) => ((count.get(groups[i] ?? "") ?? 0) > 1 ? groups[i]! : action)))];
}

/**
 * IAM's reads of roles and policies, each as the wildcard of its kind, where two or more share it:
 * `iam:GetRole*` (GetRole, GetRolePolicy), `iam:GetPolicy*` (GetPolicy, GetPolicyVersion),
 * `iam:List*Role*` (the lists of a role's policies, tags and profiles). None names an action on a
 * user, a group or a server certificate, whose names the statement's resource (any kind of IAM
 * name with the prefix) would also match (a test checks them against IAM's reads of those).
 */
export const IAM_READ_WILDCARDS = ["iam:GetRole*", "iam:GetPolicy*", "iam:List*Role*"] as const;
function iamReadsAsOne(actions: readonly string[]): string[] {
  const groupOf = (action: string) =>
    IAM_READ_WILDCARDS.find((w) => new RegExp(`^${w.replaceAll("*", "[A-Za-z]*")}$`).test(action));
  const count = new Map<string, number>();
  for (const action of actions) {
    const group = groupOf(action);
    if (group) count.set(group, (count.get(group) ?? 0) + 1);
  }
  return [...new Set(actions.map((a) => ((count.get(groupOf(a) ?? "") ?? 0) > 1 ? groupOf(a)! : a)))].sort();
}

/**
 * The statements that allow actions on every resource with no condition, as one (named `sid`),
 * first: one statement per service repeated the same frame 15 times, and IAM counts every
 * character of a role's inline policies against its 10,240 (INLINE_POLICY_LIMIT).
 */
function unscopedAsOne(sid: string, statements: readonly Statement[]): Statement[] {
  const unscoped = (s: Statement) => s.Effect === "Allow" && s.Resource === "*" && s.Condition === undefined;
  const actions = metadataReadsAsOne([...new Set(statements.filter(unscoped).flatMap((s) => s.Action))]).sort();
  const rest = statements.filter((s) => !unscoped(s));
  return actions.length > 0 ? [{ Sid: sid, Effect: "Allow", Action: actions, Resource: "*" }, ...rest] : rest;
}

/** The read-only plan role's policy: pull requests, drift, the review before a deploy. */
export function planRolePolicy(inputs: PolicyInputs): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      ...unscopedAsOne("Read", byService("Read", actionsOf(inputs.types, "read"), inputs)),
      ...stateStatements(inputs, false),
    ],
  };
}

/**
 * What IAM allows a role's inline policies in all (characters, white space not counted; IAM
 * quotas): `aws iam put-role-policy` refuses more.
 */
export const INLINE_POLICY_LIMIT = 10_240;

/** A policy's size as IAM counts it against INLINE_POLICY_LIMIT: its JSON without white space. */
export function policySize(policy: PolicyDocument): number {
  return JSON.stringify(policy).length;
}

/** What IAM allows one customer managed policy (characters, white space not counted; IAM quotas). */
export const MANAGED_POLICY_LIMIT = 6_144;

/** The managed policies IAM attaches to a role unless the account's quota was raised. */
export const ATTACHED_POLICIES_LIMIT = 10;

/** A role's policy as IAM can hold it: its inline policy, and managed policies to attach to it. */
export interface RolePolicies {
  readonly inline: PolicyDocument;
  readonly managed: readonly PolicyDocument[];
}

/**
 * `policy` as IAM can hold it on one role: whole, as the role's inline policy, where it fits (IAM
 * counts all of a role's inline policies against 10,240 characters); otherwise every Deny stays in
 * the inline policy with as many of the Allows as fit there, in their order, and the other Allows go
 * to managed policies of at most 6,144 characters each (a statement too long for one is cut into
 * statements of fewer actions). Never a Deny in a managed policy: a role given its inline policy
 * but not a managed one would then be allowed what the Deny was for (another environment's
 * resources); without an Allow it only fails (review CK: a neighbour's Denies and S3 state took
 * prod's policy past the inline limit, and the one file could not be put at all).
 */
export function asRolePolicies(policy: PolicyDocument): RolePolicies {
  if (policySize(policy) <= INLINE_POLICY_LIMIT) return { inline: policy, managed: [] };
  const document = (statements: Statement[]): PolicyDocument => ({ Version: policy.Version, Statement: statements });
  const inline = new Set(policy.Statement.filter((s) => s.Effect === "Deny"));
  if (policySize(document([...inline])) > INLINE_POLICY_LIMIT) {
    throw new PolicyTooLarge(
      `its Deny statements alone are ${policySize(document([...inline]))} characters, more than a role's ` +
        `inline policies may hold (${INLINE_POLICY_LIMIT})`,
    );
  }
  const inOrder = () => policy.Statement.filter((s) => inline.has(s));
  const rest: Statement[] = [];
  for (const statement of policy.Statement.filter((s) => s.Effect === "Allow")) {
    inline.add(statement);
    if (policySize(document(inOrder())) > INLINE_POLICY_LIMIT) {
      inline.delete(statement);
      rest.push(statement);
    }
  }
  // first fit, each statement (or its parts) in the first managed policy with room for it
  const managed: Statement[][] = [];
  for (const part of rest.flatMap((statement) => partsWithin(statement, MANAGED_POLICY_LIMIT, document))) {
    const home = managed.find((statements) => policySize(document([...statements, part])) <= MANAGED_POLICY_LIMIT);
    if (home) home.push(part);
    else managed.push([part]);
  }
  if (managed.length > ATTACHED_POLICIES_LIMIT) {
    throw new PolicyTooLarge(
      `it needs ${managed.length} managed policies besides its inline one, and IAM attaches ${ATTACHED_POLICIES_LIMIT} to a role`,
    );
  }
  return { inline: document(inOrder()), managed: managed.map(document) };
}

/** `statement` whole when a policy of it alone fits `limit`, else cut by its actions into statements that do. */
function partsWithin(
  statement: Statement,
  limit: number,
  document: (statements: Statement[]) => PolicyDocument,
): Statement[] {
  const parts: Statement[] = [];
  let actions: string[] = [];
  const part = (list: string[]): Statement => ({
    ...statement,
    Sid: `${statement.Sid}${parts.length + 1}`,
    Action: list,
  });
  if (policySize(document([statement])) <= limit) return [statement];
  for (const action of statement.Action) {
    if (actions.length > 0 && policySize(document([part([...actions, action])])) > limit) {
      parts.push(part(actions));
      actions = [];
    }
    actions.push(action);
  }
  if (policySize(document([part(actions)])) > limit) {
    throw new PolicyTooLarge(`its statement ${statement.Sid} does not fit a managed policy even with one action`);
  }
  return [...parts, part(actions)];
}

/** A role's policy that IAM cannot hold however it is split (the message says why). */
export class PolicyTooLarge extends Error {}

/**
 * What may change or delete an existing resource, where AWS checks the resource's tags
 * (`aws:ResourceTag`). The Manage statement grants these on `*`: one account may hold several
 * environments, and dev's deploy role, which no reviewer approves, must not turn off prod's
 * database's deletion protection and delete it, schedule its keys' deletion, take its network
 * offline or stop its servers; nor take a tag off first (tagging is a change like any other here),
 * after which the Deny, which sees the tag, would no longer apply. Every action of the Manage
 * statement but a read falls under one of these or is in UNTAGGED_WRITES (a test checks).
 */
const CHANGES_OF_EXISTING = [
  // services whose resources here are all the environment's own (AWS's own are untagged)
  "acm:*",
  "autoscaling:*",
  "cloudwatch:*",
  "elasticloadbalancing:*",
  "events:*",
  "logs:*",
  "rds:*",
  "secretsmanager:*",
  "sns:*",
  "ssm:*",
  // not every EC2 or KMS action: an AMI or a key shared between environments may carry a tag,
  // and is used (ec2:RunInstances, kms:Decrypt, kms:CreateGrant) by resources of any of them
  // (ec2:Create*: a launch template's new version, a snapshot of a volume, tags on a resource)
  "ec2:*SecurityGroup*",
  "ec2:Associate*",
  "ec2:Attach*",
  "ec2:Create*",
  "ec2:Delete*",
  "ec2:Detach*",
  "ec2:Disassociate*",
  "ec2:Modify*",
  "ec2:MonitorInstances",
  // (Re*: release, replace, reboot, reset, revoke; St*: start, stop; no read begins so)
  "ec2:Re*",
  "ec2:St*",
  "ec2:Terminate*",
  "ec2:UnmonitorInstances",
  "kms:*Alias",
  "kms:*KeyRotation",
  "kms:PutKeyPolicy",
  "kms:ScheduleKeyDeletion",
  "kms:TagResource",
  "kms:UntagResource",
  "kms:UpdateKeyDescription",
];

/**
 * The Manage statement's writes that no tag of an existing resource can deny, and why each is safe:
 * they make a new resource (which has no tags yet to check), or, for ec2:RunInstances, the subnet
 * and security groups it launches into are checked by their own Deny (OtherEnvironmentsNetwork).
 */
export const UNTAGGED_WRITES = ["ec2:AllocateAddress", "ec2:ImportKeyPair", "ec2:RunInstances", "kms:CreateKey"];

/**
 * One environment's deploy role may not change what another environment's tag names
 * (`Environment`, which every resource of the stacks carries): a resource without the tag is left
 * to the Allow statements, as is a new one (it has no tags yet to check). Nor may it launch a
 * server into another environment's subnet or security group: a server there reaches that
 * environment's database.
 */
function otherEnvironmentsTagged(inputs: PolicyInputs): Statement[] {
  if (!inputs.environment) return [];
  const condition = {
    StringNotEquals: { "aws:ResourceTag/Environment": inputs.environment.name },
    Null: { "aws:ResourceTag/Environment": "false" },
  };
  return [
    { Sid: "OtherEnvironments", Effect: "Deny", Action: CHANGES_OF_EXISTING, Resource: "*", Condition: condition },
    {
      Sid: "OtherEnvironmentsNetwork",
      Effect: "Deny",
      Action: ["ec2:RunInstances"],
      Resource: ["arn:aws:ec2:*:*:subnet/*", "arn:aws:ec2:*:*:security-group/*"],
      Condition: condition,
    },
  ];
}

/** What `shop-dev-*` would also match: the roles, profiles and buckets of `dev-eu`, say. */
function longerNamesStatements(inputs: PolicyInputs): Statement[] {
  const others = inputs.environment?.longerNames ?? [];
  if (others.length === 0) return [];
  return [
    {
      Sid: "NotOtherEnvironments",
      Effect: "Deny",
      Action: ["*"],
      Resource: others.flatMap((other) => {
        // the names that environment's own deploy role is given
        // (a `*` in a resource matches across `/`: `shop-dev-eu-*` is also every object of its
        // buckets, and `*/shop-dev-eu-*` every IAM name of it, roles and instance profiles among them)
        const theirs = scope({ ...inputs, environment: { name: other } });
        return [...theirs.iam, ...theirs.buckets];
      }),
    },
  ];
}

/**
 * The records of other environments whose domain names lie under this one's (an environment at a
 * zone's apex beside one at a name in it): `*.<name>` would reach them.
 */
function otherEnvironmentsRecords(inputs: PolicyInputs): Statement[] {
  const nested = inputs.environment?.nestedDomainNames ?? [];
  if (nested.length === 0) return [];
  return [
    {
      Sid: "OtherEnvironmentsRecords",
      Effect: "Deny",
      Action: ["route53:ChangeResourceRecordSets"],
      Resource: "*",
      Condition: {
        "ForAnyValue:StringLike": {
          "route53:ChangeResourceRecordSetsNormalizedRecordNames": nested.flatMap((name) => [name, `*.${name}`]),
        },
      },
    },
  ];
}

/** A deploy role's policy: what the plan role reads, and create, change and delete of the same types. */
export function deployRolePolicy(inputs: PolicyInputs): PolicyDocument {
  const actions = [...new Set([...actionsOf(inputs.types, "read"), ...actionsOf(inputs.types, "write")])].sort();
  return {
    Version: "2012-10-17",
    Statement: [
      ...unscopedAsOne("Manage", byService("Manage", actions, inputs)),
      {
        // Servers get their instance profile's role; flow logs get theirs.
        Sid: "PassOwnRoles",
        Effect: "Allow",
        Action: ["iam:PassRole"],
        Resource: scope(inputs).roles,
        Condition: { StringEquals: { "iam:PassedToService": ["ec2.amazonaws.com", "vpc-flow-logs.amazonaws.com"] } },
      },
      {
        // A fresh account has none of these yet; the first group, load balancer or database makes them.
        Sid: "CreateServiceLinkedRoles",
        Effect: "Allow",
        Action: ["iam:CreateServiceLinkedRole"],
        Resource: "arn:aws:iam::*:role/aws-service-role/*",
        Condition: { StringEquals: { "iam:AWSServiceName": [...SERVICE_LINKED_ROLES] } },
      },
      ...stateStatements(inputs, true),
      ...longerNamesStatements(inputs),
      ...otherEnvironmentsTagged(inputs),
      ...otherEnvironmentsRecords(inputs),
    ],
  };
}

/** The `type` and `data.<type>` names a synthesized stack uses. */
export function typesOf(document: { resource?: Record<string, unknown>; data?: Record<string, unknown> }): string[] {
  return [...Object.keys(document.resource ?? {}), ...Object.keys(document.data ?? {}).map((t) => `data.${t}`)];
}

/**
 * The Terraform types the code can synthesize: every provider binding imported under `srcDir`
 * (`@cdktf/provider-aws/lib/<module>`), data sources as `data.<type>`, and `terraform_data`.
 */
export function importedTypes(srcDir: string): string[] {
  // Read lazily: only `npm run iam-policies` and its test need the file system and the bindings.
  const fs = require("node:fs") as typeof import("node:fs");
  const path = require("node:path") as typeof import("node:path");
  const modules = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".ts")) {
        for (const m of fs.readFileSync(full, "utf8").matchAll(/["']@cdktf\/provider-aws\/lib\/([a-z0-9-]+)["']/g)) {
          modules.add(m[1]);
        }
      }
    }
  };
  walk(srcDir);
  const types = new Set<string>(["terraform_data"]);
  for (const module of modules) {
    for (const [name, value] of Object.entries<any>(require(`@cdktf/provider-aws/lib/${module}`))) {
      if (typeof value?.tfResourceType !== "string" || module === "provider") continue;
      types.add(name.startsWith("DataAws") ? `data.${value.tfResourceType}` : value.tfResourceType);
    }
  }
  return [...types].sort();
}

import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { DataAwsIamPolicyDocument } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { FlowLog } from "@cdktf/provider-aws/lib/flow-log";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { Construct } from "constructs";
import type { Naming } from "../naming";
import type { RoleBoundary } from "./role-boundary";

export interface FlowLogsProps {
  /** Builds physical names. */
  readonly naming: Naming;
  /** The VPC whose traffic is logged. */
  readonly vpcId: string;
  /** Days CloudWatch keeps the records (one of CloudWatch's allowed periods). */
  readonly retentionDays: number;
  /** The environment's permissions boundary: the role carries it, and its policy joins it. */
  readonly boundary: RoleBoundary;
  /**
   * Which traffic to record.
   * @default "ALL"
   */
  readonly trafficType?: "ACCEPT" | "REJECT" | "ALL";
}

/**
 * VPC flow logs into a CloudWatch log group with bounded retention, written by a role that only
 * VPC Flow Logs of this account can assume and that can write only to that group.
 *
 * @example
 * new FlowLogs(this, "FlowLogs", { naming, vpcId: vpc.id, retentionDays: 90 });
 */
export class FlowLogs extends Construct {
  /** Name of the log group that receives the records. */
  public readonly logGroupName: string;

  constructor(scope: Construct, id: string, props: FlowLogsProps) {
    super(scope, id);
    const trafficType = props.trafficType ?? "ALL";

    const groupName = `/vpc/${props.naming.name("flow-logs")}`;
    const group = new CloudwatchLogGroup(this, "LogGroup", {
      name: groupName,
      retentionInDays: props.retentionDays,
    });
    this.logGroupName = group.name;

    // ---- Role: assumable only by VPC Flow Logs acting for this account (confused-deputy guard) ----
    const account = new DataAwsCallerIdentity(this, "Account");
    const trust = new DataAwsIamPolicyDocument(this, "TrustPolicy", {
      statement: [
        {
          effect: "Allow",
          actions: ["sts:AssumeRole"],
          principals: [{ type: "Service", identifiers: ["vpc-flow-logs.amazonaws.com"] }],
          // AWS's documented guard: the account, and a flow log of it (any region: the role is global)
          condition: [
            { test: "StringEquals", variable: "aws:SourceAccount", values: [account.accountId] },
            {
              test: "ArnLike",
              variable: "aws:SourceArn",
              values: [`arn:aws:ec2:*:${account.accountId}:vpc-flow-log/*`],
            },
          ],
        },
      ],
    });
    const role = new IamRole(this, "Role", {
      namePrefix: props.naming.iamRolePrefix("flow-logs"),
      assumeRolePolicy: trust.json,
      permissionsBoundary: props.boundary.arn,
      tags: props.naming.tags("flow-logs"),
    });
    const write = new DataAwsIamPolicyDocument(this, "WritePolicy", {
      statement: [
        {
          effect: "Allow",
          actions: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
          resources: [`${group.arn}:*`],
        },
        {
          // in AWS's documented policy for flow logs: the service looks its log group up (metadata, no events)
          effect: "Allow",
          actions: ["logs:DescribeLogGroups"],
          resources: [`arn:aws:logs:*:${account.accountId}:log-group:*`],
        },
      ],
    });
    const writeLogs = new IamRolePolicy(this, "WriteLogs", { role: role.id, policy: write.json });
    // the same, by name (RoleBoundary takes no reference)
    props.boundary.allow([
      {
        sid: "FlowLogsWrite",
        effect: "Allow",
        actions: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        resources: [`arn:aws:logs:*:*:log-group:${groupName}:*`],
      },
      {
        sid: "FlowLogsFindGroups",
        effect: "Allow",
        actions: ["logs:DescribeLogGroups"],
        resources: ["arn:aws:logs:*:*:log-group:*"],
      },
    ]);

    new FlowLog(this, "FlowLog", {
      vpcId: props.vpcId,
      trafficType,
      logDestinationType: "cloud-watch-logs",
      logDestination: group.arn,
      iamRoleArn: role.arn,
      // One-minute aggregation: records arrive fast enough to investigate an incident.
      maxAggregationInterval: 60,
      tags: props.naming.tags("flow-logs"),
      // the role may write before the first records are delivered (nothing else orders them: review DO)
      dependsOn: [writeLogs],
    });
  }
}

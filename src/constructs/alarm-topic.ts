import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { DataAwsIamPolicyDocument } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { KmsAlias } from "@cdktf/provider-aws/lib/kms-alias";
import { KmsKey } from "@cdktf/provider-aws/lib/kms-key";
import { SnsTopic } from "@cdktf/provider-aws/lib/sns-topic";
import { SnsTopicPolicy } from "@cdktf/provider-aws/lib/sns-topic-policy";
import { SnsTopicSubscription } from "@cdktf/provider-aws/lib/sns-topic-subscription";
import { Construct } from "constructs";
import type { Naming } from "../naming";

export interface AlarmTopicProps {
  /** Builds the topic's name, `<project>-<env>-alarms`, and the alarm-name pattern allowed to publish. */
  readonly naming: Naming;
  /** The region of the topic and of the alarms that publish to it. */
  readonly region: string;
  /** Email addresses subscribed to every alarm; each must confirm through the link AWS sends. */
  readonly emails: readonly string[];
  /**
   * Days KMS waits before deleting the topic's key once it is scheduled for deletion.
   * @default 30
   */
  readonly keyDeletionWindowDays?: number;
  /**
   * RDS publishes the database's events (failover, failure, low storage) here too: RDS's event
   * service may then publish, and use the key, for this account.
   * @default false
   */
  readonly databaseEvents?: boolean;
  /**
   * EventBridge rules of this environment (`<project>-<env>-*`) send events here too: EventBridge
   * may then publish, and use the key, for those rules only.
   * @default false
   */
  readonly eventRules?: boolean;
  /**
   * Environments of the project whose names begin with this one's and a hyphen (`prod-eu` beside
   * `prod`): their alarms and rules (`shop-prod-eu-*`) match this one's patterns (`shop-prod-*`),
   * and are excluded from publishing here and from using the key.
   * @default - none
   */
  readonly neighbours?: readonly string[];
}

/**
 * The environment's alarm topic: an SNS topic encrypted with its own customer-managed KMS key
 * (rotated yearly), to which only this environment's CloudWatch alarms (by `aws:SourceAccount`
 * and an `aws:SourceArn` pattern on their names) may publish, and to which each email address is
 * subscribed.
 *
 * Why a key of its own: CloudWatch calls KMS itself when it publishes to an encrypted topic, and
 * the AWS-managed `alias/aws/sns` key's policy cannot grant it that, so alarms on such a topic
 * fire and notify nobody. This key's policy lets `cloudwatch.amazonaws.com` use it for this topic
 * only (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html, "compatibility with
 * AWS services"; https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger).
 *
 * @example
 * const topic = new AlarmTopic(this, "AlarmTopic", { naming, region: "ap-northeast-2", emails: ["oncall@example.com"] });
 * new CloudwatchMetricAlarm(this, "Alarm", { ..., alarmActions: [topic.topicArn], okActions: [topic.topicArn] });
 */
export class AlarmTopic extends Construct {
  public readonly topicArn: string;
  /** The literal topic name, `<project>-<env>-alarms`. */
  public readonly topicName: string;
  public readonly keyArn: string;
  /** The topic's policy: what publishes to the topic (an RDS event subscription) waits for it. */
  public readonly policy: SnsTopicPolicy;

  constructor(scope: Construct, id: string, props: AlarmTopicProps) {
    super(scope, id);
    const { naming, region } = props;
    const keyDeletionWindowDays = props.keyDeletionWindowDays ?? 30;
    this.topicName = naming.name("alarms");

    // The topic ARN and the alarms' ARN pattern are built from names rather than read from the
    // topic, because the key's policy must exist before the topic that is encrypted with it.
    const account = new DataAwsCallerIdentity(this, "Account");
    const topicArn = `arn:aws:sns:${region}:${account.accountId}:${this.topicName}`;
    // the alarms and rules of an environment of the project, by their names' prefix
    const alarmArnsOf = (environment: string) =>
      `arn:aws:cloudwatch:${region}:${account.accountId}:alarm:${naming.project}-${environment}-*`;
    const ruleArnsOf = (environment: string) =>
      `arn:aws:events:${region}:${account.accountId}:rule/${naming.project}-${environment}-*`;
    // its database instances (`<project>-<env>-db`), the source of the RDS events it is sent
    const dbArnsOf = (environment: string) =>
      `arn:aws:rds:${region}:${account.accountId}:db:${naming.project}-${environment}-*`;
    const alarmArns = alarmArnsOf(naming.environment);
    const ruleArns = ruleArnsOf(naming.environment);
    // ...and not those of a neighbour, whose names the patterns above also match
    const neighbours = props.neighbours ?? [];
    const notNeighbours = (arnsOf: (environment: string) => string) =>
      neighbours.length > 0 ? [{ test: "ArnNotLike", variable: "aws:SourceArn", values: neighbours.map(arnsOf) }] : [];
    const notNeighbourAlarms = notNeighbours(alarmArnsOf);
    const notNeighbourRules = notNeighbours(ruleArnsOf);
    // The services other than CloudWatch that publish here: each may publish (for this
    // environment's rules, or this account) and encrypt for this topic only.
    const publishers = [
      ...(props.eventRules
        ? [
            {
              name: "EventRules",
              service: "events.amazonaws.com",
              conditions: [{ test: "ArnLike", variable: "aws:SourceArn", values: [ruleArns] }, ...notNeighbourRules],
            },
          ]
        : []),
      ...(props.databaseEvents
        ? [
            {
              name: "RdsEvents",
              service: "events.rds.amazonaws.com",
              // this environment's database only, as the RDS guide's example topic policy limits it:
              // not any event subscription of the account (another environment's would page here)
              conditions: [
                { test: "StringEquals", variable: "aws:SourceAccount", values: [account.accountId] },
                { test: "ArnLike", variable: "aws:SourceArn", values: [dbArnsOf(naming.environment)] },
                ...notNeighbours(dbArnsOf),
              ],
            },
          ]
        : []),
    ];

    // ---- Key: the account administers it; CloudWatch may only encrypt for this topic ----
    const keyPolicy = new DataAwsIamPolicyDocument(this, "KeyPolicy", {
      statement: [
        {
          // The default key policy: without it no IAM principal of the account could manage the key.
          sid: "AccountAdministersKey",
          effect: "Allow",
          principals: [{ type: "AWS", identifiers: [`arn:aws:iam::${account.accountId}:root`] }],
          actions: ["kms:*"],
          resources: ["*"],
        },
        {
          sid: "CloudWatchAlarmsEncryptForTopic",
          effect: "Allow",
          principals: [{ type: "Service", identifiers: ["cloudwatch.amazonaws.com"] }],
          actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
          resources: ["*"],
          condition: [
            { test: "ArnLike", variable: "aws:SourceArn", values: [alarmArns] },
            ...notNeighbourAlarms,
            { test: "StringEquals", variable: "kms:EncryptionContext:aws:sns:topicArn", values: [topicArn] },
          ],
        },
        ...publishers.map(({ name, service }) => ({
          sid: `${name}EncryptForTopic`,
          effect: "Allow",
          principals: [{ type: "Service", identifiers: [service] }],
          actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
          resources: ["*"],
          condition: [{ test: "StringEquals", variable: "kms:EncryptionContext:aws:sns:topicArn", values: [topicArn] }],
        })),
      ],
    });
    const key = new KmsKey(this, "Key", {
      description: `Encrypts the alarm notifications of ${naming.project}-${naming.environment}`,
      enableKeyRotation: true,
      deletionWindowInDays: keyDeletionWindowDays,
      policy: keyPolicy.json,
      tags: naming.tags("alarms"),
    });
    this.keyArn = key.arn;
    new KmsAlias(this, "KeyAlias", { name: `alias/${this.topicName}`, targetKeyId: key.keyId });

    // ---- Topic: only this environment's alarms publish ----
    const topic = new SnsTopic(this, "Topic", {
      name: this.topicName,
      displayName: `${naming.project} ${naming.environment} alarms`,
      kmsMasterKeyId: key.arn,
      tags: naming.tags("alarms"),
    });
    this.topicArn = topic.arn;
    const topicPolicy = new DataAwsIamPolicyDocument(this, "TopicPolicy", {
      statement: [
        {
          sid: "CloudWatchAlarmsPublish",
          effect: "Allow",
          principals: [{ type: "Service", identifiers: ["cloudwatch.amazonaws.com"] }],
          actions: ["sns:Publish"],
          resources: [topic.arn],
          condition: [
            { test: "StringEquals", variable: "aws:SourceAccount", values: [account.accountId] },
            { test: "ArnLike", variable: "aws:SourceArn", values: [alarmArns] },
            ...notNeighbourAlarms,
          ],
        },
        ...publishers.map(({ name, service, conditions }) => ({
          sid: `${name}Publish`,
          effect: "Allow",
          principals: [{ type: "Service", identifiers: [service] }],
          actions: ["sns:Publish"],
          resources: [topic.arn],
          condition: conditions,
        })),
      ],
    });
    this.policy = new SnsTopicPolicy(this, "Policy", { arn: topic.arn, policy: topicPolicy.json });

    // ---- Subscribers: keyed by address, so adding or removing one leaves the others alone ----
    for (const email of props.emails) {
      // An email subscription stays "pending confirmation" until its owner follows AWS's link;
      // Terraform cannot delete one that was never confirmed (SNS deletes it after 48 hours).
      new SnsTopicSubscription(this, `Email-${email}`, { topicArn: topic.arn, protocol: "email", endpoint: email });
    }
  }
}

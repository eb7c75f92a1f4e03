import { KmsKey } from "@cdktf/provider-aws/lib/kms-key";
import { Testing } from "cdktf";
import { AlarmTopic, type AlarmTopicProps } from "../../src/constructs/alarm-topic";
import type { EnvironmentConfig } from "../../src/config/load";
import { Naming, neighboursOf } from "../../src/naming";
import { Synthesized } from "../helpers";

function topic(overrides: Partial<AlarmTopicProps> = {}): Synthesized {
  return new Synthesized(
    Testing.synthScope((scope) => {
      new AlarmTopic(scope, "AlarmTopic", {
        naming: new Naming("shop", "prod"),
        region: "ap-northeast-2",
        emails: ["oncall@example.com", "platform@example.com"],
        ...overrides,
      });
    }),
  );
}

const ACCOUNT = /^\$\{data\.aws_caller_identity\.[A-Za-z0-9_]+\.account_id\}$/;
const account = (json: Synthesized) =>
  `\${data.aws_caller_identity.${json.dataSources("aws_caller_identity")[0].name}.account_id}`;
/** A policy document's statements by sid. */
function statements(json: Synthesized, ref: string): Record<string, any> {
  return Object.fromEntries(json.referenced(ref).values.statement.map((s: any) => [s.sid, s]));
}

describe("AlarmTopic", () => {
  const json = topic();
  const [sns] = json.resources("aws_sns_topic");
  const topicRef = `\${aws_sns_topic.${sns.name}.arn}`;

  test("the topic is named after the environment and encrypted with a key of its own, not alias/aws/sns", () => {
    expect(sns.values.name).toBe("shop-prod-alarms");
    const key = json.referenced(sns.values.kms_master_key_id);
    expect(key.type).toBe("aws_kms_key");
    expect(json.json).not.toContain("alias/aws/sns");
  });

  test("the key rotates yearly and waits 30 days before deletion; its alias names the topic", () => {
    expect(json.json).toHaveResourceWithProperties(KmsKey, { enable_key_rotation: true, deletion_window_in_days: 30 });
    const [alias] = json.resources("aws_kms_alias");
    expect(alias.values.name).toBe("alias/shop-prod-alarms");
    expect(json.referenced(alias.values.target_key_id).type).toBe("aws_kms_key");
  });

  test("the key policy keeps the account in charge, and lets CloudWatch encrypt only for this topic's alarms", () => {
    const [key] = json.resources("aws_kms_key");
    const policy = statements(json, key.values.policy);
    expect(Object.keys(policy).sort()).toEqual(["AccountAdministersKey", "CloudWatchAlarmsEncryptForTopic"]);
    expect(policy.AccountAdministersKey).toMatchObject({
      effect: "Allow",
      actions: ["kms:*"],
      principals: [{ type: "AWS", identifiers: [`arn:aws:iam::${account(json)}:root`] }],
    });
    const cloudwatch = policy.CloudWatchAlarmsEncryptForTopic;
    expect(cloudwatch).toMatchObject({
      effect: "Allow",
      actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
      principals: [{ type: "Service", identifiers: ["cloudwatch.amazonaws.com"] }],
    });
    expect(cloudwatch.condition).toEqual([
      {
        test: "ArnLike",
        variable: "aws:SourceArn",
        values: [`arn:aws:cloudwatch:ap-northeast-2:${account(json)}:alarm:shop-prod-*`],
      },
      {
        test: "StringEquals",
        variable: "kms:EncryptionContext:aws:sns:topicArn",
        values: [`arn:aws:sns:ap-northeast-2:${account(json)}:${sns.values.name}`],
      },
    ]);
    expect(account(json)).toMatch(ACCOUNT);
  });

  test("only this account's alarms of this environment may publish to the topic", () => {
    const [attached] = json.resources("aws_sns_topic_policy");
    expect(attached.values.arn).toBe(topicRef);
    const policy = statements(json, attached.values.policy);
    expect(Object.keys(policy)).toEqual(["CloudWatchAlarmsPublish"]);
    expect(policy.CloudWatchAlarmsPublish).toEqual({
      sid: "CloudWatchAlarmsPublish",
      effect: "Allow",
      principals: [{ type: "Service", identifiers: ["cloudwatch.amazonaws.com"] }],
      actions: ["sns:Publish"],
      resources: [topicRef],
      condition: [
        { test: "StringEquals", variable: "aws:SourceAccount", values: [account(json)] },
        {
          test: "ArnLike",
          variable: "aws:SourceArn",
          values: [`arn:aws:cloudwatch:ap-northeast-2:${account(json)}:alarm:shop-prod-*`],
        },
      ],
    });
  });

  test("with the database's events, RDS may publish (this environment's database's, in this account) and encrypt for this topic only; without, it may not", () => {
    const withEvents = topic({ databaseEvents: true });
    const [attached] = withEvents.resources("aws_sns_topic_policy");
    const [ownTopic] = withEvents.resources("aws_sns_topic");
    const publish = statements(withEvents, attached.values.policy);
    expect(Object.keys(publish)).toEqual(["CloudWatchAlarmsPublish", "RdsEventsPublish"]);
    expect(publish.RdsEventsPublish).toEqual({
      sid: "RdsEventsPublish",
      effect: "Allow",
      principals: [{ type: "Service", identifiers: ["events.rds.amazonaws.com"] }],
      actions: ["sns:Publish"],
      resources: [`\${aws_sns_topic.${ownTopic.name}.arn}`],
      // not any RDS event subscription of the account: another environment's would page here
      condition: [
        { test: "StringEquals", variable: "aws:SourceAccount", values: [account(withEvents)] },
        {
          test: "ArnLike",
          variable: "aws:SourceArn",
          values: [`arn:aws:rds:ap-northeast-2:${account(withEvents)}:db:shop-prod-*`],
        },
      ],
    });
    const [key] = withEvents.resources("aws_kms_key");
    const keyPolicy = statements(withEvents, key.values.policy);
    expect(keyPolicy.RdsEventsEncryptForTopic).toMatchObject({
      principals: [{ type: "Service", identifiers: ["events.rds.amazonaws.com"] }],
      actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
      condition: [
        {
          test: "StringEquals",
          variable: "kms:EncryptionContext:aws:sns:topicArn",
          values: [`arn:aws:sns:ap-northeast-2:${account(withEvents)}:shop-prod-alarms`],
        },
      ],
    });
    // the default topic grants RDS nothing
    expect(JSON.stringify(json.doc)).not.toContain("events.rds.amazonaws.com");
  });

  test("with the environment's event rules, EventBridge may publish for those rules only, and encrypt for this topic only", () => {
    const withRules = topic({ eventRules: true });
    const [attached] = withRules.resources("aws_sns_topic_policy");
    const publish = statements(withRules, attached.values.policy);
    expect(publish.EventRulesPublish).toMatchObject({
      principals: [{ type: "Service", identifiers: ["events.amazonaws.com"] }],
      actions: ["sns:Publish"],
      condition: [
        {
          test: "ArnLike",
          variable: "aws:SourceArn",
          values: [`arn:aws:events:ap-northeast-2:${account(withRules)}:rule/shop-prod-*`],
        },
      ],
    });
    const [key] = withRules.resources("aws_kms_key");
    expect(statements(withRules, key.values.policy).EventRulesEncryptForTopic).toMatchObject({
      principals: [{ type: "Service", identifiers: ["events.amazonaws.com"] }],
      actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
    });
    expect(JSON.stringify(json.doc)).not.toContain("events.amazonaws.com");
  });

  test("a neighbour named like this environment and a hyphen (prod-eu beside prod), whose names its patterns match, may neither publish nor use the key", () => {
    const besideEu = topic({ neighbours: ["prod-eu"], eventRules: true, databaseEvents: true });
    const id = account(besideEu);
    const notEu = (arn: string) => ({ test: "ArnNotLike", variable: "aws:SourceArn", values: [arn] });
    const [attached] = besideEu.resources("aws_sns_topic_policy");
    const publish = statements(besideEu, attached.values.policy);
    expect(publish.CloudWatchAlarmsPublish.condition).toContainEqual(
      notEu(`arn:aws:cloudwatch:ap-northeast-2:${id}:alarm:shop-prod-eu-*`),
    );
    expect(publish.EventRulesPublish.condition).toContainEqual(
      notEu(`arn:aws:events:ap-northeast-2:${id}:rule/shop-prod-eu-*`),
    );
    expect(publish.RdsEventsPublish.condition).toContainEqual(
      notEu(`arn:aws:rds:ap-northeast-2:${id}:db:shop-prod-eu-*`),
    );
    const [key] = besideEu.resources("aws_kms_key");
    expect(statements(besideEu, key.values.policy).CloudWatchAlarmsEncryptForTopic.condition).toContainEqual(
      notEu(`arn:aws:cloudwatch:ap-northeast-2:${id}:alarm:shop-prod-eu-*`),
    );
    // without one, no exclusion
    expect(JSON.stringify(json.doc)).not.toContain("ArnNotLike");
  });

  test("the app finds each environment's neighbours among the project's: prod-eu is prod's, not its own, nor another project's", () => {
    const env = (project: string, name: string) => ({ project, name }) as EnvironmentConfig;
    const all = [env("shop", "prod"), env("shop", "prod-eu"), env("shop", "production"), env("blog", "prod-us")];
    expect(all.map((e) => [e.name, neighboursOf(e, all)])).toEqual([
      ["prod", ["prod-eu"]],
      ["prod-eu", []],
      ["production", []],
      ["prod-us", []],
    ]);
  });

  test("each address is an email subscription of this topic, and only those", () => {
    const subscriptions = json.resources("aws_sns_topic_subscription").map((s) => s.values);
    expect(subscriptions.map((s) => s.endpoint).sort()).toEqual(["oncall@example.com", "platform@example.com"]);
    for (const s of subscriptions) expect(s).toMatchObject({ protocol: "email", topic_arn: topicRef });
  });

  test("subscriptions are keyed by address: removing one leaves the others' Terraform addresses alone", () => {
    const addressOf = (j: Synthesized, email: string) =>
      j.resources("aws_sns_topic_subscription").find((s) => s.values.endpoint === email)!.name;
    const fewer = topic({ emails: ["platform@example.com"] });
    expect(addressOf(fewer, "platform@example.com")).toBe(addressOf(json, "platform@example.com"));
  });

  test("no addresses: the topic exists (alarms still show on the dashboard) with no subscription", () => {
    const none = topic({ emails: [] });
    expect(none.countOf("aws_sns_topic")).toBe(1);
    expect(none.countOf("aws_sns_topic_subscription")).toBe(0);
  });
});

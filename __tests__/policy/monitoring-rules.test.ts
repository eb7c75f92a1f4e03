import { alarmsNotify, topicsEncryptedWithCustomerKey } from "../../src/policy/rules";
import type { StackDocument } from "../../src/policy/types";

// The monitoring guardrails on the smallest JSON that shows each passing and failing.
const TOPIC = "${aws_sns_topic.AlarmTopic_AD6681D3.arn}";
const alarm = (values: Record<string, unknown>): StackDocument => ({
  resource: { aws_cloudwatch_metric_alarm: { a: { alarm_actions: [TOPIC], ok_actions: [TOPIC], ...values } } },
});
const topic = (values: Record<string, unknown>): StackDocument => ({ resource: { aws_sns_topic: { t: values } } });

describe("alarmsNotify: every alarm tells someone when it fires and when it recovers", () => {
  test.each([
    ["notifies the topic", alarm({}), "compliant"],
    [
      "notifies a topic by literal ARN",
      alarm({ ok_actions: ["arn:aws:sns:ap-northeast-2:123456789012:t"] }),
      "compliant",
    ],
    [
      "only recovers the instance",
      alarm({ alarm_actions: ["arn:aws:automate:ap-northeast-2:ec2:recover"] }),
      "non-compliant",
    ],
    ["says nothing on recovery", alarm({ ok_actions: undefined }), "non-compliant"],
    ["no alarms at all", { resource: {} }, "not-applicable"],
  ])("an alarm that %s -> %s", (_case, doc, status) => {
    expect(alarmsNotify(doc).status).toBe(status);
  });

  test("a finding names the alarm and what is missing", () => {
    expect(alarmsNotify(alarm({ alarm_actions: [], ok_actions: [] }))).toEqual({
      status: "non-compliant",
      findings: [
        "aws_cloudwatch_metric_alarm.a notifies nobody when it fires",
        "aws_cloudwatch_metric_alarm.a notifies nobody when it recovers",
      ],
    });
  });
});

describe("topicsEncryptedWithCustomerKey: topics are encrypted with a key CloudWatch can be granted", () => {
  test.each([
    ["a key of its own", topic({ kms_master_key_id: "${aws_kms_key.AlarmTopic_Key_0C813E5B.arn}" }), "compliant"],
    ["the AWS-managed SNS key", topic({ kms_master_key_id: "alias/aws/sns" }), "non-compliant"],
    ["no encryption", topic({ name: "plain" }), "non-compliant"],
    ["no topics at all", { resource: {} }, "not-applicable"],
  ])("a topic with %s -> %s", (_case, doc, status) => {
    expect(topicsEncryptedWithCustomerKey(doc).status).toBe(status);
  });
});

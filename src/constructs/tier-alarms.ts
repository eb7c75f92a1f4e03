import {
  CloudwatchMetricAlarm,
  type CloudwatchMetricAlarmMetricQuery,
} from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import { Construct } from "constructs";
import type { Naming } from "../naming";

/** What every tier's alarms share: where they notify, and how long they look before firing. */
export interface TierAlarmsProps {
  /** Builds the alarms' names, `<project>-<env>-<what>`. */
  readonly naming: Naming;
  /** SNS topic notified when an alarm fires and again when it recovers. */
  readonly topicArn: string;
  /** Periods each alarm evaluates. */
  readonly evaluationPeriods: number;
  /** How many of those periods must breach for the alarm to fire. */
  readonly datapointsToAlarm: number;
}

/** One metric of one resource, as an alarm reads it. */
export interface AlarmMetric {
  readonly namespace: string;
  readonly metricName: string;
  /** Dimensions that pin the metric to this environment's resource. */
  readonly dimensions: Readonly<Record<string, string>>;
  /** `Average`, `Maximum`, `Minimum`, `Sum`, or a percentile such as `p99`. */
  readonly statistic: string;
  /** Seconds per datapoint. */
  readonly period: number;
}

/** A metric-math alarm: the queries, exactly one of which has `returnData: true`. */
export interface AlarmQuery {
  readonly query: CloudwatchMetricAlarmMetricQuery[];
}

export interface AlarmSpec {
  /** The end of the alarm's name, `<project>-<env>-<what>`. */
  readonly what: string;
  /** What the alarm means and what to look at first (at most 1024 characters). */
  readonly description: string;
  readonly comparison: "GreaterThanThreshold" | "GreaterThanOrEqualToThreshold" | "LessThanThreshold";
  readonly threshold: number;
  /** How periods without data count. */
  readonly treatMissingData: "missing" | "notBreaching" | "breaching" | "ignore";
  readonly metric: AlarmMetric | AlarmQuery;
  /** Actions besides the notification when the alarm fires (EC2 recover). @default - none */
  readonly extraAlarmActions?: readonly string[];
  /**
   * M of N for this alarm alone, where it must fire within a fixed time whatever the environment's
   * thresholds say. @default - the environment's `evaluationPeriods` and `datapointsToAlarm`
   */
  readonly evaluation?: { readonly periods: number; readonly datapoints: number };
}

/** CloudWatch's limit on an alarm description. */
const MAX_DESCRIPTION = 1024;

/**
 * The base of each tier's alarm construct: every alarm it adds is named `<project>-<env>-<what>`,
 * notifies the topic on ALARM and on OK, and evaluates the configured M of N periods.
 * Percentile statistics go to `extended_statistic` and ignore periods with too few samples to
 * make a percentile meaningful (the alarm keeps its state instead of flapping on one slow request):
 * such an alarm is judged only in periods of 10 / (1 - p) samples or more, so a metric with less
 * traffic wants metric math instead (the load balancer's latency alarms).
 */
export abstract class TierAlarms extends Construct {
  /** ARNs of the alarms, in the order they were added (the dashboard shows their state). */
  public readonly alarmArns: string[] = [];

  protected constructor(
    scope: Construct,
    id: string,
    private readonly common: TierAlarmsProps,
  ) {
    super(scope, id);
  }

  /** Adds one alarm; `id` is its construct id (stable: renaming it replaces the alarm). */
  protected alarm(id: string, spec: AlarmSpec): CloudwatchMetricAlarm {
    const { naming, topicArn } = this.common;
    const name = naming.name(spec.what);
    if (spec.description.length > MAX_DESCRIPTION) {
      throw new Error(
        `${this.node.id}: the description of ${name} is ${spec.description.length} characters; CloudWatch allows at most ${MAX_DESCRIPTION}`,
      );
    }
    const single = "query" in spec.metric ? undefined : spec.metric;
    const percentile = single !== undefined && /^p\d+(\.\d+)?$/.test(single.statistic);
    const alarm = new CloudwatchMetricAlarm(this, id, {
      alarmName: name,
      alarmDescription: spec.description,
      comparisonOperator: spec.comparison,
      threshold: spec.threshold,
      evaluationPeriods: spec.evaluation?.periods ?? this.common.evaluationPeriods,
      datapointsToAlarm: spec.evaluation?.datapoints ?? this.common.datapointsToAlarm,
      treatMissingData: spec.treatMissingData,
      alarmActions: [...(spec.extraAlarmActions ?? []), topicArn],
      okActions: [topicArn],
      ...(single
        ? {
            namespace: single.namespace,
            metricName: single.metricName,
            dimensions: { ...single.dimensions },
            period: single.period,
            statistic: percentile ? undefined : single.statistic,
            extendedStatistic: percentile ? single.statistic : undefined,
            evaluateLowSampleCountPercentiles: percentile ? "ignore" : undefined,
          }
        : { metricQuery: (spec.metric as AlarmQuery).query }),
      tags: naming.tags(spec.what),
    });
    this.alarmArns.push(alarm.arn);
    return alarm;
  }

  /**
   * `latency-p95` and `latency-p99`: `latency` (a response time in seconds, read by percentile) over
   * the thresholds, judged by metric math in every minute of `minRequests` or more `requests`, 0 in
   * a quieter one. As a plain percentile alarm, CloudWatch judged a minute only with 10 / (1 - p)
   * samples in it (200 for p95, 1,000 for p99) and otherwise kept the alarm as it was ("ignore"):
   * staging's never left INSUFFICIENT_DATA, and a slow app, answering fewer requests, fell below it
   * as it slowed. `describe` says what the alarm reads and where to look, after its first words.
   */
  protected latencyAlarms(props: {
    readonly thresholdsMs: { readonly p95: number; readonly p99: number };
    readonly minRequests: number;
    readonly latency: (percentile: "p95" | "p99") => CloudwatchMetricAlarmMetricQuery;
    readonly requests: CloudwatchMetricAlarmMetricQuery;
    readonly label: string;
    readonly describe: (percentile: "p95" | "p99") => string;
  }): void {
    for (const percentile of ["p95", "p99"] as const) {
      const ms = props.thresholdsMs[percentile];
      this.alarm(`Latency${percentile.toUpperCase()}`, {
        what: `latency-${percentile}`,
        description:
          `The slowest ${percentile === "p95" ? "5%" : "1%"} of requests take longer than ${ms} ms ` +
          props.describe(percentile),
        comparison: "GreaterThanThreshold",
        threshold: ms / 1000, // both response times are in seconds
        treatMissingData: "notBreaching",
        metric: {
          query: [
            props.latency(percentile),
            props.requests,
            {
              id: "judged",
              expression: `IF(FILL(requests, 0) >= ${props.minRequests}, FILL(latency, 0), 0)`,
              label: `${props.label} ${percentile}, s (0 below ${props.minRequests} requests a minute)`,
              returnData: true,
            },
          ],
        },
      });
    }
  }
}

/**
 * Whole minutes that outlast `graceSeconds` (a new server's agent starting; its health-check grace
 * period) plus `marginMinutes`. An alarm that must not fire on a normal launch looks at least this
 * long, every minute breaching.
 */
export function minutesPast(graceSeconds: number, marginMinutes: number): number {
  return Math.ceil(graceSeconds / 60) + marginMinutes;
}

/**
 * One metric an alarm's metric math reads, by the minute, not itself the alarm's value (`id` names
 * it in the expression): `stat` of `metricName` in `namespace`, for `dimensions`.
 */
export function minuteMetric(
  id: string,
  namespace: string,
  metricName: string,
  stat: string,
  dimensions?: Record<string, string>,
): CloudwatchMetricAlarmMetricQuery {
  return { id, returnData: false, metric: { namespace, metricName, dimensions, stat, period: 60 } };
}

/** EC2 sends a datapoint a minute with detailed monitoring, otherwise one every five minutes. */
export function ec2Period(detailedMonitoring: boolean): number {
  return detailedMonitoring ? 60 : 300;
}

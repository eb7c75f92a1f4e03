import { CloudwatchLogMetricFilter } from "@cdktf/provider-aws/lib/cloudwatch-log-metric-filter";
import type { Construct } from "constructs";
import type { Naming } from "../naming";
import { ACCESS_LOG_FIELDS } from "../userdata/nginx-conf";
import { minuteMetric, TierAlarms, type TierAlarmsProps } from "./tier-alarms";

export { ACCESS_LOG_FIELDS };

export interface AccessLogAlarmsProps extends TierAlarmsProps {
  /**
   * The log group the server's nginx access log is shipped to (the resource's name, so that the
   * filters are created after it).
   */
  readonly accessLogGroupName: string;
  /** Alarm above this percentage of requests answered 5xx (by the app, or by nginx for it). */
  readonly errorPercent: number;
  /** Alarm when the slowest 5% of requests take longer than this (the log's response time). */
  readonly latencyP95Ms: number;
  /** Alarm when the slowest 1% of requests take longer than this. */
  readonly latencyP99Ms: number;
  /**
   * Requests a minute below which the error rate and the response times count as 0: one failed or
   * slow request out of two is not an incident worth a page.
   * @default 10
   */
  readonly minRequestsPerMinute?: number;
}

/** The namespace of the access log's metrics: the environment's own, beside AWS's namespaces. */
export function accessLogNamespace(naming: Naming): string {
  return `${naming.project}/${naming.environment}/nginx`;
}

/** The access log's metrics: every request, every 5xx, and each request's response time (s). */
export const ACCESS_LOG_METRICS = { requests: "Requests", errors: "Errors5xx", responseTime: "ResponseTime" } as const;

/**
 * A space-delimited filter pattern over the access log up to the status, `status` restricted by
 * `statusRule` if given; with `upTo: "latency"`, up to the response time, which must be a number
 * (a server still on the log format before that field writes `rt=...` there: no value taken).
 */
export function accessLogPattern(statusRule = "", upTo: "status" | "latency" = "status"): string {
  const rules: Record<string, string> = { status: statusRule, latency: ">=0" };
  const fields = ACCESS_LOG_FIELDS.slice(0, ACCESS_LOG_FIELDS.indexOf(upTo) + 1).map((f) => f + (rules[f] ?? ""));
  return `[${[...fields, "..."].join(", ")}]`;
}

/**
 * The error rate and response times of a server clients reach directly (single-server,
 * app-db-split), which no load balancer measures: three metric filters on its nginx access log in
 * CloudWatch Logs, every request, every 5xx (the app's own, and nginx's 502/504 when no process
 * answered) and each request's response time; an alarm on the 5xx share, as `target-5xx-rate` is
 * for a fleet, and on the response time's p95 and p99, as `latency-p95`/`-p99` read
 * TargetResponseTime for a fleet. The health probe's requests are not logged.
 *
 * @example
 * new AccessLogAlarms(this, "AccessLogAlarms", { naming, topicArn, evaluationPeriods: 3, datapointsToAlarm: 2,
 *   accessLogGroupName: logs.accessLogGroupName, errorPercent: 5, latencyP95Ms: 1000, latencyP99Ms: 3000 });
 */
export class AccessLogAlarms extends TierAlarms {
  constructor(scope: Construct, id: string, props: AccessLogAlarmsProps) {
    super(scope, id, props);
    const { naming } = props;
    const minRequests = props.minRequestsPerMinute ?? 10;
    const namespace = accessLogNamespace(naming);
    const filter = (filterId: string, metricName: string, pattern: string, value = "1", unit = "Count") =>
      new CloudwatchLogMetricFilter(this, filterId, {
        name: naming.name(`nginx-${metricName.toLowerCase()}`),
        logGroupName: props.accessLogGroupName,
        pattern,
        metricTransformation: { name: metricName, namespace, value, unit },
      });
    filter("Requests", ACCESS_LOG_METRICS.requests, accessLogPattern());
    filter("Errors", ACCESS_LOG_METRICS.errors, accessLogPattern(">=500"));
    // one value per request, from which CloudWatch takes the percentiles
    filter("ResponseTime", ACCESS_LOG_METRICS.responseTime, accessLogPattern("", "latency"), "$latency", "Seconds");
    const sum = (queryId: string, metricName: string) => minuteMetric(queryId, namespace, metricName, "Sum");

    this.alarm("Server5xxRate", {
      what: "app-5xx-rate",
      description:
        `More than ${props.errorPercent}% of requests got a 5xx (from the app, or nginx's 502/504 when no app ` +
        `process answered), from the server's nginx access log. Look first at: the app log group in CloudWatch Logs ` +
        `(or /var/log/app/<port>.log through Session Manager: the processes write there, not to the journal), a ` +
        `deploy or config change just before the alarm, and ` +
        `the database (its alarms, or the server's own engine).`,
      comparison: "GreaterThanThreshold",
      threshold: props.errorPercent,
      treatMissingData: "notBreaching",
      metric: {
        query: [
          sum("errors", ACCESS_LOG_METRICS.errors),
          sum("requests", ACCESS_LOG_METRICS.requests),
          {
            id: "rate",
            expression: `IF(FILL(requests, 0) >= ${minRequests}, 100 * FILL(errors, 0) / requests, 0)`,
            label: "5xx, % of requests",
            returnData: true,
          },
        ],
      },
    });

    // As a fleet's latency alarms: metric math, 0 in a minute of fewer than minRequests requests.
    this.latencyAlarms({
      thresholdsMs: { p95: props.latencyP95Ms, p99: props.latencyP99Ms },
      minRequests,
      latency: (percentile) => minuteMetric("latency", namespace, ACCESS_LOG_METRICS.responseTime, percentile),
      requests: sum("requests", ACCESS_LOG_METRICS.requests),
      label: "response time",
      describe: (percentile) =>
        `(${percentile} of the response time in the server's nginx access log: how long the app process took to ` +
        `start answering). Look first at: the server's CPU and memory and the database on the dashboard, then slow ` +
        `requests in the access log (the field after the byte count, and rt= and urt=) and the app log group.`,
    });
  }
}

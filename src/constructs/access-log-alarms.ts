import { CloudwatchLogMetricFilter } from "@cdktf/provider-aws/lib/cloudwatch-log-metric-filter";
import type { Construct } from "constructs";
import type { Naming } from "../naming";
import { minuteMetric, TierAlarms, type TierAlarmsProps } from "./tier-alarms";

export interface AccessLogAlarmsProps extends TierAlarmsProps {
  /**
   * The log group the server's nginx access log is shipped to (the resource's name, so that the
   * filters are created after it).
   */
  readonly accessLogGroupName: string;
  /** Alarm above this percentage of requests answered 5xx (by the app, or by nginx for it). */
  readonly errorPercent: number;
  /**
   * Requests a minute below which the error rate counts as 0: one failed request out of two is
   * not an incident worth a page.
   * @default 10
   */
  readonly minRequestsPerMinute?: number;
}

/**
 * The nginx access log's fields up to the status, as the server's `log_format upstream` writes
 * them (src/userdata/nginx-conf.ts): `$remote_addr [$time_iso8601] "$request" $status ...`. A
 * bracketed or quoted field is one field; what follows the status varies in number (nginx lists
 * every upstream it tried), hence the `...`.
 */
export const ACCESS_LOG_FIELDS = ["addr", "time", "request", "status"] as const;

/** The namespace of the access log's metrics: the environment's own, beside AWS's namespaces. */
export function accessLogNamespace(naming: Naming): string {
  return `${naming.project}/${naming.environment}/nginx`;
}

/** The access log's metrics: every request, and every 5xx. */
export const ACCESS_LOG_METRICS = { requests: "Requests", errors: "Errors5xx" } as const;

/** A space-delimited filter pattern over the access log, `status` restricted by `statusRule` if given. */
export function accessLogPattern(statusRule = ""): string {
  return `[${[...ACCESS_LOG_FIELDS.slice(0, -1), `status${statusRule}`, "..."].join(", ")}]`;
}

/**
 * The error rate of a server clients reach directly (single-server, app-db-split), which no load
 * balancer counts: two metric filters on its nginx access log in CloudWatch Logs, every request
 * and every 5xx (the app's own, and nginx's 502/504 when no process answered), and an alarm on
 * their ratio, as `target-5xx-rate` is for a fleet. The health probe's requests are not logged.
 *
 * @example
 * new AccessLogAlarms(this, "AccessLogAlarms", { naming, topicArn, evaluationPeriods: 3, datapointsToAlarm: 2,
 *   accessLogGroupName: logs.accessLogGroupName, errorPercent: 5 });
 */
export class AccessLogAlarms extends TierAlarms {
  constructor(scope: Construct, id: string, props: AccessLogAlarmsProps) {
    super(scope, id, props);
    const { naming } = props;
    const minRequests = props.minRequestsPerMinute ?? 10;
    const namespace = accessLogNamespace(naming);
    const filter = (filterId: string, metricName: string, statusRule?: string) =>
      new CloudwatchLogMetricFilter(this, filterId, {
        name: naming.name(`nginx-${metricName.toLowerCase()}`),
        logGroupName: props.accessLogGroupName,
        pattern: accessLogPattern(statusRule),
        metricTransformation: { name: metricName, namespace, value: "1", unit: "Count" },
      });
    filter("Requests", ACCESS_LOG_METRICS.requests);
    filter("Errors", ACCESS_LOG_METRICS.errors, ">=500");
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
  }
}

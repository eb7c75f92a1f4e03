import type { Construct } from "constructs";
import { TierAlarms, type TierAlarmsProps } from "./tier-alarms";

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

export interface DatabaseAlarmsProps extends TierAlarmsProps {
  /** The RDS instance identifier, the `DBInstanceIdentifier` dimension. */
  readonly dbInstanceIdentifier: string;
  /** Alarm when average CPU stays above this percentage. */
  readonly cpuPercent: number;
  /** Alarm when free storage falls below this many GiB. */
  readonly freeStorageGb: number;
  /** Alarm when freeable memory falls below this many MiB. */
  readonly freeableMemoryMb: number;
  /** Alarm when open connections exceed this number. */
  readonly maxConnections: number;
  /**
   * The engine's default `max_connections` on the instance's class, as estimated from the class's
   * memory (config/db-memory.ts), which the connections alarm's text measures its threshold
   * against. @default unknown: the text then asks for `SHOW max_connections` instead
   */
  readonly defaultMaxConnections?: number;
  /** The instance has Performance Insights, which the alarms' texts then point to. @default false */
  readonly performanceInsights?: boolean;
}

/**
 * The database tier's alarms on the RDS instance: CPU, free storage, freeable memory and
 * connections (RDS sends each every minute). Each notifies the topic when it fires and clears.
 *
 * @example
 * new DatabaseAlarms(this, "DatabaseAlarms", { naming, topicArn, evaluationPeriods: 3, datapointsToAlarm: 2,
 *   dbInstanceIdentifier: db.instanceIdentifier, cpuPercent: 75, freeStorageGb: 20, freeableMemoryMb: 819, maxConnections: 720 });
 */
export class DatabaseAlarms extends TierAlarms {
  constructor(scope: Construct, id: string, props: DatabaseAlarmsProps) {
    super(scope, id, props);
    const dimensions = { DBInstanceIdentifier: props.dbInstanceIdentifier };
    const insights = (then: string) => (props.performanceInsights ? `Performance Insights ${then}` : "");
    const rds = (metricName: string, statistic: string) => ({
      namespace: "AWS/RDS",
      metricName,
      dimensions,
      statistic,
      period: 60,
    });

    this.alarm("Cpu", {
      what: "db-cpu",
      description:
        `The database stays above ${props.cpuPercent}% CPU. Look first at: ${insights("or ")}the slow-query ` +
        `log (a missing index, a new query from the last deploy), then connections; scale the instance class only ` +
        `once the queries are known.`,
      comparison: "GreaterThanThreshold",
      threshold: props.cpuPercent,
      treatMissingData: "missing",
      metric: rds("CPUUtilization", "Average"),
    });
    this.alarm("FreeStorage", {
      what: "db-free-storage",
      description:
        `The database has less than ${props.freeStorageGb} GiB of free storage, and storage autoscaling, which grows ` +
        `it up to database.maxAllocatedStorageGb once 10% is left for 5 minutes, has not. Look first at: whether it ` +
        `is already at that ceiling (raise it), whether it grew in the last 6 hours (autoscaling waits that long ` +
        `between changes), which tables or logs grew, and old data a job should have deleted. A full disk stops ` +
        `all writes.`,
      comparison: "LessThanThreshold",
      threshold: Math.round(props.freeStorageGb * GIB),
      treatMissingData: "missing",
      metric: rds("FreeStorageSpace", "Minimum"),
    });
    this.alarm("FreeableMemory", {
      what: "db-freeable-memory",
      description:
        `The database has less than ${props.freeableMemoryMb} MiB of freeable memory: it will swap and slow down. ` +
        `Look first at: the connection count (each connection costs memory), memory-hungry queries (sorts, hash ` +
        `joins) in ${props.performanceInsights ? "Performance Insights" : "the slow-query log"}, and then a larger instance class.`,
      comparison: "LessThanThreshold",
      threshold: props.freeableMemoryMb * MIB,
      treatMissingData: "missing",
      metric: rds("FreeableMemory", "Minimum"),
    });
    this.alarm("Connections", {
      what: "db-connections",
      description:
        `The database has more than ${props.maxConnections} open connections${againstMaxConnections(props)}: past ` +
        `max_connections new ones are refused. Look first at: the app servers' connection pool size times the number of servers, connections ` +
        `leaked by the app (idle in pg_stat_activity / SHOW PROCESSLIST), and a scale-out that multiplied the pools.`,
      comparison: "GreaterThanThreshold",
      threshold: props.maxConnections,
      treatMissingData: "missing",
      metric: rds("DatabaseConnections", "Maximum"),
    });
  }
}

/**
 * Where the connections alarm's threshold stands against max_connections, for its text: a share of
 * the default on the class, or, for a threshold the file set at or above that default, that it
 * counts on a parameter group allowing more (review CJ's carried item: the text said "near
 * max_connections" whatever the threshold).
 */
function againstMaxConnections({ maxConnections, defaultMaxConnections: limit }: DatabaseAlarmsProps): string {
  if (limit === undefined) return " (compare monitoring.thresholds.dbConnections with SHOW max_connections)";
  if (maxConnections < limit)
    return `, ${Math.round((maxConnections * 100) / limit)}% of the about ${limit} that the engine's default max_connections allows on this class`;
  return (
    `, not below the about ${limit} that the engine's default max_connections allows on this class: ` +
    `monitoring.thresholds.dbConnections counts on a parameter group that allows more (check SHOW max_connections)`
  );
}

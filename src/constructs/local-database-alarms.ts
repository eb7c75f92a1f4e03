import type { Construct } from "constructs";
import { SERVER_PATHS, type LocalDatabase } from "../userdata/app-host";
import { DATABASE_HEALTH_METRIC, HEALTH_PROBE_INTERVAL_SECONDS } from "../userdata/health-probe";
import { BACKUP_ALARM_HOURS, BACKUP_METRIC, DB_BACKUP_LOG, DB_BACKUP_SCRIPT } from "../userdata/local-database";
import { TierAlarms, type TierAlarmsProps } from "./tier-alarms";

export interface LocalDatabaseAlarmsProps extends TierAlarmsProps {
  /** The single server whose own database is dumped nightly (the metric's `InstanceId`). */
  readonly instanceId: string;
  /** Where db-backup publishes its metric: the environment's `MetricNamespaces.backups`. */
  readonly namespace: string;
  /** The server's engine, which its health probe checks every minute. */
  readonly database: Pick<LocalDatabase, "engine" | "port">;
  /** Where the health probe publishes: the environment's `MetricNamespaces.health`. */
  readonly healthNamespace: string;
}

/**
 * The single server's own database.
 *
 * Its engine: an alarm when it has not answered the server's health probe (src/userdata/health-probe.ts,
 * `DATABASE_HEALTH_METRIC`) in 2 of 3 minutes. The app's `/healthz` answers 200 without its
 * database, and the 5xx alarm counts only from 10 requests a minute, so an engine down at a quiet
 * hour paged no one but the backup alarm, a day later (review DQ). No data is not this alarm's
 * (the probe or the server gone is the health alarm's).
 *
 * Its nightly dump: an alarm when no dump has reached the bucket for
 * `BACKUP_ALARM_HOURS` hours. db-backup publishes `BACKUP_METRIC` only after a successful upload,
 * so a dump that fails, hangs (systemd stops it after its timeout), never runs (timer disabled,
 * server stopped) or cannot publish all look the same: no datapoint, which counts as breaching.
 * Hourly periods, every one of the last 26 empty: CloudWatch allows 7 days of look-back for
 * periods of an hour or more. A new server publishes its first datapoint with its first dump.
 *
 * @example
 * new LocalDatabaseAlarms(this, "BackupAlarms", { naming, topicArn, evaluationPeriods: 3, datapointsToAlarm: 2,
 *   instanceId, namespace: "shop/dev/AppBackups", database: { engine: "postgres", port: 5432 },
 *   healthNamespace: "shop/dev/AppHealth" });
 */
export class LocalDatabaseAlarms extends TierAlarms {
  constructor(scope: Construct, id: string, props: LocalDatabaseAlarmsProps) {
    super(scope, id, props);
    const { engine, port } = props.database;
    const service = engine === "postgres" ? "postgresql" : "mariadb";
    this.alarm("Engine", {
      what: "db-health",
      description:
        `The server's own ${engine} has not answered on 127.0.0.1:${port} (its health probe, every minute: ` +
        `${engine === "postgres" ? "pg_isready" : `systemctl is-active ${service}`}): every request that needs the ` +
        `database fails, which the 5xx alarm counts only from 10 requests a minute. Look first at: systemctl ` +
        `status ${service} and journalctl -u ${service} (Session Manager), the disk (app-disk: a full disk stops ` +
        `it) and memory (app-memory: the OOM killer); then sudo systemctl restart ${service}.`,
      comparison: "LessThanThreshold",
      threshold: 1,
      treatMissingData: "notBreaching",
      metric: {
        namespace: props.healthNamespace,
        metricName: DATABASE_HEALTH_METRIC.metricName,
        dimensions: { InstanceId: props.instanceId },
        statistic: "Minimum",
        period: HEALTH_PROBE_INTERVAL_SECONDS,
      },
      evaluation: { periods: 3, datapoints: 2 },
    });
    this.alarm("DumpMissing", {
      what: "db-backup-missing",
      description:
        `No nightly dump of the server's database reached the backups bucket for ${BACKUP_ALARM_HOURS} hours ` +
        `(${props.namespace}/${BACKUP_METRIC.metricName}, published by db-backup after each upload): the ` +
        `dump failed or hung, the timer did not run, or the server is stopped. Look first at: ${DB_BACKUP_LOG} ` +
        `(also in the app's log group), systemctl status db-backup.service db-backup.timer; then take one now: ` +
        `sudo ${SERVER_PATHS.appRoot}/${DB_BACKUP_SCRIPT}.`,
      comparison: "LessThanThreshold",
      threshold: 1,
      treatMissingData: "breaching",
      metric: {
        namespace: props.namespace,
        metricName: BACKUP_METRIC.metricName,
        dimensions: { InstanceId: props.instanceId },
        statistic: "Sum",
        period: 3600,
      },
      evaluation: { periods: BACKUP_ALARM_HOURS, datapoints: BACKUP_ALARM_HOURS },
    });
  }
}

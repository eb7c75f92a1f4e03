import type { Construct } from "constructs";
import { SERVER_PATHS } from "../userdata/app-host";
import { BACKUP_ALARM_HOURS, BACKUP_METRIC, DB_BACKUP_LOG, DB_BACKUP_SCRIPT } from "../userdata/local-database";
import { TierAlarms, type TierAlarmsProps } from "./tier-alarms";

export interface BackupAlarmsProps extends TierAlarmsProps {
  /** The single server whose own database is dumped nightly (the metric's `InstanceId`). */
  readonly instanceId: string;
  /** Where db-backup publishes its metric: the environment's `MetricNamespaces.backups`. */
  readonly namespace: string;
}

/**
 * The single server's nightly dump: an alarm when no dump has reached the bucket for
 * `BACKUP_ALARM_HOURS` hours. db-backup publishes `BACKUP_METRIC` only after a successful upload,
 * so a dump that fails, hangs (systemd stops it after its timeout), never runs (timer disabled,
 * server stopped) or cannot publish all look the same: no datapoint, which counts as breaching.
 * Hourly periods, every one of the last 26 empty: CloudWatch allows 7 days of look-back for
 * periods of an hour or more. A new server publishes its first datapoint with its first dump.
 *
 * @example
 * new BackupAlarms(this, "BackupAlarms", { naming, topicArn, evaluationPeriods: 3, datapointsToAlarm: 2, instanceId,
 *   namespace: "shop/dev/AppBackups" });
 */
export class BackupAlarms extends TierAlarms {
  constructor(scope: Construct, id: string, props: BackupAlarmsProps) {
    super(scope, id, props);
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

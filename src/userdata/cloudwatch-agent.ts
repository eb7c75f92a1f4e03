import type { AppHost } from "./app-host";
import { DB_BACKUP_LOG } from "./local-database";

/** Where the boot script writes the CloudWatch agent's configuration. */
export const CLOUDWATCH_AGENT_CONFIG = "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json";

/** The log groups the agent ships to (created by the stack, with retention). */
export interface ServerLogGroups {
  readonly app: string;
  readonly nginxAccess: string;
  readonly nginxError: string;
  readonly boot: string;
}

export interface CloudWatchAgentProps {
  readonly host: AppHost;
  readonly logGroups: ServerLogGroups;
  /**
   * The server runs in an Auto Scaling group: memory and disk are also published per group
   * (dimension `AutoScalingGroupName`), which is what the fleet's alarms watch.
   */
  readonly autoScaling: boolean;
  /** The boot script's own log. */
  readonly bootLog: string;
  /** The namespace of its metrics: the environment's `MetricNamespaces.agent`. */
  readonly namespace: string;
}

/**
 * The CloudWatch agent's configuration: memory and root-disk use every minute in `namespace`
 * (not the agent's default `CWAgent`, which every environment could publish to), per instance (`InstanceId`) and, in an Auto Scaling group, per group
 * (`AutoScalingGroupName`); and the nginx, app and boot logs, one stream per instance (with a
 * database on the server, its nightly dump's log too, in the app's group).
 * `${aws:InstanceId}` is the agent's own placeholder, filled on the server.
 */
export function cloudWatchAgentConfig(props: CloudWatchAgentProps): string {
  const { host, logGroups } = props;
  const stream = "{instance_id}";
  const config = {
    agent: {
      metrics_collection_interval: 60,
      logfile: "/opt/aws/amazon-cloudwatch-agent/logs/amazon-cloudwatch-agent.log",
    },
    metrics: {
      namespace: props.namespace,
      append_dimensions: props.autoScaling
        ? { InstanceId: "${aws:InstanceId}", AutoScalingGroupName: "${aws:AutoScalingGroupName}" }
        : { InstanceId: "${aws:InstanceId}" },
      aggregation_dimensions: props.autoScaling ? [["AutoScalingGroupName"], ["InstanceId"]] : [["InstanceId"]],
      metrics_collected: {
        mem: { measurement: ["mem_used_percent"] },
        disk: { measurement: ["used_percent"], resources: ["/"], drop_device: true },
      },
    },
    logs: {
      force_flush_interval: 15,
      logs_collected: {
        files: {
          collect_list: [
            {
              // One file per process and the watchdog's: with a wildcard the agent tails only the
              // file written last, unless publish_multi_logs (then a stream per file:
              // <stream>_<path with _ for />).
              file_path: `${host.paths.appLogDir}/*.log`,
              log_group_name: logGroups.app,
              log_stream_name: stream,
              publish_multi_logs: true,
            },
            {
              file_path: `${host.paths.nginxLogDir}/access.log`,
              log_group_name: logGroups.nginxAccess,
              log_stream_name: stream,
            },
            {
              file_path: `${host.paths.nginxLogDir}/error.log`,
              log_group_name: logGroups.nginxError,
              log_stream_name: stream,
            },
            { file_path: props.bootLog, log_group_name: logGroups.boot, log_stream_name: stream },
            // the nightly dump of the server's own database, which runs as root and logs outside the app's folder
            ...(host.database?.local
              ? [{ file_path: DB_BACKUP_LOG, log_group_name: logGroups.app, log_stream_name: `${stream}-db-backup` }]
              : []),
          ],
        },
      },
    },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

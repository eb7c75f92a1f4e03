import type { AppHost, LocalDatabase } from "./app-host";

/**
 * The health probe of a server without a load balancer in front (single-server, app-db-split):
 * nothing outside asks it whether the site answers, so it asks itself. Every minute a systemd
 * timer runs a script that requests the health check path through nginx, as a client would, and
 * publishes the answer to CloudWatch: 1 when nginx answered 200 within the timeout, 0 otherwise
 * (nginx down: no connection; every app process down: 502; the app's own check failing: its
 * status). The health alarm fires on 0, and on no data at all (the server or the probe is gone).
 * A server with its own database (single-server) also has its engine checked, and publishes
 * `DATABASE_HEALTH_METRIC`, which the database's health alarm reads.
 */

/**
 * The metric the probe publishes and the health alarm reads, per instance (`InstanceId`), in the
 * environment's health namespace (metric-namespaces.ts).
 */
export const HEALTH_METRIC = { metricName: "HealthCheckOk" } as const;

/**
 * The metric the probe also publishes on a server with its own database (single-server): 1 when
 * the engine answers on loopback, 0 when it does not. The app's `/healthz` answers 200 without its
 * database (by design: a load balancer must not drain a fleet for a database blip), and the 5xx
 * alarm counts only from 10 requests a minute, so without it an engine down at a quiet hour paged
 * no one (review DQ).
 */
export const DATABASE_HEALTH_METRIC = { metricName: "DatabaseOk" } as const;

/**
 * The check of the server's own database, as the probe's unprivileged user runs it, with nothing
 * in the engine's log for a healthy answer: PostgreSQL's `pg_isready` as the app's user (the
 * server asks for its password, which answers the check, and a client that leaves then is not
 * logged; an unknown user would be, every minute); MariaDB's service state, as any connection
 * that does not log in (a ping without the password, a bare connect) is logged as a warning.
 */
export function databaseCheck(db: LocalDatabase): string {
  return db.engine === "postgres"
    ? `pg_isready -q -h 127.0.0.1 -p ${db.port} -U ${db.username} -d ${db.name} -t 5`
    : "systemctl is-active -q mariadb";
}

/** How often the probe runs, in seconds: the metric's resolution, and the alarm's period. */
export const HEALTH_PROBE_INTERVAL_SECONDS = 60;

/** How long the probe waits for nginx's answer before it counts the check as failed. */
export const HEALTH_PROBE_TIMEOUT_SECONDS = 8;

/** The systemd timer the boot script enables. */
export const HEALTH_PROBE_TIMER = "app-health-probe.timer";

export interface HealthProbeProps {
  /** The server: nginx's port and the health check path, and where the script lives (`<appRoot>/bin`). */
  readonly host: AppHost;
  /** The region CloudWatch receives the metric in (the server's). */
  readonly region: string;
  /** The namespace it is published in: the environment's `MetricNamespaces.health`. */
  readonly namespace: string;
  /**
   * A file holding the instance's id, the metric's dimension. cloud-init writes it at first boot.
   * @default "/var/lib/cloud/data/instance-id"
   */
  readonly instanceIdFile?: string;
}

/** One file the boot script writes for the probe. */
export interface ProbeFile {
  readonly path: string;
  readonly content: string;
  readonly mode: string;
}

/** Where the probe script lives on the server. */
export function healthProbePath(host: AppHost): string {
  return `${host.paths.appRoot}/bin/health-probe`;
}

/**
 * The probe script. Any answer but 200 (or none within the timeout) publishes 0; the `aws` call
 * is retried once, since a lost datapoint counts as failing for the alarm.
 */
export function healthProbeScript(props: HealthProbeProps): string {
  const { host } = props;
  const instanceIdFile = props.instanceIdFile ?? "/var/lib/cloud/data/instance-id";
  const url = `http://127.0.0.1:${host.listenPort}${host.healthCheckPath}`;
  const local = host.database?.local;
  // `publish <metric> <value>`: one datapoint, tried again once
  const publish = [
    "aws cloudwatch put-metric-data",
    `--region ${props.region}`,
    `--namespace ${props.namespace}`,
    '--metric-name "$1"',
    '--dimensions "InstanceId=$instance_id"',
    '--value "$2"',
    "--unit Count",
  ].join(" ");
  return [
    "#!/bin/bash",
    "# Written by the boot script from src/userdata/health-probe.ts; run every minute by",
    `# ${HEALTH_PROBE_TIMER}. Asks nginx for the health check as a client would and publishes`,
    `# ${props.namespace}/${HEALTH_METRIC.metricName}: 1 for a 200, else 0. The health alarm fires on 0 or no data.`,
    ...(local ? [`# And ${DATABASE_HEALTH_METRIC.metricName}: 1 while the server's own database answers.`] : []),
    "set -uo pipefail",
    `publish() { ${publish} || { sleep 5; ${publish}; }; }`,
    `url=${url}`,
    `code=$(curl --silent --output /dev/null --write-out '%{http_code}' --max-time ${HEALTH_PROBE_TIMEOUT_SECONDS} "$url")`,
    "if [[ $code == 200 ]]; then value=1; else value=0; fi",
    `instance_id=$(cat ${instanceIdFile})`,
    'echo "GET $url: HTTP ${code:-000}; publishing HealthCheckOk=$value for $instance_id"',
    ...(local
      ? [
          // the run fails (systemctl status says so) when either datapoint could not be published
          `publish ${HEALTH_METRIC.metricName} "$value"; sent=$?`,
          `if ${databaseCheck(local)}; then db=1; else db=0; fi`,
          `echo "${local.engine} on 127.0.0.1:${local.port}: publishing ${DATABASE_HEALTH_METRIC.metricName}=$db"`,
          `publish ${DATABASE_HEALTH_METRIC.metricName} "$db" && exit $sent`,
        ]
      : [`publish ${HEALTH_METRIC.metricName} "$value"`]),
    "",
  ].join("\n");
}

/** The oneshot service that runs the probe, unprivileged, with a read-only view of the system. */
export function healthProbeService(host: AppHost): string {
  return [
    "# Written by the boot script from src/userdata/health-probe.ts; edit that, not this file.",
    "[Unit]",
    "Description=Probe the app's health check through nginx and publish it to CloudWatch",
    "After=network-online.target nginx.service",
    "Wants=network-online.target",
    "",
    "[Service]",
    "Type=oneshot",
    `ExecStart=${healthProbePath(host)}`,
    "DynamicUser=yes",
    "# The AWS CLI wants a home for its cache; the instance role's credentials come from IMDS.",
    "RuntimeDirectory=app-health-probe",
    "Environment=HOME=/run/app-health-probe",
    `TimeoutStartSec=${HEALTH_PROBE_INTERVAL_SECONDS - 5}`,
    "NoNewPrivileges=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "",
  ].join("\n");
}

/** The timer: first a minute after boot, then every minute after the previous run started. */
export function healthProbeTimer(): string {
  return [
    "# Written by the boot script from src/userdata/health-probe.ts; edit that, not this file.",
    "[Unit]",
    "Description=Probe the app's health check every minute",
    "",
    "[Timer]",
    `OnBootSec=${HEALTH_PROBE_INTERVAL_SECONDS}s`,
    `OnUnitActiveSec=${HEALTH_PROBE_INTERVAL_SECONDS}s`,
    "AccuracySec=5s",
    "",
    "[Install]",
    "WantedBy=timers.target",
    "",
  ].join("\n");
}

/** Every file of the probe, for the boot script to write before it enables `HEALTH_PROBE_TIMER`. */
export function healthProbeFiles(props: HealthProbeProps): ProbeFile[] {
  return [
    { path: healthProbePath(props.host), content: healthProbeScript(props), mode: "0755" },
    { path: "/etc/systemd/system/app-health-probe.service", content: healthProbeService(props.host), mode: "0644" },
    { path: `/etc/systemd/system/${HEALTH_PROBE_TIMER}`, content: healthProbeTimer(), mode: "0644" },
  ];
}

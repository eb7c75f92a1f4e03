import type { AppHost, AppHostPaths } from "./app-host";
import { appUnit } from "./app-unit";
import { CLOUDWATCH_AGENT_CONFIG, cloudWatchAgentConfig, type ServerLogGroups } from "./cloudwatch-agent";
import { DEPLOY_SCRIPT, deployScript, firstInstallSeconds } from "./deploy-script";
import { HEALTH_PROBE_TIMER, healthProbeFiles } from "./health-probe";
import type { MetricNamespaces } from "./metric-namespaces";
import {
  DB_BACKUP_SCRIPT,
  DB_PROVISION_SCRIPT,
  DB_RESTORE_SCRIPT,
  dbBackupScript,
  dbBackupLogrotate,
  dbBackupUnits,
  dbProvisionScript,
  dbRestoreScript,
  localDatabasePackages,
  MARIADB_APP_CNF,
  mariadbAppCnf,
  PG_APP_CONF,
  PG_DATA,
  postgresAppConf,
  postgresHba,
} from "./local-database";
import { LAUNCH_HOOK_SCRIPT, launchHookScript, MAX_LAUNCH_HOOK_SECONDS } from "./launch-hook";
import { heldMarker, nginxConf } from "./nginx-conf";
import { ROTATION_SCRIPT, rotationScript, WATCHDOG_UNIT, watchdogUnit } from "./rotation-script";

/**
 * SELinux (AL2023 ships it permissive): nginx must be allowed to connect to the app processes.
 * Where SELinux is on, a failure to allow it fails the boot (set -e) rather than leaving nginx
 * answering 502 on an enforcing host; without SELinux there is nothing to do, and the log says so.
 */
export const SELINUX_SETUP = [
  "if command -v selinuxenabled >/dev/null 2>&1 && selinuxenabled; then",
  '  echo "SELinux is $(getenforce): allowing nginx to connect to the app processes"',
  "  setsebool -P httpd_can_network_connect 1",
  "else",
  '  echo "SELinux is off: nothing to allow"',
  "fi",
];

/** The boot script logs here; the CloudWatch agent ships it. */
export const BOOT_LOG = "/var/log/boot-script.log";

/**
 * Seconds a first boot may take before its deploy: the packages (each install tried up to 10
 * times), the CloudWatch agent, nginx, and on the single server the database engine. What waits for
 * a first boot allows this, then the deploy's own time.
 */
export const FIRST_BOOT_SECONDS = 1800;

/**
 * Seconds around a fleet server's boot script that its launch hook also waits out: the OS's boot
 * and cloud-init before the script starts, and after it launch-hook's own calls (three, each tried
 * for up to 2 min 15 s) and its 20 s before an abandon.
 */
export const LAUNCH_OVERHEAD_SECONDS = 600;

/**
 * The longest a fleet server's first boot takes, from its launch to the end of its launch hook:
 * `FIRST_BOOT_SECONDS`, the first install and `LAUNCH_OVERHEAD_SECONDS`. Its Auto Scaling group's
 * launch hook waits this long (Auto Scaling allows at most 7,200 s: a host that could take longer
 * is refused).
 */
export function bootTimeoutSeconds(host: AppHost): number {
  const seconds = FIRST_BOOT_SECONDS + firstInstallSeconds(host) + LAUNCH_OVERHEAD_SECONDS;
  if (seconds > MAX_LAUNCH_HOOK_SECONDS) {
    throw new Error(
      `bootTimeoutSeconds: a first boot may take ${seconds} s, more than the ${MAX_LAUNCH_HOOK_SECONDS} s an Auto Scaling launch hook may wait`,
    );
  }
  return seconds;
}

/**
 * Seconds from a server's launch until its CloudWatch agent reports: the OS's boot, the one package
 * install (tried up to 10 times) and the agent's start, the first things the boot script does.
 */
export const AGENT_START_SECONDS = 300;

/** A drop-in for nginx.service: restarted when its master dies (the package's unit says nothing of it). */
export const NGINX_RESTART_DROP_IN = "/etc/systemd/system/nginx.service.d/restart.conf";

/** Packages every app server installs: the proxy, the app's runtime, the metrics and logs agent. */
export const SERVER_PACKAGES = ["nginx", "nodejs22", "amazon-cloudwatch-agent"] as const;

export interface BootScriptProps {
  /** What runs inside the server: nginx, the app processes, their ports and paths. */
  readonly host: AppHost;
  /** Log groups the CloudWatch agent ships to. */
  readonly logGroups: ServerLogGroups;
  /**
   * The server is in an Auto Scaling group, in this region: metrics per group as well as per
   * instance, and the group's launch hook completed when the boot script ends (`launchHookScript`:
   * in service when it succeeded, abandoned when it failed). @default - a lone server
   */
  readonly autoScaling?: { readonly region: string };
  /**
   * Probe the health check through nginx every minute and publish it to CloudWatch in this region
   * (servers without a load balancer, whose health alarm reads it). @default - no probe
   */
  readonly healthProbe?: { readonly region: string };
  /** Where the boot script logs (and the CloudWatch agent ships from). @default BOOT_LOG */
  readonly bootLog?: string;
  /** Where the agent, the health probe and the nightly dump publish their metrics (the alarms read them there). */
  readonly metricNamespaces: MetricNamespaces;
}

/**
 * What ends each file's here-document: one word for every file (each here-document ends before
 * the next begins), not one made of the file's path, which took 280 bytes of the largest server's
 * gzip-compressed user data for nothing.
 */
export const HEREDOC_TERMINATOR = "END_OF_FILE";

/**
 * A file written by the boot script through a quoted here-document, so the shell expands nothing
 * in it. Throws if the content contains the terminator line, which would cut the file short.
 */
export function writeFile(path: string, content: string, mode = "0644"): string[] {
  const terminator = HEREDOC_TERMINATOR;
  if (content.split("\n").includes(terminator)) throw new Error(`bootScript: ${path} contains its terminator line`);
  return [`cat > ${path} <<'${terminator}'`, content.replace(/\n$/, ""), terminator, `chmod ${mode} ${path}`];
}

/**
 * The database part of the boot script, before the first deploy (whose migrations need it): the
 * settings' folder; then either the CA bundle that signs RDS's certificates (the app verifies the
 * server against it), or, on the single server, the engine itself: installed from AL2023's
 * packages at the configured major, listening on 127.0.0.1 only, the app's user and database
 * created (`db-provision`), and the nightly dump to S3 scheduled (`db-backup.timer`).
 */
function databaseLines(host: AppHost, metricNamespaces: MetricNamespaces): string[] {
  const { database } = host;
  if (!database) return [];
  const root = host.paths.appRoot;
  const settingsDir = database.envFile.replace(/\/[^/]+$/, "");
  const lines = [
    "",
    // ---- The app's database: its settings folder (the deploy script writes the settings) ----
    `install -d -m 0750 -o root -g ${host.appUser} ${settingsDir}`,
  ];
  if (database.caBundle) {
    lines.push(
      // RDS's certificate authorities, which the app checks the database server's certificate against.
      `retry curl -fsS --max-time 30 -o ${database.caBundle.path}.tmp ${database.caBundle.url}`,
      `chmod 0644 ${database.caBundle.path}.tmp && mv -f ${database.caBundle.path}.tmp ${database.caBundle.path}`,
    );
  }
  const db = database.local;
  if (!db) return lines;
  const engine =
    db.engine === "postgres"
      ? [
          `if [[ ! -f ${PG_DATA}/PG_VERSION ]]; then postgresql-setup --initdb; fi`,
          ...writeFile(`${PG_DATA}/${PG_APP_CONF}`, postgresAppConf(db), "0600"),
          `grep -qxF "include_if_exists = '${PG_APP_CONF}'" ${PG_DATA}/postgresql.conf || echo "include_if_exists = '${PG_APP_CONF}'" >> ${PG_DATA}/postgresql.conf`,
          ...writeFile(`${PG_DATA}/pg_hba.conf`, postgresHba(db), "0600"),
          `chown postgres:postgres ${PG_DATA}/${PG_APP_CONF} ${PG_DATA}/pg_hba.conf`,
          "systemctl enable postgresql",
          "systemctl restart postgresql",
        ]
      : [...writeFile(MARIADB_APP_CNF, mariadbAppCnf(db)), "systemctl enable mariadb", "systemctl restart mariadb"];
  const units = dbBackupUnits(host.paths, db);
  return [
    ...lines,
    "",
    // ---- The database engine on this same server: <db.serverPackage>, on 127.0.0.1 only ----
    `retry dnf install -y ${localDatabasePackages(db).join(" ")}`,
    ...engine,
    ...writeFile(`${root}/${DB_PROVISION_SCRIPT}`, dbProvisionScript(database, db), "0700"),
    ...writeFile(`${root}/${DB_BACKUP_SCRIPT}`, dbBackupScript(database, db, metricNamespaces.backups), "0700"),
    ...writeFile(`${root}/${DB_RESTORE_SCRIPT}`, dbRestoreScript(database, db), "0700"),
    ...writeFile("/etc/systemd/system/db-backup.service", units.service),
    ...writeFile("/etc/systemd/system/db-backup.timer", units.timer),
    ...writeFile("/etc/logrotate.d/db-backup", dbBackupLogrotate()),
    `${root}/${DB_PROVISION_SCRIPT}`,
    "systemctl daemon-reload",
    "systemctl enable --now db-backup.timer",
  ];
}

/** Where a fleet server's boot script writes `launch-hook`. */
function launchHookPath(host: AppHost): string {
  return `${host.paths.appRoot}/${LAUNCH_HOOK_SCRIPT}`;
}

/**
 * A server in an Auto Scaling group waits out of service (`Pending:Wait`) until its boot script
 * ends. The script's first act is to have its exit, however it comes (a failed step under `set -e`,
 * an unset variable, an `exit`, a signal, a write to the log's `tee` once it is gone), call
 * `launch-hook`: ABANDON on any failure, CONTINUE only when the boot ran to its end, with every
 * process started and healthy. Signals exit with their own status (bash would otherwise give the
 * exit trap 0, and a boot cut short by SIGPIPE would continue its launch); inside the trap a dead
 * pipe is ignored, and so are failures and unset variables, so nothing cuts the call short; a failed
 * boot's last lines are appended to the log once its tee has written all before them. The hook
 * is written right after; a boot that fails before (no hook to call) is abandoned at the timeout.
 */
function launchHookTrap(host: AppHost, autoScaling: BootScriptProps["autoScaling"], bootLog: string): string[] {
  if (!autoScaling) return [];
  const hook = launchHookPath(host);
  return [
    // The group holds this server out of service until this script ends: in service once it has
    // succeeded, abandoned (terminated, and another launched) should anything end it early. (Said
    // here, not in the script: user data is 16 KB at most, and the largest boot script is near it.)
    "end_launch() {",
    "  local status=$?",
    "  set +eu",
    "  # Nothing cuts the trap short: a signal now runs a no-op (a child still gets it), a dead pipe is ignored.",
    "  trap : HUP INT TERM",
    "  trap '' PIPE",
    "  # A failed boot's last lines go to the log file itself, once its tee has written all before them:",
    "  # closing the pipe ends it (it may be gone already, with the rest of a signalled process group);",
    "  # 5 s at most, should something the boot started still hold the pipe.",
    "  if ((status != 0)) && [[ -n ${boot_log_pid:-} ]]; then",
    "    exec >&- 2>&-",
    '    for _ in {1..50}; do kill -0 "$boot_log_pid" 2>/dev/null || break; sleep 0.1; done',
    `    exec >>${bootLog} 2>&1`,
    "  fi",
    '  if ((status != 0)); then echo "boot script failed (exit $status) at $(date -Is)"; fi',
    `  if [[ ! -x ${hook} ]]; then echo "no launch hook to end: the group abandons this server at the hook's timeout"; return; fi`,
    `  if ((status == 0)); then ${hook} CONTINUE; else ${hook} ABANDON; fi`,
    "}",
    "trap end_launch EXIT",
    "trap 'exit 129' HUP",
    "trap 'exit 130' INT",
    "trap 'exit 143' TERM",
    "trap 'exit 141' PIPE",
  ];
}

/** The launch hook's script, written first of all the boot's files (see `launchHookTrap`). */
function launchHookFile(host: AppHost, autoScaling: BootScriptProps["autoScaling"]): string[] {
  if (!autoScaling) return [];
  const hook = launchHookPath(host);
  return [
    `install -d -m 0755 ${host.paths.appRoot}/bin`,
    ...writeFile(hook, launchHookScript({ region: autoScaling.region }), "0755"),
  ];
}

/**
 * The file the boot script writes once it has set the server up: every step run but for the first
 * deploy's outcome. A first deploy that failed (a release that dies, a migration) leaves the server
 * set up, and the next deploy may go ahead (`AppDeployment`'s document checks for this file after a
 * failed boot); without it, the boot failed before that and the server needs replacing.
 */
export const setUpMarker = (paths: Pick<AppHostPaths, "appRoot">) => `${paths.appRoot}/set-up`;

/**
 * The first-boot script of an app server on Amazon Linux 2023 (cloud-init runs it once, as root):
 * installs nginx, Node.js and the CloudWatch agent; writes the nginx configuration, the
 * `app@<port>` unit, the deploy script and the agent's configuration, all rendered from one
 * `AppHost`; starts the agent first (so a failed boot still ships its log), nginx and the app
 * processes' watchdog; before the app, the database part (`databaseLines`: for the single-server
 * layout the engine on the same box); then runs the deploy script for the environment's version,
 * which downloads the release, runs its migrations and starts the processes.
 *
 * Returned as plain text; the EC2 constructs base64-encode it (`userDataBase64`), so Terraform
 * never reads `${...}` in it as interpolation.
 */
export function bootScript(props: BootScriptProps): string {
  const { host } = props;
  const bootLog = props.bootLog ?? BOOT_LOG;
  const { paths } = host;
  const units = host.appPorts.map((port) => `app@${port}`).join(" ");
  return [
    "#!/bin/bash",
    "# Generated by src/userdata/boot-script.ts.",
    "set -euo pipefail",
    ...launchHookTrap(host, props.autoScaling, bootLog),
    `exec > >(tee -a ${bootLog}) 2>&1`,
    ...(props.autoScaling ? ["boot_log_pid=$!"] : []),
    'echo "boot script started at $(date -Is)"',
    ...launchHookFile(host, props.autoScaling),
    // The network may still be settling at first boot: retry package installs, bounded.
    'retry() { for attempt in 1 2 3 4 5 6 7 8 9 10; do "$@" && return 0; echo "retry $attempt: $*"; sleep 6; done; return 1; }',
    `retry dnf install -y ${SERVER_PACKAGES.join(" ")}`,
    "",
    // ---- First the CloudWatch agent, so that even a failed boot ships its log ----
    ...writeFile(
      CLOUDWATCH_AGENT_CONFIG,
      cloudWatchAgentConfig({
        host,
        logGroups: props.logGroups,
        autoScaling: props.autoScaling !== undefined,
        bootLog,
        namespace: props.metricNamespaces.agent,
      }),
    ),
    `/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:${CLOUDWATCH_AGENT_CONFIG}`,
    "",
    "# ---- nginx in front of the processes (502 on the health check until the first deploy) ----",
    ...writeFile(paths.nginxConf, nginxConf(host)),
    ...SELINUX_SETUP,
    "nginx -t",
    // nginx's own unit restarts nothing: a master that died would leave the server answering no one
    "mkdir -p /etc/systemd/system/nginx.service.d",
    ...writeFile(NGINX_RESTART_DROP_IN, "[Service]\nRestart=on-failure\nRestartSec=2s\n"),
    "systemctl daemon-reload",
    "systemctl enable --now nginx",
    "",
    // ---- The app: an unprivileged user, its releases, one systemd unit per process ----
    `id ${host.appUser} >/dev/null 2>&1 || useradd --system --home-dir ${paths.appRoot} --shell /sbin/nologin ${host.appUser}`,
    `install -d -m 0755 ${paths.appRoot}/bin ${paths.appRoot}/releases ${paths.appRoot}/run ${paths.rotationDir}`,
    // Every process is held out of rotation until it has started and settled (see bin/rotation).
    `touch ${host.appPorts.map((port) => heldMarker(host, port)).join(" ")}`,
    // root-owned: systemd opens the units' log files there as root (StandardOutput=append:), so the
    // app user must not be able to put a symlink in their place; the processes never write there.
    `install -d -m 0750 -o root -g ${host.appUser} ${paths.appLogDir}`,
    ...writeFile(`${paths.appRoot}/${DEPLOY_SCRIPT}`, deployScript(host), "0755"),
    ...writeFile(`${paths.appRoot}/${ROTATION_SCRIPT}`, rotationScript(host), "0755"),
    ...writeFile("/etc/systemd/system/app@.service", appUnit(host)),
    ...writeFile(`/etc/systemd/system/${WATCHDOG_UNIT}`, watchdogUnit(host)),
    ...writeFile(
      "/etc/logrotate.d/app",
      `${paths.appLogDir}/*.log {\n    daily\n    rotate 7\n    compress\n    missingok\n    notifempty\n    copytruncate\n}\n`,
    ),
    "systemctl daemon-reload",
    `systemctl enable ${units}`,
    `systemctl enable --now ${WATCHDOG_UNIT}`,
    ...databaseLines(host, props.metricNamespaces),
    "",
    // Failed, the first deploy fails the boot at its end: the server is set up for the next deploy.
    "first_deploy=0",
    `${paths.appRoot}/${DEPLOY_SCRIPT} ${host.version}${host.releaseSha256 ? ` ${host.releaseSha256}` : ""} || first_deploy=$?`,
    ...(host.database?.local
      ? [
          // A first dump now, in the background: a restorable copy from day one, and the backup alarm's first datapoint.
          "systemctl start --no-block db-backup.service",
        ]
      : []),
    ...(props.healthProbe
      ? [
          "",
          // ---- The health probe: the health check through nginx, every minute, to CloudWatch ----
          ...healthProbeFiles({
            host,
            region: props.healthProbe.region,
            namespace: props.metricNamespaces.health,
          }).flatMap((f) => writeFile(f.path, f.content, f.mode)),
          "systemctl daemon-reload",
          `systemctl enable --now ${HEALTH_PROBE_TIMER}`,
        ]
      : []),
    "",
    `touch ${setUpMarker(paths)}`,
    'if [ "$first_deploy" -ne 0 ]; then',
    `  echo "boot script: the first deploy of ${host.version} failed (exit $first_deploy); the server is set up, and the next deploy can put a good release on it"`,
    '  exit "$first_deploy"',
    "fi",
    'echo "boot script finished at $(date -Is)"',
    "",
  ].join("\n");
}

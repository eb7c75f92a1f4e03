import * as path from "node:path";
import type { AppHost } from "./app-host";
import { hostTimings } from "./app-host";
import { ROTATION_SCRIPT } from "./rotation-script";

/** Where the environment file of the app processes lives on the server. */
export const APP_ENV_FILE = "/etc/app/app.env";

/**
 * The environment files the `app@` unit loads, in order (missing ones are skipped): the operator's
 * own, then the app's database settings when it has a database.
 */
export function appEnvironmentFiles(host: AppHost): string[] {
  return [APP_ENV_FILE, ...(host.database ? [host.database.envFile] : [])];
}

/**
 * The command one app process runs: the release its `run/<port>` link points at. The deploy
 * script moves that link one process at a time, so each process runs exactly one known release.
 */
export function appCommand(host: AppHost, port: number | "%i"): string[] {
  return [host.paths.nodeBinary, `${host.paths.appRoot}/run/${port}/server.js`];
}

/**
 * How long a stopping process may drain. It is held out of rotation first, so only requests nginx
 * sent before that are left, and nginx waits up to its read timeout for each: the app drains that
 * long and 2 s more (APP_DRAIN_SECONDS; the sample app gives up after it, 20 s without it), and
 * systemd waits 5 s beyond that before it kills the process (TimeoutStopSec). 32 and 37 s in
 * production.
 */
export function drainTimings(host: AppHost): { readonly appSeconds: number; readonly stopTimeoutSeconds: number } {
  const appSeconds = Math.ceil(hostTimings(host).proxy.readSeconds) + 2;
  return { appSeconds, stopTimeoutSeconds: appSeconds + 5 };
}

/**
 * How long systemd gives a starting process (TimeoutStartSec): the health wait and the settle window
 * run in ExecStartPost, which this covers, with 30 s to spare.
 */
export function startTimeoutSeconds(host: AppHost): number {
  const { rotation } = hostTimings(host);
  return Math.ceil(rotation.startTimeoutSeconds + rotation.settleSeconds + 30);
}

/**
 * The systemd template unit `app@.service`: `app@8001` is the app process on port 8001. Run as an
 * unprivileged user with a read-only view of the system except its state and cache directories,
 * restarted whenever it exits, and stopped with SIGTERM and time to drain its requests (see
 * `drainTimings`). It takes traffic only once it has settled, and is out of nginx's rotation
 * before it is stopped (see `rotationScript`).
 */
export function appUnit(host: AppHost): string {
  const { rotation } = hostTimings(host);
  const drain = drainTimings(host);
  const rotationCtl = `+${host.paths.appRoot}/${ROTATION_SCRIPT}`;
  return [
    "# Written by the boot script from src/userdata/app-unit.ts; edit that, not this file.",
    "[Unit]",
    "Description=App process on port %i",
    "After=network-online.target",
    "Wants=network-online.target",
    "# Keep retrying: a crash loop must not leave the port dead for good.",
    "StartLimitIntervalSec=0",
    "",
    "[Service]",
    "Type=simple",
    `User=${host.appUser}`,
    `Group=${host.appUser}`,
    `Environment=PORT=%i HOST=127.0.0.1 NODE_ENV=production APP_ENVIRONMENT=${host.environment}`,
    "# How long the app may drain after SIGTERM (the sample app reads it), and systemd's wait for it.",
    `Environment=APP_DRAIN_SECONDS=${drain.appSeconds}`,
    ...appEnvironmentFiles(host).map((file) => `EnvironmentFile=-${file}`),
    `WorkingDirectory=${host.paths.appRoot}/run/%i`,
    "# Out of nginx's rotation while it starts and settles, and before it is stopped (root: +).",
    `ExecStartPre=${rotationCtl} hold %i`,
    `ExecStart=${appCommand(host, "%i").join(" ")}`,
    `ExecStartPost=${rotationCtl} admit %i`,
    `ExecStop=${rotationCtl} before-stop %i`,
    "# After every stop: one it was not held out for is a crash, noted for the watchdog.",
    `ExecStopPost=${rotationCtl} after-stop %i`,
    "Restart=always",
    `RestartSec=${rotation.restartSeconds}`,
    `TimeoutStartSec=${startTimeoutSeconds(host)}`,
    "KillSignal=SIGTERM",
    `TimeoutStopSec=${drain.stopTimeoutSeconds}`,
    `StandardOutput=append:${host.paths.appLogDir}/%i.log`,
    `StandardError=append:${host.paths.appLogDir}/%i.log`,
    "LimitNOFILE=65536",
    "NoNewPrivileges=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "# Read-only system; the app writes to $STATE_DIRECTORY (kept) and $CACHE_DIRECTORY, which",
    "# systemd creates for the app user and shares between the processes.",
    "ProtectSystem=strict",
    `StateDirectory=${path.basename(host.paths.appStateDir)}`,
    `CacheDirectory=${path.basename(host.paths.appStateDir)}`,
    "ProtectHome=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectControlGroups=yes",
    "RestrictSUIDSGID=yes",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

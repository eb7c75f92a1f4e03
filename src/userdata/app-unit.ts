import type { AppHost } from "./app-host";

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
 * The systemd template unit `app@.service`: `app@8001` is the app process on port 8001. Run as an
 * unprivileged user with a read-only view of the system, restarted whenever it exits, stopped
 * with SIGTERM and up to 30 s to drain its requests.
 */
export function appUnit(host: AppHost): string {
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
    ...appEnvironmentFiles(host).map((file) => `EnvironmentFile=-${file}`),
    `WorkingDirectory=${host.paths.appRoot}/run/%i`,
    `ExecStart=${appCommand(host, "%i").join(" ")}`,
    "Restart=always",
    "RestartSec=1",
    "KillSignal=SIGTERM",
    "TimeoutStopSec=30",
    `StandardOutput=append:${host.paths.appLogDir}/%i.log`,
    `StandardError=append:${host.paths.appLogDir}/%i.log`,
    "LimitNOFILE=65536",
    "NoNewPrivileges=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "ProtectSystem=strict",
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

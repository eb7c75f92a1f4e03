import type { AppHost } from "./app-host";

/** How long one run of a release's migrations may take before the deploy gives up. */
export const MIGRATION_TIMEOUT_SECONDS = 600;

/** Seconds a timed-out migration has to exit after SIGTERM before it is killed. */
export const MIGRATION_KILL_SECONDS = 30;

/** Lines of the settings file: `DB_<NAME>=<value>`, values without spaces, quotes or shell characters (an RDS-managed secret's ARN has a `!`: `secret:rds!db-...`). */
export const DATABASE_SETTING_LINE = /^DB_[A-Z_]+=[A-Za-z0-9._:/@+=!-]*$/;

/**
 * The database part of the deploy script: functions, then the step itself, which runs once per
 * deploy, after the release is on disk and before any process moves to it.
 *
 * 1. Writes the app's database settings (`DB_...` lines, no secret) from their SSM parameter to
 *    `database.envFile`, which the `app@` unit loads: values known only after apply (the RDS
 *    endpoint, the secret's ARN) reach the server this way, never through user data.
 * 2. Runs the release's `migrate.js` once, as the app user, with those settings: the processes
 *    never migrate. A failed or timed-out migration stops the deploy with no process moved.
 *
 * Empty when the host has no database. `APP_MIGRATE_TIMEOUT` overrides the time limit (seconds).
 */
export function databaseDeploySection(host: AppHost): { functions: string[]; step: string[] } {
  const db = host.database;
  if (!db) return { functions: [], step: [] };
  return {
    functions: [
      // ---- The database: its settings (no secret in them) and the release's migrations. (The
      // comments of the deploy script are here, not in it: user data is 16 KB at most, and the
      // largest boot script is near it.)
      `DB_SETTINGS_PARAMETER=${db.settingsParameter}`,
      `DB_ENV_FILE=${db.envFile}`,
      `APP_USER=${host.appUser}`,
      "",
      "database_aws() {",
      "  local i",
      "  for i in 1 2 3; do",
      `    aws --region ${db.region} "$@" && return 0`,
      "    if ((i < 3)); then sleep $((i * ${APP_RETRY_SECONDS:-3})); fi",
      "  done",
      "  return 1",
      "}",
      "",
      // The settings from their parameter, checked line by line, moved into place whole.
      "write_database_settings() {",
      "  local settings tmp",
      '  settings=$(database_aws ssm get-parameter --name "$DB_SETTINGS_PARAMETER" --query Parameter.Value --output text) || return 1',
      `  if [[ -z $settings ]] || grep -qvE '${DATABASE_SETTING_LINE.source}' <<<"$settings"; then`,
      '    log "$DB_SETTINGS_PARAMETER holds a line that is not DB_<NAME>=<value>"',
      "    return 1",
      "  fi",
      // The boot script made the folder root:<app user> 0750 (the settings are the app's only): kept
      // as it is; made the same way should it be missing.
      '  [[ -d $(dirname "$DB_ENV_FILE") ]] || install -d -m 0750 -o root -g "$APP_USER" "$(dirname "$DB_ENV_FILE")" || return 1',
      '  tmp=$(mktemp "$DB_ENV_FILE.XXXXXX") || return 1',
      '  printf "%s\\n" "$settings" >"$tmp" && chgrp "$APP_USER" "$tmp" && chmod 0640 "$tmp" && mv -f "$tmp" "$DB_ENV_FILE"',
      "}",
      "",
      // The release's migrations, as the app user, with the app's settings; bounded in time (killed
      // MIGRATION_KILL_SECONDS after the SIGTERM at the limit, should it not exit), in a session of
      // their own.
      // (and without the terminal's input: a deploy run from a root shell must not hand the release's
      // code that shell's terminal, into which it could type, TIOCSTI; said here to spare user data)
      "run_migrations() {",
      '  local release="$RELEASES/$1" as_app=()',
      '  if [[ ! -f $release/migrate.js ]]; then log "release $1 has no migrate.js: no migrations to run"; return 0; fi',
      '  if [[ $(id -un) != "$APP_USER" ]]; then as_app=(runuser -u "$APP_USER" --); fi',
      `  (set -a && . "$DB_ENV_FILE" && set +a && cd "$release" && exec "\${as_app[@]}" setsid -w timeout -k ${MIGRATION_KILL_SECONDS} "\${APP_MIGRATE_TIMEOUT:-${MIGRATION_TIMEOUT_SECONDS}}" ${host.paths.nodeBinary} "$release/migrate.js" </dev/null)`,
      "}",
    ],
    step: [
      // Once per deploy, before any process moves: the settings, then the migrations.
      'write_database_settings || { log "failed: database settings unavailable; nothing changed"; exit 1; }',
      // (their output through the deploy's log, which outlives a closed terminal or pipe: written
      // there directly, the migrations would fail on a write to it, EIO or EPIPE, and so the deploy)
      'run_migrations "$version" 2>&1 | while IFS= read -r line || [[ -n $line ]]; do log "$line"; done ||',
      '  { log "failed: migrations of $version did not complete; no process moved"; exit 1; }',
    ],
  };
}

/** The app's database settings: what `app/db.js` reads, written to the server as `DB_...` lines. */
export interface DatabaseSettings {
  readonly engine: "postgres" | "mysql" | "mariadb";
  /** Host name or address (an RDS endpoint is known only after apply: a token here is fine). */
  readonly host: string;
  readonly port: number;
  readonly name: string;
  readonly username: string;
  /** `verify-full`: TLS, the server's certificate checked against `caFile`; `disable`: loopback only. */
  readonly tls: "verify-full" | "disable";
  /** The CA bundle on the server. @default - none (`tls: disable`) */
  readonly caFile?: string;
  /** The Secrets Manager secret whose JSON `password` the app connects with. */
  readonly secretId: string;
  readonly region: string;
}

/** The settings as the lines of the SSM parameter the deploy script copies to the server. */
export function databaseSettingsLines(settings: DatabaseSettings): string {
  if (settings.tls === "verify-full" && !settings.caFile) {
    throw new Error("databaseSettingsLines: caFile is required with tls verify-full");
  }
  const lines = [
    `DB_ENGINE=${settings.engine}`,
    `DB_HOST=${settings.host}`,
    `DB_PORT=${settings.port}`,
    `DB_NAME=${settings.name}`,
    `DB_USER=${settings.username}`,
    `DB_TLS=${settings.tls}`,
    ...(settings.caFile ? [`DB_CA_FILE=${settings.caFile}`] : []),
    `DB_SECRET_ID=${settings.secretId}`,
    `DB_REGION=${settings.region}`,
  ];
  // Values known at synth time are checked here; an apply-time one (`${...}`) on the server.
  for (const line of lines) {
    if (!line.includes("${") && !DATABASE_SETTING_LINE.test(line)) {
      throw new Error(
        `databaseSettingsLines: ${JSON.stringify(line)} is not DB_<NAME>=<value> without spaces or quotes`,
      );
    }
  }
  return lines.join("\n");
}

import type { AppDatabase, AppHostPaths, LocalDatabase } from "./app-host";

/**
 * The single server's own database: the engine's configuration (127.0.0.1 only), the script that
 * creates the app's database and user with a password kept in Secrets Manager, and the nightly
 * backup and the restore scripts with their systemd timer. The boot script writes them all
 * (`databaseLines` in boot-script.ts); the integration tests run the same scripts against real
 * PostgreSQL and MariaDB.
 *
 * The scripts read the app's settings file (`DB_HOST`, `DB_PORT`, `DB_NAME`, `DB_USER`,
 * `DB_SECRET_ID`) and connect as the app's user over 127.0.0.1, the way the app does: the app's
 * user owns every object of its database, so it can dump and restore all of it, and the engine's
 * superuser is needed only once, to create that user.
 */

/** Where the scripts are installed under the app root. */
export const DB_PROVISION_SCRIPT = "bin/db-provision";
export const DB_BACKUP_SCRIPT = "bin/db-backup";
export const DB_RESTORE_SCRIPT = "bin/db-restore";
/**
 * The nightly dump's log. db-backup runs as root, so its log lives in a root-owned folder: in the
 * app user's log folder, that user could replace the file with a link, and root would append to
 * whatever it points at. The CloudWatch agent ships it to the app's log group.
 */
export const DB_BACKUP_LOG = "/var/log/db-backup.log";

/**
 * The metric db-backup publishes once a dump is in the bucket (1, per instance: `InstanceId`), in
 * the environment's backups namespace (metric-namespaces.ts).
 * The backup alarm (src/constructs/backup-alarms.ts) pages when none arrives for
 * `BACKUP_ALARM_HOURS`: a dump that failed, hung, or never ran.
 */
export const BACKUP_METRIC = { metricName: "DumpUploaded" } as const;
/** Hours without a dump before the backup alarm fires: a day between dumps, and two hours' slack for the run itself. */
export const BACKUP_ALARM_HOURS = 26;
/** The longest a dump may run before systemd stops it (a hung one would otherwise hold the oneshot, and skip every later run). */
export const BACKUP_TIMEOUT = "2h";
/** The file cloud-init writes the instance's id to: the backup metric's dimension. */
export const INSTANCE_ID_FILE = "/var/lib/cloud/data/instance-id";

/** PostgreSQL's data directory on Amazon Linux 2023 (`postgresql-setup --initdb`). */
export const PG_DATA = "/var/lib/pgsql/data";
/** The settings the boot script adds to PostgreSQL's own, in a file postgresql.conf includes. */
export const PG_APP_CONF = "app.conf";
/** MariaDB's drop-in for the server's settings (read after the distribution's own). */
export const MARIADB_APP_CNF = "/etc/my.cnf.d/zz-app.cnf";

/** The engine's packages: the server and its client tools (psql / pg_dump, mariadb / mariadb-dump). */
export function localDatabasePackages(db: LocalDatabase): string[] {
  return [db.serverPackage.replace(/-server$/, ""), db.serverPackage];
}

/** PostgreSQL settings: listen on the loopback address only, passwords hashed with SCRAM. */
export function postgresAppConf(db: LocalDatabase): string {
  return [
    "# Written by the boot script from src/userdata/local-database.ts.",
    "listen_addresses = 'localhost'",
    `port = ${db.port}`,
    "password_encryption = 'scram-sha-256'",
    "",
  ].join("\n");
}

/**
 * Who may connect, whole: the superuser `postgres` through the local socket as the OS user
 * `postgres` (peer), the app's user to the app's database over loopback with its password; any
 * other connection matches no line and is refused.
 */
export function postgresHba(db: LocalDatabase): string {
  return [
    "# Written by the boot script from src/userdata/local-database.ts; anything not listed is refused.",
    "# TYPE  DATABASE  USER  ADDRESS  METHOD",
    "local   all       postgres          peer",
    `host    ${db.name}  ${db.username}  127.0.0.1/32  scram-sha-256`,
    `host    ${db.name}  ${db.username}  ::1/128       scram-sha-256`,
    "",
  ].join("\n");
}

/** MariaDB settings: loopback only, no host name lookups, no client-side file loading. */
export function mariadbAppCnf(db: LocalDatabase): string {
  return [
    "# Written by the boot script from src/userdata/local-database.ts.",
    "[mysqld]",
    "bind-address = 127.0.0.1",
    `port = ${db.port}`,
    "skip-name-resolve",
    "local-infile = 0",
    "",
  ].join("\n");
}

/** Shell lines shared by the scripts: logging, the settings, the password into a private file. */
function scriptPrelude(name: string, database: AppDatabase, purpose: string[]): string[] {
  return [
    "#!/bin/bash",
    ...purpose.map((line) => `# ${line}`),
    "# Written by the boot script from src/userdata/local-database.ts; edit that, not this file.",
    "set -euo pipefail",
    `log() { echo "${name}: $*"; }`,
    `fail() { echo "${name}: failed: $*" >&2; exit 1; }`,
    `REGION=${database.region}`,
    `DB_ENV_FILE=\${DB_ENV_FILE:-${database.envFile}}`,
    '[[ -r $DB_ENV_FILE ]] || fail "no database settings in $DB_ENV_FILE (the deploy script writes them)"',
    "# Only DB_<NAME>=<value> lines (the deploy script checked them): safe to source.",
    '. "$DB_ENV_FILE"',
    "umask 077",
    'work=$(mktemp -d "${TMPDIR:-/var/tmp}/' + name + '.XXXXXX")',
    "trap 'rm -rf \"$work\"' EXIT",
    "",
    "# The app user's password, from its secret, into a file only root can read.",
    "secret_password() {",
    '  aws --region "$REGION" secretsmanager get-secret-value --secret-id "$DB_SECRET_ID" --query SecretString --output text >"$work/secret" ||',
    '    fail "cannot read the secret $DB_SECRET_ID"',
    '  sed -n \'s/.*"password" *: *"\\([^"]*\\)".*/\\1/p\' "$work/secret"',
    "}",
  ];
}

/** Connection options for the engine's client tools, with the password in a file (never an argument). */
function clientSetup(db: LocalDatabase): string[] {
  // An assignment, so that a failed read stops the script (set -e), never an empty password.
  const password = [
    "password=$(secret_password)",
    '[[ -n $password ]] || fail "the secret $DB_SECRET_ID holds no password"',
  ];
  return db.engine === "postgres"
    ? [
        ...password,
        'printf "%s:%s:%s:%s:%s\\n" "$DB_HOST" "$DB_PORT" "$DB_NAME" "$DB_USER" "$password" >"$work/pgpass"',
        'export PGPASSFILE="$work/pgpass"',
        'connect=(--host="$DB_HOST" --port="$DB_PORT" --username="$DB_USER" --no-password)',
      ]
    : [
        ...password,
        'printf "[client]\\npassword=%s\\n" "$password" >"$work/my.cnf"',
        'connect=(--defaults-extra-file="$work/my.cnf" --host="$DB_HOST" --port="$DB_PORT" --user="$DB_USER" --protocol=TCP)',
      ];
}

/** The bucket the dumps go to, named by its SSM parameter. */
function bucketLookup(db: LocalDatabase): string[] {
  return [
    `bucket=$(aws --region "$REGION" ssm get-parameter --name ${db.backupBucketParameter} --query Parameter.Value --output text) ||`,
    '  fail "cannot read the backups bucket\'s name"',
    `PREFIX=${db.backupPrefix}`,
  ];
}

/**
 * PostgreSQL: this session logs no statement, not even one that errors (`log_min_error_statement`
 * would print it whole, password and all), nor a slow one. Superuser settings; db-provision runs
 * as the superuser.
 */
export const PG_NO_STATEMENT_LOG = [
  "SET log_min_error_statement = 'panic';",
  "SET log_statement = 'none';",
  "SET log_min_duration_statement = -1;",
];
/**
 * MariaDB: this session writes nothing to the general query log or the slow query log (both off
 * by default; this holds should someone turn them on). A failed statement never reaches its error log.
 */
export const MARIADB_NO_STATEMENT_LOG = ["SET SESSION sql_log_off = 1;", "SET SESSION slow_query_log = 0;"];

/**
 * `db-provision`: the app's user and database, with the password its secret holds, or, while the
 * secret has no value yet (first boot), a new random one stored there first. Safe to run again.
 * `DB_ADMIN` replaces the superuser's client (`runuser -u postgres -- psql` / `mariadb`, both over
 * the local socket); the integration tests point it at their own server.
 */
export function dbProvisionScript(database: AppDatabase, db: LocalDatabase): string {
  const admin =
    db.engine === "postgres" ? "runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d postgres" : "mariadb";
  const sql =
    db.engine === "postgres"
      ? [
          // The password is in the statements below: none of this session's statements may reach the
          // server's log, not even one that fails or is slow.
          ...PG_NO_STATEMENT_LOG,
          `SELECT 'CREATE ROLE ${db.username} LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${db.username}')\\gexec`,
          `ALTER ROLE ${db.username} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '$password';`,
          `SELECT 'CREATE DATABASE ${db.name} OWNER ${db.username}' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '${db.name}')\\gexec`,
          `REVOKE ALL ON DATABASE ${db.name} FROM PUBLIC;`,
        ]
      : [
          ...MARIADB_NO_STATEMENT_LOG,
          `CREATE DATABASE IF NOT EXISTS \\\`${db.name}\\\` CHARACTER SET utf8mb4;`,
          `CREATE USER IF NOT EXISTS '${db.username}'@'127.0.0.1' IDENTIFIED BY '$password';`,
          `ALTER USER '${db.username}'@'127.0.0.1' IDENTIFIED BY '$password';`,
          `GRANT ALL PRIVILEGES ON \\\`${db.name}\\\`.* TO '${db.username}'@'127.0.0.1';`,
        ];
  return [
    "#!/bin/bash",
    `# db-provision: the app's ${db.engine} user and database on this server, with a generated password`,
    "# kept in Secrets Manager (the secret is created without a value; this fills it once).",
    "# Written by the boot script from src/userdata/local-database.ts; edit that, not this file.",
    "set -euo pipefail",
    'log() { echo "db-provision: $*"; }',
    'fail() { echo "db-provision: failed: $*" >&2; exit 1; }',
    `REGION=${database.region}`,
    `read -r -a admin <<<"\${DB_ADMIN:-${admin}}"`,
    "umask 077",
    'work=$(mktemp -d "${TMPDIR:-/var/tmp}/db-provision.XXXXXX")',
    "trap 'rm -rf \"$work\"' EXIT",
    "",
    `settings=$(aws --region "$REGION" ssm get-parameter --name ${database.settingsParameter} --query Parameter.Value --output text) ||`,
    '  fail "cannot read the database settings"',
    "secret_id=$(sed -n 's/^DB_SECRET_ID=//p' <<<\"$settings\")",
    '[[ -n $secret_id ]] || fail "the settings name no DB_SECRET_ID"',
    "",
    "# The password: the secret's, or a new random one stored in the secret before any use.",
    'if aws --region "$REGION" secretsmanager get-secret-value --secret-id "$secret_id" --query SecretString --output text >"$work/secret" 2>"$work/error"; then',
    '  log "password: the one in $secret_id"',
    'elif grep -q ResourceNotFoundException "$work/error"; then',
    "  # 32 random bytes as hex: nothing in it needs quoting in SQL or JSON.",
    "  password=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n')",
    `  printf '{"username":"%s","password":"%s"}' ${db.username} "$password" >"$work/secret"`,
    '  aws --region "$REGION" secretsmanager put-secret-value --secret-id "$secret_id" --secret-string "file://$work/secret" >/dev/null ||',
    '    fail "cannot store the new password in $secret_id"',
    '  log "password: generated and stored in $secret_id"',
    "else",
    '  cat "$work/error" >&2',
    '  fail "cannot read the secret $secret_id"',
    "fi",
    'password=$(sed -n \'s/.*"password" *: *"\\([^"]*\\)".*/\\1/p\' "$work/secret")',
    "# Letters and digits only: it goes into SQL below, and into the client tools' password files.",
    '[[ $password =~ ^[A-Za-z0-9]{16,128}$ ]] || fail "the password in $secret_id must be 16 to 128 letters or digits"',
    "",
    "# SQL on standard input, never in an argument or a log line.",
    '"${admin[@]}" <<SQL',
    ...sql,
    "SQL",
    `log "user ${db.username} and database ${db.name} ready"`,
    "",
  ].join("\n");
}

/**
 * `db-backup`: a logical dump of the app's database (`pg_dump --format=custom`, or `mariadb-dump`
 * gzip-compressed), written to disk, checked, then uploaded to the backups bucket as
 * `<prefix><name>-<UTC time>.<ext>`. The bucket keeps it `backupRetentionDays` (lifecycle). Once
 * the upload succeeded, and only then, it publishes `BACKUP_METRIC` (the instance role may: its
 * PublishMetrics statement allows cloudwatch:PutMetricData in the environment's namespaces, app-identity.ts)
 * in `namespace`;
 * `INSTANCE_ID_FILE` in the environment replaces cloud-init's file (the integration tests).
 */
export function dbBackupScript(database: AppDatabase, db: LocalDatabase, namespace: string): string {
  const ext = db.engine === "postgres" ? "dump" : "sql.gz";
  const dump =
    db.engine === "postgres"
      ? [
          'pg_dump "${connect[@]}" --dbname="$DB_NAME" --format=custom --no-owner --no-privileges --file="$work/dump"',
          "# A dump pg_restore cannot read is not a backup.",
          'pg_restore --list "$work/dump" >/dev/null || fail "pg_dump wrote an unreadable dump"',
        ]
      : [
          'mariadb-dump "${connect[@]}" --single-transaction --quick --routines --triggers --events --skip-lock-tables "$DB_NAME" | gzip -6 >"$work/dump"',
          'gzip -t "$work/dump" || fail "mariadb-dump wrote an unreadable dump"',
        ];
  return [
    ...scriptPrelude("db-backup", database, [
      `db-backup: a logical dump of the app's ${db.engine} database to the backups bucket`,
      "(run nightly by db-backup.timer; run it by hand whenever a dump is wanted).",
    ]),
    "",
    ...bucketLookup(db),
    ...clientSetup(db),
    "started=$SECONDS",
    ...dump,
    `key="$PREFIX$DB_NAME-$(date -u +%Y%m%dT%H%M%SZ).${ext}"`,
    'aws --region "$REGION" s3 cp "$work/dump" "s3://$bucket/$key" --only-show-errors --checksum-algorithm SHA256 ||',
    '  fail "upload to s3://$bucket/$key"',
    'log "s3://$bucket/$key: $(stat -c %s "$work/dump") bytes in $((SECONDS - started)) s"',
    `# Only now, with the dump in the bucket: the datapoint the backup alarm waits for (none in ${BACKUP_ALARM_HOURS} h pages).`,
    `instance_id=$(cat "\${INSTANCE_ID_FILE:-${INSTANCE_ID_FILE}}") || fail "no instance id to publish the backup metric with"`,
    `metric=(aws --region "$REGION" cloudwatch put-metric-data --namespace ${namespace} --metric-name ${BACKUP_METRIC.metricName} --dimensions "InstanceId=$instance_id" --value 1 --unit Count)`,
    '"${metric[@]}" || { sleep 5; "${metric[@]}"; } || fail "s3://$bucket/$key is uploaded, but CloudWatch took no metric: the backup alarm will fire"',
    `log "published ${namespace}/${BACKUP_METRIC.metricName} for $instance_id"`,
    "",
  ].join("\n");
}

/**
 * `db-restore <key>|latest`: downloads a dump from the backups bucket and replaces the app's
 * database with it: what the dump does not hold goes too (a table a later release's migration
 * added, whose foreign keys would stop the dump's tables being dropped, or whose leftover would
 * fail that migration when the deploy runs it again). PostgreSQL: everything the app's user owns
 * is dropped, then the dump restored, in one transaction (any error, and nothing changed);
 * MariaDB: the database is dropped and created again, then the dump loaded. Afterwards,
 * `deploy <the running version>` applies any migration the dump predates.
 */
export function dbRestoreScript(database: AppDatabase, db: LocalDatabase): string {
  const restore =
    db.engine === "postgres"
      ? [
          // COMMIT only after all of the dump: psql's --single-transaction commits at the end of its
          // input, also when pg_restore died half-way (an unreadable or cut dump) and sent no more.
          // pg_restore's own writes its one COMMIT last (and no per-large-object BEGIN/COMMIT of its
          // own, which would commit the DROP part-way); its BEGIN inside ours is only a warning
          '{ echo "BEGIN;DROP OWNED BY CURRENT_USER CASCADE;"; pg_restore --single-transaction --no-owner --no-privileges --file=- "$work/dump"; } |',
          '  psql "${connect[@]}" --dbname="$DB_NAME" -X -q -v ON_ERROR_STOP=1 >/dev/null',
        ]
      : [
          // DDL commits at once: the dump is checked before the database is dropped. --sandbox (after
          // --defaults-extra-file, which must come first): a dump is data, never the client's shell
          // commands (\!): this runs as root, and the server's role may write what it restores
          'gunzip -t "$work/dump" || fail "$target is not a whole gzip file: nothing changed"',
          '{ echo "DROP DATABASE $DB_NAME; CREATE DATABASE $DB_NAME CHARACTER SET utf8mb4; USE $DB_NAME;"; gunzip -c "$work/dump"; } |',
          '  mariadb "${connect[@]}" --sandbox',
        ];
  return [
    ...scriptPrelude("db-restore", database, [
      `db-restore <key>|latest: restores the app's ${db.engine} database from a dump in the backups bucket.`,
    ]),
    "",
    'target="${1:?usage: db-restore <key>|latest (keys: aws s3 ls s3://<bucket>/<prefix>)}"',
    ...bucketLookup(db),
    "if [[ $target == latest ]]; then",
    '  target=$(aws --region "$REGION" s3api list-objects-v2 --bucket "$bucket" --prefix "$PREFIX" \\',
    "    --query 'sort_by(Contents, &Key)[-1].Key' --output text) || fail \"cannot list s3://$bucket/$PREFIX\"",
    '  [[ -n $target && $target != None ]] || fail "no dump in s3://$bucket/$PREFIX"',
    "fi",
    '[[ $target == "$PREFIX"* ]] || target="$PREFIX$target"',
    ...clientSetup(db),
    "started=$SECONDS",
    'aws --region "$REGION" s3 cp "s3://$bucket/$target" "$work/dump" --only-show-errors || fail "download of s3://$bucket/$target"',
    ...restore,
    'log "restored s3://$bucket/$target into $DB_NAME in $((SECONDS - started)) s"',
    "",
  ].join("\n");
}

/** logrotate's rule for `DB_BACKUP_LOG`: weekly, a year of runs kept (a few lines a night). */
export function dbBackupLogrotate(): string {
  return `${DB_BACKUP_LOG} {\n    weekly\n    rotate 52\n    compress\n    missingok\n    notifempty\n    copytruncate\n}\n`;
}

/**
 * The systemd service and timer of the nightly dump. Its output goes to `DB_BACKUP_LOG`, which the
 * CloudWatch agent ships to the app's log group (and logrotate rotates): a failed dump is seen
 * there, not only in the server's journal.
 */
export function dbBackupUnits(paths: AppHostPaths, db: LocalDatabase): { service: string; timer: string } {
  return {
    service: [
      "# Written by the boot script from src/userdata/local-database.ts.",
      "[Unit]",
      "Description=Nightly dump of the app's database to S3",
      `After=network-online.target ${db.engine === "postgres" ? "postgresql" : "mariadb"}.service`,
      "",
      "[Service]",
      "Type=oneshot",
      `ExecStart=${paths.appRoot}/${DB_BACKUP_SCRIPT}`,
      "# A hung dump is stopped (and fails) rather than holding the unit active, which skips every later run.",
      `TimeoutStartSec=${BACKUP_TIMEOUT}`,
      `StandardOutput=append:${DB_BACKUP_LOG}`,
      `StandardError=append:${DB_BACKUP_LOG}`,
      "Nice=10",
      "IOSchedulingClass=best-effort",
      "IOSchedulingPriority=7",
      "",
    ].join("\n"),
    timer: [
      "# Written by the boot script from src/userdata/local-database.ts.",
      "[Unit]",
      "Description=Nightly dump of the app's database to S3",
      "",
      "[Timer]",
      `OnCalendar=${db.backupSchedule}`,
      "RandomizedDelaySec=15min",
      "# A run missed while the server was off happens when it is back.",
      "Persistent=true",
      "",
      "[Install]",
      "WantedBy=timers.target",
      "",
    ].join("\n"),
  };
}

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { SERVER_PATHS, type AppDatabase, type AppHost } from "../../src/userdata/app-host";
import { appUnit } from "../../src/userdata/app-unit";
import { DATABASE_SETTING_LINE, databaseSettingsLines, type DatabaseSettings } from "../../src/userdata/database-step";
import { deployScript } from "../../src/userdata/deploy-script";
import {
  dbBackupScript,
  dbBackupLogrotate,
  dbBackupUnits,
  dbProvisionScript,
  dbRestoreScript,
  mariadbAppCnf,
  postgresHba,
} from "../../src/userdata/local-database";
import { tempDir, TEST_METRIC_NAMESPACES, testHost } from "../helpers";

const BACKUPS = TEST_METRIC_NAMESPACES.backups;

/** The database files a server is given, as text (the drills in __tests__/server run them for real). */

const LOCAL: NonNullable<AppDatabase["local"]> = {
  engine: "postgres",
  serverPackage: "postgresql16-server",
  port: 5432,
  name: "app",
  username: "app",
  backupBucketParameter: "/shop/dev/db/backups-bucket",
  backupPrefix: "db/",
  backupSchedule: "*-*-* 18:00:00 UTC",
};
const DATABASE: AppDatabase = {
  settingsParameter: "/shop/dev/app/database",
  region: "ap-northeast-2",
  envFile: "/etc/app/database.env",
  local: LOCAL,
};
const host = (database?: AppDatabase): AppHost =>
  testHost({
    nginxUser: undefined,
    artifacts: {
      region: "ap-northeast-2",
      bucketParameter: "/shop/dev/app/artifacts-bucket",
      releaseKey: "app/release.tar.gz",
    },
    database,
  });

function bashSyntaxErrors(script: string): string {
  const file = path.join(tempDir("bash-n-"), "script.sh");
  fs.writeFileSync(file, script);
  return spawnSync("bash", ["-n", file], { encoding: "utf8" }).stderr;
}

describe("the database scripts", () => {
  test.each([
    ["db-provision (postgres)", dbProvisionScript(DATABASE, LOCAL)],
    ["db-provision (mariadb)", dbProvisionScript(DATABASE, { ...LOCAL, engine: "mariadb", port: 3306 })],
    ["db-backup (postgres)", dbBackupScript(DATABASE, LOCAL, BACKUPS)],
    ["db-backup (mariadb)", dbBackupScript(DATABASE, { ...LOCAL, engine: "mariadb" }, BACKUPS)],
    ["db-restore (postgres)", dbRestoreScript(DATABASE, LOCAL)],
    ["db-restore (mariadb)", dbRestoreScript(DATABASE, { ...LOCAL, engine: "mariadb" })],
    ["deploy with a database", deployScript(host(DATABASE))],
  ])("%s parses (bash -n) and stops at the first failure", (_name, script) => {
    expect(bashSyntaxErrors(script)).toBe("");
    expect(script).toContain("\nset -euo pipefail\n");
  });

  test("the password goes to the engine on standard input and to the client tools in a root-only file, never as an argument", () => {
    const provision = dbProvisionScript(DATABASE, LOCAL);
    expect(provision).toContain("umask 077");
    expect(provision).toContain('--secret-string "file://$work/secret"');
    expect(provision).toMatch(/"\$\{admin\[@\]\}" <<SQL\n/);
    expect(provision).not.toMatch(/(psql|mariadb)[^\n]*\$password/);
    for (const script of [dbBackupScript(DATABASE, LOCAL, BACKUPS), dbRestoreScript(DATABASE, LOCAL)]) {
      // files made from here on are root's alone, the folder that holds the password among them
      expect(script.indexOf("\numask 077\n")).toBeGreaterThan(-1);
      expect(script.indexOf("\numask 077\n")).toBeLessThan(script.indexOf("work=$(mktemp -d"));
      expect(script).toContain('export PGPASSFILE="$work/pgpass"');
      expect(script).not.toMatch(/PGPASSWORD|--password=/);
    }
    const mariadb = dbBackupScript(DATABASE, { ...LOCAL, engine: "mariadb" }, BACKUPS);
    expect(mariadb).toContain('--defaults-extra-file="$work/my.cnf"');
  });

  test.each([
    [
      "postgres",
      /SET log_min_error_statement = 'panic';\nSET log_statement = 'none';\nSET log_min_duration_statement = -1;\n/,
    ],
    ["mariadb", /SET SESSION sql_log_off = 1;\nSET SESSION slow_query_log = 0;\n/],
  ] as const)("%s: the session that sets the password first turns off every statement log", (engine, quiet) => {
    const provision = dbProvisionScript(DATABASE, { ...LOCAL, engine });
    const sql = provision.slice(provision.indexOf("<<SQL\n"), provision.indexOf("\nSQL\n"));
    expect(sql).toMatch(quiet);
    const silenced = sql.search(quiet);
    const firstPassword = sql.indexOf("$password");
    expect(firstPassword).toBeGreaterThan(0);
    expect(silenced).toBeGreaterThan(0);
    expect(silenced).toBeLessThan(firstPassword);
    expect(sql.slice(0, silenced)).toBe("<<SQL\n");
  });

  test("PostgreSQL admits the app's user to the app's database over loopback with SCRAM, the superuser only as the OS user postgres", () => {
    expect(
      postgresHba(LOCAL)
        .split("\n")
        .filter((line) => line && !line.startsWith("#")),
    ).toEqual([
      "local   all       postgres          peer",
      "host    app  app  127.0.0.1/32  scram-sha-256",
      "host    app  app  ::1/128       scram-sha-256",
    ]);
    expect(mariadbAppCnf(LOCAL)).toContain("\nbind-address = 127.0.0.1\n");
    // and no client may make the server read a file of the server's (LOAD DATA LOCAL)
    expect(mariadbAppCnf(LOCAL)).toContain("\nlocal-infile = 0\n");
  });

  test("the nightly dump: a oneshot service on a persistent timer, run as root and logging in a root-owned folder", () => {
    const units = dbBackupUnits(SERVER_PATHS, LOCAL);
    expect(units.service).toContain("\nType=oneshot\nExecStart=/opt/app/bin/db-backup\n");
    expect(units.service).not.toMatch(/^User=/m);
    // not in the app user's /var/log/app: there that user could swap the file for a link root appends through
    expect(units.service).toContain("\nStandardOutput=append:/var/log/db-backup.log\n");
    expect(units.service).toContain("\nStandardError=append:/var/log/db-backup.log\n");
    expect(units.service).not.toContain(SERVER_PATHS.appLogDir);
    expect(dbBackupLogrotate()).toMatch(/^\/var\/log\/db-backup\.log \{\n/);
    expect(units.timer).toContain("\nOnCalendar=*-*-* 18:00:00 UTC\n");
    expect(units.timer).toContain("\nPersistent=true\n");
  });

  test("a hung dump is stopped after 2 hours: the oneshot does not stay active and skip the following nights", () => {
    const { service } = dbBackupUnits(SERVER_PATHS, LOCAL);
    expect(service).toMatch(/\nTimeoutStartSec=2h\n/);
  });

  describe("db-backup publishes the backup alarm's metric only once the dump is in the bucket (stand-in aws, pg_dump)", () => {
    // The rendered script, run for real with stand-ins first on PATH: `aws` logs each call and
    // fails the upload when told to; pg_dump writes a file; pg_restore accepts it.
    const run = (failing: "" | "upload" | "dump") => {
      const dir = tempDir("db-backup-run-");
      const bin = path.join(dir, "bin");
      fs.mkdirSync(bin);
      const stub = (name: string, body: string) =>
        fs.writeFileSync(path.join(bin, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
      stub(
        "aws",
        [
          `echo "$*" >> ${dir}/calls.log`,
          'case "$*" in',
          '  *"ssm get-parameter"*) echo backups-bucket ;;',
          '  *"secretsmanager get-secret-value"*) echo \'{"username":"app","password":"pw0123456789abcdef"}\' ;;',
          `  *"s3 cp"*) [[ $FAILING != upload ]] || { echo "upload failed" >&2; exit 1; } ;;`,
          "esac",
        ].join("\n"),
      );
      stub(
        "pg_dump",
        '[[ $FAILING != dump ]] || { echo "pg_dump: error: connection refused" >&2; exit 1; }; for a; do [[ $a == --file=* ]] && echo dump > "${a#--file=}"; done; exit 0',
      );
      stub("pg_restore", "exit 0");
      const envFile = path.join(dir, "database.env");
      fs.writeFileSync(envFile, "DB_HOST=127.0.0.1\nDB_PORT=5432\nDB_NAME=app\nDB_USER=app\nDB_SECRET_ID=app-secret\n");
      fs.writeFileSync(path.join(dir, "instance-id"), "i-0123456789abcdef0\n");
      const script = path.join(dir, "db-backup");
      fs.writeFileSync(script, dbBackupScript(DATABASE, LOCAL, BACKUPS), { mode: 0o755 });
      const result = spawnSync(script, [], {
        encoding: "utf8",
        env: {
          PATH: `${bin}:${process.env.PATH}`,
          TMPDIR: dir,
          DB_ENV_FILE: envFile,
          INSTANCE_ID_FILE: path.join(dir, "instance-id"),
          FAILING: failing,
        },
      });
      const calls = fs.existsSync(path.join(dir, "calls.log"))
        ? fs.readFileSync(path.join(dir, "calls.log"), "utf8").split("\n").filter(Boolean)
        : [];
      return { status: result.status, output: result.stdout + result.stderr, calls };
    };

    test("a dump uploaded: one DumpUploaded datapoint for this instance, after the upload", () => {
      const { status, calls } = run("");
      expect(status).toBe(0);
      const upload = calls.findIndex((c) => c.startsWith("--region ap-northeast-2 s3 cp "));
      const metric = calls.findIndex((c) => c.includes("cloudwatch put-metric-data"));
      expect(upload).toBeGreaterThanOrEqual(0);
      expect(metric).toBeGreaterThan(upload);
      expect(calls[metric]).toBe(
        "--region ap-northeast-2 cloudwatch put-metric-data --namespace shop/dev/AppBackups --metric-name DumpUploaded --dimensions InstanceId=i-0123456789abcdef0 --value 1 --unit Count",
      );
    });

    test.each([
      ["the upload fails", "upload", /failed: upload to s3:\/\/backups-bucket\/db\/app-/],
      ["the dump fails", "dump", /pg_dump: error: connection refused/],
    ] as const)("%s: the script fails and publishes nothing", (_what, failing, message) => {
      const { status, output, calls } = run(failing);
      expect(status).not.toBe(0);
      expect(output).toMatch(message);
      expect(calls.filter((c) => c.includes("put-metric-data"))).toEqual([]);
    });
  });
});

describe("the app's settings", () => {
  const settings: DatabaseSettings = {
    engine: "postgres",
    host: "db.example.ap-northeast-2.rds.amazonaws.com",
    port: 5432,
    name: "app",
    username: "app_admin",
    tls: "verify-full",
    caFile: "/etc/app/rds-ca.pem",
    secretId: "arn:aws:secretsmanager:ap-northeast-2:111122223333:secret:rds!db-1234-AbCdEf",
    region: "ap-northeast-2",
  };

  test("are DB_<NAME>=<value> lines the deploy script accepts", () => {
    const lines = databaseSettingsLines(settings).split("\n");
    for (const line of lines) expect(line).toMatch(DATABASE_SETTING_LINE);
    expect(lines).toContain("DB_TLS=verify-full");
  });

  test("refuse a value the deploy script would refuse (a space, a quote), and TLS without a CA bundle", () => {
    expect(() => databaseSettingsLines({ ...settings, host: "db host" })).toThrow(
      /"DB_HOST=db host" is not DB_<NAME>=<value>/,
    );
    expect(() => databaseSettingsLines({ ...settings, name: "a'b" })).toThrow(/DB_NAME/);
    expect(() => databaseSettingsLines({ ...settings, caFile: undefined })).toThrow(
      /caFile is required with tls verify-full/,
    );
  });

  test("each deploy writes the settings without loosening their folder: root:<app user> 0750 stays so", () => {
    const script = deployScript(host(DATABASE));
    expect(script).not.toMatch(/install -d -m 0755[^\n]*DB_ENV_FILE/);
    expect(script).toContain(
      '[[ -d $(dirname "$DB_ENV_FILE") ]] || install -d -m 0750 -o root -g "$APP_USER" "$(dirname "$DB_ENV_FILE")" || return 1',
    );
    // the function itself, run on a folder made as the boot script makes it (stand-in for the SSM call)
    const start = script.indexOf("write_database_settings() {");
    const fn = script.slice(start, script.indexOf("\n}\n", start) + 3);
    const dir = tempDir("db-settings-");
    const folder = path.join(dir, "etc-app");
    fs.mkdirSync(folder, { mode: 0o750 });
    fs.chmodSync(folder, 0o750);
    const group = spawnSync("id", ["-gn"], { encoding: "utf8" }).stdout.trim();
    const result = spawnSync(
      "bash",
      [
        "--norc", // with no rc file, as the deploy script runs (see workflows.test.ts's runStep)
        "-c",
        [
          "set -euo pipefail",
          'log() { echo "$*"; }',
          "database_aws() { echo DB_ENGINE=postgres; echo DB_HOST=127.0.0.1; }",
          `DB_ENV_FILE=${folder}/database.env DB_SETTINGS_PARAMETER=/p APP_USER=${group}`,
          fn,
          "write_database_settings",
        ].join("\n"),
      ],
      { encoding: "utf8" },
    );
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(fs.readFileSync(path.join(folder, "database.env"), "utf8")).toBe("DB_ENGINE=postgres\nDB_HOST=127.0.0.1\n");
    expect(fs.statSync(folder).mode & 0o777).toBe(0o750);
  });

  test("a host without a database gets no database step and no settings file in its unit", () => {
    expect(deployScript(host())).not.toContain("run_migrations");
    expect(appUnit(host())).not.toContain("database.env");
    expect(appUnit(host(DATABASE))).toContain("EnvironmentFile=-/etc/app/database.env\n");
  });
});

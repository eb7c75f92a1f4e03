import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { installedDependencies } from "../../src/artifact/app-dependencies";
import { entriesFromDirectory } from "../../src/artifact/releases";
import type { AppDatabase, LocalDatabase } from "../../src/userdata/app-host";
import { databaseSettingsLines } from "../../src/userdata/database-step";
import {
  DB_BACKUP_SCRIPT,
  DB_PROVISION_SCRIPT,
  DB_RESTORE_SCRIPT,
  dbBackupScript,
  dbProvisionScript,
  dbRestoreScript,
} from "../../src/userdata/local-database";
import type { ServerCertificate } from "./certificates";
import { RealDatabase, type DrillEngine } from "./databases";
import { TEST_METRIC_NAMESPACES } from "../helpers";
import { request, type Reply } from "./load";
import { readEnvironmentFile, ROOT, run, TestBed, type DeployRun } from "./testbed";

/**
 * One single server's worth of the app and its own database, for real on 127.0.0.1: a real
 * PostgreSQL or MariaDB configured as the boot script configures it, the boot script's
 * db-provision / db-backup / db-restore scripts, real nginx and app processes behind it (the
 * in-server test bed), and the deploy script with its migration step.
 *
 * No AWS here: a stand-in `aws` (written below; its calls are logged) answers what the scripts
 * and the app ask of SSM Parameter Store, Secrets Manager and S3 from a folder the test controls,
 * so credentials reach the app processes the way they do on a server: settings from a parameter
 * into the env file the app@ unit loads, the password from the secret, read by the app itself.
 */

const STAND_IN_AWS = `#!/bin/bash
# test stand-in for the AWS CLI: the calls of the database scripts and the app, served from @STATE@
# (builtins only on the paths every deploy and every app start takes: each program a call runs
# is a process more, and the database drills make a few hundred calls)
set -euo pipefail
state=@STATE@
echo "$*" >> "$state/calls.log"
# the value after the option $1, in ARG
arg() { local want=$1; shift; ARG=''; while (($#)); do if [[ $1 == "$want" ]]; then ARG=$2; return; fi; shift; done; }
# $1 as a file name, in FILE: every character but A-Za-z0-9._- made _
file_of() { FILE=\${1//[^A-Za-z0-9._-]/_}; }
# the file $1 and a newline, as the CLI prints a value with --output text
print_file() { local content=''; IFS= read -r -d '' content < "$1" || true; printf '%s\\n' "$content"; }
# s3 cp: the two positional arguments (options with a value skipped)
positional() { local out=() ; while (($#)); do case $1 in --region|--checksum-algorithm) shift 2 ;; --*) shift ;; *) out+=("$1"); shift ;; esac; done; echo "\${out[@]:2}"; }
case "$*" in
  *"ssm get-parameter"*)
    arg --name "$@"; file_of "$ARG"; f="$state/parameters/$FILE"
    if [[ ! -f $f ]]; then echo "An error occurred (ParameterNotFound) when calling the GetParameter operation" >&2; exit 254; fi
    print_file "$f" ;;
  *"secretsmanager get-secret-value"*)
    arg --secret-id "$@"; file_of "$ARG"; f="$state/secrets/$FILE"
    if [[ ! -f $f ]]; then
      echo "An error occurred (ResourceNotFoundException) when calling the GetSecretValue operation: Secrets Manager can't find the specified secret value for staging label: AWSCURRENT" >&2
      exit 254
    fi
    print_file "$f" ;;
  *"secretsmanager put-secret-value"*)
    arg --secret-string "$@"; src=$ARG
    if [[ $src != file://* ]]; then echo "stand-in aws: a secret only from a file://" >&2; exit 2; fi
    mkdir -p "$state/secrets"
    arg --secret-id "$@"; file_of "$ARG"
    cp "\${src#file://}" "$state/secrets/$FILE"
    echo '{"VersionId": "stand-in"}' ;;
  *"s3 cp "*)
    read -r from to <<<"$(positional "$@")"
    if [[ $from == s3://* ]]; then
      f="$state/s3/\${from#s3://}"
      if [[ ! -f $f ]]; then echo "fatal error: An error occurred (404) when calling the HeadObject operation: Not Found" >&2; exit 1; fi
      cp "$f" "$to"
    else
      mkdir -p "$(dirname "$state/s3/\${to#s3://}")"
      cp "$from" "$state/s3/\${to#s3://}"
    fi ;;
  *"cloudwatch put-metric-data"*) ;;
  *"s3api list-objects-v2"*)
    arg --bucket "$@"; bucket=$ARG; arg --prefix "$@"; prefix=$ARG
    newest=$(cd "$state/s3/$bucket" 2>/dev/null && find . -type f -path "./$prefix*" | sed 's|^\\./||' | sort | tail -n 1 || true)
    echo "\${newest:-None}" ;;
  *) echo "stand-in aws: unexpected call: $*" >&2; exit 2 ;;
esac
`;

/** The instance id db-backup reads (cloud-init writes it on a server). */
export const DRILL_INSTANCE_ID = "i-0d0d0d0d0d0d0d0d0";
const SETTINGS_PARAMETER = "/drill/app/database";
const BACKUPS_PARAMETER = "/drill/db/backups-bucket";

/** What the boot script knows of the drills' database on `port`: the app's, backed up nightly. */
export function drillDatabase(engine: DrillEngine, port: number): LocalDatabase {
  return {
    engine,
    serverPackage: "(Debian's, in the test)",
    port,
    name: "app",
    username: "app",
    backupBucketParameter: BACKUPS_PARAMETER,
    backupPrefix: "db/",
    backupSchedule: "*-*-* 18:00:00 UTC",
  };
}
const BACKUPS_BUCKET = "drill-db-backups";
/** Shaped like an RDS-managed secret's ARN, `!` and all: the settings file must carry it. */
export const SECRET_ARN = "arn:aws:secretsmanager:test-1:000000000000:secret:rds!db-0drill-Ab12Cd";

/** One HTTP request to 127.0.0.1:`port`; never throws for a status, rejects on a network error or after 10 s (bounded, and patient with a loaded machine). */
export function call(
  port: number,
  method: "GET" | "POST",
  pathname: string,
  body?: string,
  agent?: http.Agent,
): Promise<Reply> {
  return request(method, port, pathname, agent, 10_000, body);
}

export class DatabaseBed {
  private constructor(
    public readonly engine: DrillEngine,
    public readonly db: RealDatabase,
    public readonly bed: TestBed,
  ) {}

  /** The real database, provisioned, and `processes` app processes serving release 1.0.0 behind nginx. */
  static async create(engine: DrillEngine, processes: number, tls?: ServerCertificate): Promise<DatabaseBed> {
    const db = await RealDatabase.start(engine, (port) => drillDatabase(engine, port), tls);
    let bed: TestBed | undefined;
    try {
      const database = (dir: string): AppDatabase => ({
        settingsParameter: SETTINGS_PARAMETER,
        region: "test-1",
        envFile: path.join(dir, "etc", "database.env"),
        local: db.local,
      });
      // nginx takes a failed process out for 1 s (the servers: 2 s): a deploy settles sooner.
      bed = await TestBed.create(processes, { database, passiveHealthCheck: { maxFails: 2, failTimeoutSeconds: 1 } });
      const drill = new DatabaseBed(engine, db, bed);
      drill.renderAws();
      drill.renderScripts();
      await drill.provision();
      drill.putRelease("1.0.0");
      await bed.start();
      const first = await drill.deploy("1.0.0");
      if (first.code !== 0) throw new Error(`first deploy failed:\n${first.output}`);
      return drill;
    } catch (error) {
      await bed?.stop();
      await db.stop();
      throw error;
    }
  }

  get stateDir(): string {
    return path.join(this.bed.dir, "aws");
  }

  /** The stand-in aws, and what it serves: the settings and the bucket's name; the secret starts empty. */
  private renderAws(): void {
    for (const dir of ["parameters", "secrets", "s3"]) fs.mkdirSync(path.join(this.stateDir, dir), { recursive: true });
    fs.writeFileSync(path.join(this.bed.dir, "bin", "aws"), STAND_IN_AWS.replaceAll("@STATE@", this.stateDir), {
      mode: 0o755,
    });
    const parameter = (name: string, value: string) =>
      fs.writeFileSync(path.join(this.stateDir, "parameters", name.replace(/[^A-Za-z0-9._-]/g, "_")), value);
    parameter(
      SETTINGS_PARAMETER,
      databaseSettingsLines({
        engine: this.engine,
        host: "127.0.0.1",
        port: this.db.port,
        name: "app",
        username: "app",
        tls: "disable",
        secretId: SECRET_ARN,
        region: "test-1",
      }),
    );
    parameter(BACKUPS_PARAMETER, BACKUPS_BUCKET);
  }

  private renderScripts(): void {
    const database = this.bed.host.database!;
    const local = database.local!;
    const write = (file: string, content: string) =>
      fs.writeFileSync(path.join(this.bed.host.paths.appRoot, file), content, { mode: 0o700 });
    write(DB_PROVISION_SCRIPT, dbProvisionScript(database, local));
    write(DB_BACKUP_SCRIPT, dbBackupScript(database, local, TEST_METRIC_NAMESPACES.backups));
    write(DB_RESTORE_SCRIPT, dbRestoreScript(database, local));
  }

  /** The environment the scripts run with on this test bed: the stand-in aws first on PATH. */
  private scriptEnv(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      PATH: `${path.join(this.bed.dir, "bin")}:${process.env.PATH}`,
      TMPDIR: this.bed.dir,
      DB_ADMIN: this.db.adminCommand(),
      INSTANCE_ID_FILE: this.instanceIdFile(),
    };
  }

  /** The instance id db-backup publishes its metric for (cloud-init's file, on a server). */
  private instanceIdFile(): string {
    const file = path.join(this.bed.dir, "instance-id");
    if (!fs.existsSync(file)) fs.writeFileSync(file, `${DRILL_INSTANCE_ID}\n`);
    return file;
  }

  /** Runs one of the boot script's database scripts; resolves to its output. */
  async script(file: string, args: readonly string[] = []): Promise<string> {
    const { stdout, stderr } = await run(path.join(this.bed.host.paths.appRoot, file), args, { env: this.scriptEnv() });
    return stdout + stderr;
  }

  provision(): Promise<string> {
    return this.script(DB_PROVISION_SCRIPT);
  }

  /** The secret's value, as the stand-in keeps it; undefined while it has none. */
  secret(): { username: string; password: string } | undefined {
    const file = path.join(this.stateDir, "secrets", SECRET_ARN.replace(/[^A-Za-z0-9._-]/g, "_"));
    return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : undefined;
  }

  /** Replaces the secret's value (a rotation). */
  setSecret(value: { username: string; password: string }): void {
    fs.writeFileSync(
      path.join(this.stateDir, "secrets", SECRET_ARN.replace(/[^A-Za-z0-9._-]/g, "_")),
      JSON.stringify(value),
    );
  }

  /** Every aws call made so far, one line each. */
  awsCalls(): string[] {
    const log = path.join(this.stateDir, "calls.log");
    return fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").filter(Boolean) : [];
  }

  /** The dumps in the stand-in bucket. */
  dumps(): string[] {
    const dir = path.join(this.stateDir, "s3", BACKUPS_BUCKET, "db");
    return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
  }

  private dumpFile(name: string): string {
    return path.join(this.stateDir, "s3", BACKUPS_BUCKET, "db", name);
  }

  /** The bytes of dump `name` in the backups bucket. */
  readDump(name: string): Buffer {
    return fs.readFileSync(this.dumpFile(name));
  }

  /** Puts `bytes` in the backups bucket as dump `name`, as anything with the server's role could. */
  putDump(name: string, bytes: Buffer): void {
    fs.writeFileSync(this.dumpFile(name), bytes);
  }

  removeDump(name: string): void {
    fs.rmSync(this.dumpFile(name));
  }

  /**
   * Puts a release of the sample app on disk as the deploy script would after fetching it: the
   * release's files (`edit` may change them, e.g. add a migration), and the dependencies the lock
   * file pins (linked: the same tree the release tarball packs).
   */
  putRelease(version: string, edit: (files: Map<string, string>) => void = () => {}): void {
    const entries = entriesFromDirectory(path.join(ROOT, "app"));
    const files = new Map<string, string>(
      entries
        .filter((e) => e.type === "file")
        .map((e) => [e.path, Buffer.from(e.content ?? new Uint8Array()).toString("utf8")]),
    );
    const manifest = JSON.parse(files.get("package.json")!);
    files.set("package.json", JSON.stringify({ ...manifest, version }, null, 2));
    edit(files);
    const release = path.join(this.bed.host.paths.appRoot, "releases", version);
    for (const [file, content] of files) {
      fs.mkdirSync(path.dirname(path.join(release, file)), { recursive: true });
      fs.writeFileSync(path.join(release, file), content);
    }
    const modules = installedDependencies(entries);
    if (modules) fs.symlinkSync(modules, path.join(release, "node_modules"));
  }

  /**
   * Runs each probe's `sql` through the app's own database code (db.js of release 1.0.0, with its
   * dependencies), with the app's settings changed by the probe's `overrides`, all at once in one
   * child process as the app runs; resolves to each first row's first value, or the error's message.
   */
  async probe(
    probes: ReadonlyArray<{ overrides: Record<string, string>; sql: string }>,
  ): Promise<Array<{ value?: string; error?: string }>> {
    const release = path.join(this.bed.host.paths.appRoot, "releases", "1.0.0");
    const script = [
      'const { Database, settingsFromEnv } = require("./db");',
      "const probes = JSON.parse(process.env.PROBES);",
      "Promise.all(probes.map(async ({ overrides, sql }) => {",
      "  const db = new Database(settingsFromEnv({ ...process.env, ...overrides }), () => {});",
      "  try {",
      "    const rows = await db.query(sql);",
      "    return { value: String(Object.values(rows[0])[0]) };",
      "  } catch (error) {",
      "    return { error: error.message };",
      "  } finally {",
      "    await db.close().catch(() => {});",
      "  }",
      "})).then((results) => console.log(JSON.stringify(results)));",
    ].join("\n");
    const env = {
      ...process.env,
      ...readEnvironmentFile(this.bed.host.database!.envFile),
      PROBES: JSON.stringify(probes),
      PATH: `${path.join(this.bed.dir, "bin")}:${process.env.PATH}`,
    };
    const { stdout } = await run(process.execPath, ["-e", script], { env, cwd: release });
    return JSON.parse(stdout.trim().split("\n").pop()!);
  }

  deploy(version: string): Promise<DeployRun> {
    return this.bed.deploy(version, { APP_RETRY_SECONDS: "0" });
  }

  /** Rows of the app's notes, as the superuser sees them: "id<TAB>body" lines, by id. */
  notes(): Promise<string> {
    return this.db.admin("SELECT id, body FROM notes ORDER BY id", "app");
  }

  async stop(): Promise<void> {
    await this.bed.stop();
    await this.db.stop();
  }
}

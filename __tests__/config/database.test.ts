import * as fs from "node:fs";
import * as path from "node:path";
import { AL2023_SERVER_PACKAGES } from "../../src/config/database-engines";
import { ConfigError } from "../../src/config/errors";
import { loadEnvironments, parseEnvironment } from "../../src/config/load";
import { APP_POOL_CONNECTIONS, FLEET_MAX_HEALTHY_PERCENT } from "../../src/config/rules";
import { environmentFile, tempDir, writeEnvironments } from "../helpers";
import { shippedStack } from "../shipped";

/** The database section of an environment file: what each layout can run, and the names the engines take. */

const singleServer = (database: Record<string, unknown>) =>
  environmentFile({
    layout: "single-server",
    network: { cidr: "10.50.0.0/16", availabilityZones: ["ap-northeast-2a", "ap-northeast-2c"], natGateways: "none" },
    app: { instanceType: "t3.micro", version: "1.0.0" },
    database,
  });
const problemsOf = (file: Record<string, unknown>) => parseEnvironment("dev", file).problems;

describe("the single server runs the engine Amazon Linux 2023 packages, at the major asked for", () => {
  test.each([
    ["postgres", "15", "postgresql15-server"],
    ["postgres", "16", "postgresql16-server"],
    ["postgres", "17", "postgresql17-server"],
    ["mariadb", "10.5", "mariadb105-server"],
    ["mariadb", "10.11", "mariadb1011-server"],
  ])("%s %s is accepted (AL2023 package %s)", (engine, engineVersion, pkg) => {
    expect(problemsOf(singleServer({ engine, engineVersion }))).toEqual([]);
    expect(AL2023_SERVER_PACKAGES[engine as "postgres" | "mariadb"][engineVersion]).toBe(pkg);
  });

  test.each([
    [
      "PostgreSQL 14, which AL2023 does not package",
      { engine: "postgres", engineVersion: "14" },
      'database.engineVersion must be a postgres version Amazon Linux 2023 packages for layout single-server: 15, 16, 17 (or use a layout with RDS, which runs 14, 15, 16, 17) (got "14")',
    ],
    [
      "a pinned minor, which dnf cannot hold",
      { engine: "postgres", engineVersion: "16.4" },
      `database.engineVersion must be a major version for layout single-server (16): Amazon Linux 2023 installs its repository's current 16.x, a minor cannot be pinned (got "16.4")`,
    ],
    [
      "MySQL, of which AL2023 packages no server",
      { engine: "mysql", engineVersion: "8.4" },
      'database.engine must be postgres or mariadb for layout single-server: Amazon Linux 2023 packages no mysql server (mariadb is MySQL-compatible; or use a layout with RDS) (got "mysql")',
    ],
    [
      "a MariaDB major AL2023 does not package",
      { engine: "mariadb", engineVersion: "11.4" },
      'database.engineVersion must be a mariadb version Amazon Linux 2023 packages for layout single-server: 10.5, 10.11 (or use a layout with RDS, which runs 10.11, 11.4) (got "11.4")',
    ],
  ])("rejects %s, in one line naming the field and what is allowed", (_case, database, message) => {
    expect(problemsOf(singleServer(database))).toEqual([message]);
  });

  test("RDS layouts keep RDS's majors: PostgreSQL 14 and MariaDB 11.4 are fine there", () => {
    const rds = (database: Record<string, unknown>) =>
      environmentFile({ database: { instanceClass: "db.t4g.micro", allocatedStorageGb: 20, ...database } });
    expect(problemsOf(rds({ engine: "postgres", engineVersion: "14" }))).toEqual([]);
    expect(problemsOf(rds({ engine: "mariadb", engineVersion: "11.4" }))).toEqual([]);
    expect(problemsOf(rds({ engine: "mariadb", engineVersion: "10.5" }))).toEqual([
      'database.engineVersion must be a mariadb version of major 10.11, 11.4 (got "10.5")',
    ]);
  });

  test("a PostgreSQL version has at most two parts (16.4): a third is no version RDS has, where MySQL's and MariaDB's have three", () => {
    const rds = (database: Record<string, unknown>) =>
      environmentFile({ database: { instanceClass: "db.t4g.micro", allocatedStorageGb: 20, ...database } });
    expect(problemsOf(rds({ engine: "postgres", engineVersion: "16.4" }))).toEqual([]);
    expect(problemsOf(rds({ engine: "postgres", engineVersion: "16.4.1" }))).toEqual([
      'database.engineVersion must be a postgres major or major.minor, such as 16 or 16.4: PostgreSQL\'s versions have two parts since 10 (got "16.4.1")',
    ]);
    expect(problemsOf(rds({ engine: "mysql", engineVersion: "8.4.3" }))).toEqual([]);
    expect(problemsOf(rds({ engine: "mariadb", engineVersion: "10.11.9" }))).toEqual([]);
  });

  test("a major past RDS's end of standard support is refused with its date and what RDS would do with it", () => {
    const rds = (database: Record<string, unknown>) =>
      environmentFile({ database: { instanceClass: "db.t4g.small", allocatedStorageGb: 20, ...database } });
    // RDS would enroll the instance in paid Extended Support without a word
    expect(problemsOf(rds({ engine: "mysql", engineVersion: "8.0" }))).toEqual([
      'database.engineVersion must not be mysql 8.0, past RDS\'s end of standard support (2026-07-31): RDS enrolls a new instance of it in Extended Support, charged by the vCPU-hour on top of the instance; use 8.4 (a database already on 8.0: set the new major, and `npm run plan` says how to upgrade it) (got "8.0")',
    ]);
    expect(problemsOf(rds({ engine: "postgres", engineVersion: "13.20" }))).toEqual([
      expect.stringContaining("must not be postgres 13, past RDS's end of standard support (2026-02-28)"),
    ]);
    // and MariaDB has none: RDS makes no new instance of it at all
    expect(problemsOf(rds({ engine: "mariadb", engineVersion: "10.6" }))).toEqual([
      'database.engineVersion must not be mariadb 10.6, past RDS\'s end of standard support (2026-08-31): RDS has no Extended Support for MariaDB and creates no new instance of it; use 10.11 or 11.4 (a database already on 10.6: set the new major, and `npm run plan` says how to upgrade it) (got "10.6")',
    ]);
  });
});

describe("the app's database and user: names the engine takes", () => {
  test("default to app, and to RDS's master user app_admin (renaming it would replace the instance)", () => {
    expect(
      parseEnvironment("dev", singleServer({ engine: "postgres", engineVersion: "16" })).environment!.database,
    ).toMatchObject({
      name: "app",
      username: "app",
    });
    expect(parseEnvironment("prod", environmentFile()).environment!.database).toMatchObject({
      name: "app",
      username: "app_admin",
    });
  });

  test.each([
    [
      "name",
      "Shop",
      "postgres",
      'database.name must be lowercase letters, digits and underscores, starting with a letter (got "Shop")',
    ],
    [
      "name",
      "my-app",
      "postgres",
      'database.name must be lowercase letters, digits and underscores, starting with a letter (got "my-app")',
    ],
    ["name", "template1", "postgres", 'database.name is reserved by the engine or RDS; pick another (got "template1")'],
    ...["replication", "sameuser", "samerole", "samegroup"].map((word): [string, string, string, string] => [
      "name",
      word,
      "postgres",
      `database.name must not be all, replication, sameuser, samerole, samegroup: pg_hba.conf reads these as keywords, so the single server's access rule for the app would not match its database, and the app could not connect (got "${word}")`,
    ]),
    [
      "name",
      "a".repeat(64),
      "postgres",
      `database.name must be at most 63 characters for postgres (got "${"a".repeat(64)}")`,
    ],
    [
      "username",
      "postgres",
      "postgres",
      'database.username is reserved by the engine or RDS; pick another (got "postgres")',
    ],
    [
      "username",
      "pg_app",
      "postgres",
      'database.username must not start with pg_, which PostgreSQL reserves (got "pg_app")',
    ],
    ["username", "root", "mariadb", 'database.username is reserved by the engine or RDS; pick another (got "root")'],
    [
      "username",
      "application_users",
      "mariadb",
      'database.username must be at most 16 characters for mariadb (got "application_users")',
    ],
  ])("database.%s %j on %s is refused", (field, value, engine, message) => {
    const version = engine === "postgres" ? "16" : "10.11";
    expect(problemsOf(singleServer({ engine, engineVersion: version, [field]: value }))).toEqual([message]);
  });

  // The single server writes both names unquoted into SQL; RDS refuses a reserved word as DBName or master user.
  const rds = (database: Record<string, unknown>) =>
    environmentFile({ database: { instanceClass: "db.t4g.micro", ...database } });
  const onEngine = (engine: string, fields: Record<string, string>) =>
    engine === "postgres"
      ? singleServer({ engine, engineVersion: "16", ...fields })
      : engine === "mariadb"
        ? singleServer({ engine, engineVersion: "10.11", ...fields })
        : rds({ engine, engineVersion: "8.4", ...fields });
  test.each([
    ["postgres", "name", "limit", "PostgreSQL"],
    ["postgres", "name", "end", "PostgreSQL"],
    ["postgres", "name", "check", "PostgreSQL"],
    ["postgres", "username", "from", "PostgreSQL"],
    ["postgres", "username", "offset", "PostgreSQL"],
    ["postgres", "name", "primary", "PostgreSQL"],
    ["postgres", "name", "left", "PostgreSQL"],
    ["postgres", "username", "user", "PostgreSQL"],
    ["postgres", "username", "system_user", "PostgreSQL"],
    ["mysql", "name", "key", "MySQL"],
    ["mysql", "username", "index", "MySQL"],
    ["mysql", "name", "interval", "MySQL"],
    ["mysql", "username", "read", "MySQL"],
    ["mysql", "name", "qualify", "MySQL"],
    ["mariadb", "name", "key", "MariaDB"],
    ["mariadb", "username", "interval", "MariaDB"],
    ["mariadb", "name", "returning", "MariaDB"],
    ["mariadb", "username", "offset", "MariaDB"],
  ])("%s: database.%s %j is a reserved word there, refused in one line", (engine, field, value, title) => {
    expect(problemsOf(onEngine(engine, { [field]: value }))).toEqual([
      `database.${field} "${value}" is a reserved word in ${title}; choose another name`,
    ]);
  });

  test("PostgreSQL's reserved role names are refused as the user: none, public, current_role", () => {
    expect(problemsOf(onEngine("postgres", { username: "none" }))).toEqual([
      'database.username "none" is a role name PostgreSQL reserves; choose another name',
    ]);
    expect(problemsOf(onEngine("postgres", { username: "current_role" }))).toEqual([
      'database.username "current_role" is a reserved word in PostgreSQL; choose another name',
    ]);
    expect(problemsOf(onEngine("postgres", { username: "public" }))).toEqual([
      'database.username is reserved by the engine or RDS; pick another (got "public")',
    ]);
  });

  test.each([
    // words one engine reserves and another does not: each engine is asked about its own
    ["postgres", "name", "key"],
    ["postgres", "username", "interval"],
    ["mysql", "name", "offset"],
    ["mysql", "username", "end"],
    ["mariadb", "name", "qualify"],
    ["mariadb", "username", "none"],
  ])("%s: database.%s %j is not reserved there and is accepted", (engine, field, value) => {
    expect(problemsOf(onEngine(engine, { [field]: value }))).toEqual([]);
  });

  test("a reserved word stops everything with one line naming the folder and the field", () => {
    const dir = writeEnvironments(tempDir("database-reserved-"), {
      dev: singleServer({ engine: "postgres", engineVersion: "16", name: "limit" }),
    });
    let error: unknown;
    try {
      loadEnvironments({ dir });
    } catch (e) {
      error = e;
    }
    const label = dir; // (outside the working directory: named by its absolute path)
    expect((error as ConfigError).problems).toEqual([
      `${label}/dev: database.name "limit" is a reserved word in PostgreSQL; choose another name`,
    ]);
  });

  test("a name as long as MySQL allows for a database (64) is fine there", () => {
    expect(problemsOf(singleServer({ engine: "mariadb", engineVersion: "10.11", name: "a".repeat(64) }))).toEqual([]);
  });
});

describe("backup retention: what RDS and S3 lifecycle allow", () => {
  test("RDS layouts keep 1 to 35 days", () => {
    const rds = (days: number) =>
      environmentFile({
        database: { engine: "postgres", engineVersion: "16", instanceClass: "db.t4g.micro", backupRetentionDays: days },
      });
    expect(problemsOf(rds(35))).toEqual([]);
    expect(problemsOf(rds(36))).toEqual([
      "database.backupRetentionDays must be an integer from 1 to 35 for layout load-balanced: RDS keeps automated backups at most 35 days (got 36)",
    ]);
  });

  test("the single server's dumps are kept any whole number of days from 1 (an S3 lifecycle expiration)", () => {
    expect(problemsOf(singleServer({ engine: "postgres", engineVersion: "16", backupRetentionDays: 400 }))).toEqual([]);
    expect(problemsOf(singleServer({ engine: "postgres", engineVersion: "16", backupRetentionDays: 0 }))).toEqual([
      "database.backupRetentionDays must be a whole number of days, at least 1 (got 0)",
    ]);
    expect(problemsOf(singleServer({ engine: "postgres", engineVersion: "16", backupRetentionDays: 1.5 }))).toEqual([
      "database.backupRetentionDays must be a whole number of days, at least 1 (got 1.5)",
    ]);
    expect(problemsOf(singleServer({ engine: "postgres", engineVersion: "16", backupRetentionDays: 2 ** 31 }))).toEqual(
      [
        "database.backupRetentionDays must be an integer from 1 to 2147483647 for layout single-server: the days of an S3 lifecycle expiration (got 2147483648)",
      ],
    );
  });

  test("production keeps at least a week of the single server's dumps too", () => {
    const file = singleServer({ engine: "postgres", engineVersion: "16", backupRetentionDays: 3 });
    const problems = parseEnvironment("prod", {
      ...file,
      production: true,
      exceptions: [{ rule: "layout", reason: "a small shop, one box on purpose" }],
    }).problems;
    expect(problems).toContainEqual(
      expect.stringMatching(/^database\.backupRetentionDays must be at least 7 in production \(got 3\)/),
    );
  });
});

test("bad database input stops everything before a stack exists: one line per problem naming the folder, and no output", () => {
  const dir = writeEnvironments(tempDir("database-config-"), {
    dev: singleServer({ engine: "postgres", engineVersion: "14", name: "My-App" }),
  });
  const outdir = path.join(dir, "cdktf.out");
  let error: unknown;
  try {
    loadEnvironments({ dir });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConfigError);
  const label = dir; // (outside the working directory: named by its absolute path)
  expect((error as ConfigError).problems).toEqual([
    `${label}/dev: database.engineVersion must be a postgres version Amazon Linux 2023 packages for layout single-server: 15, 16, 17 (or use a layout with RDS, which runs 14, 15, 16, 17) (got "14")`,
    `${label}/dev: database.name must be lowercase letters, digits and underscores, starting with a letter (got "My-App")`,
  ]);
  expect(fs.existsSync(outdir)).toBe(false);
});

describe("the app's connections fit the RDS class (review BY)", () => {
  const fleet = (instanceClass: string, max: number, processes?: number) =>
    environmentFile({
      layout: "load-balanced",
      network: {
        cidr: "10.50.0.0/16",
        availabilityZones: ["ap-northeast-2a", "ap-northeast-2c"],
        natGateways: "single",
      },
      app: { instanceType: "t3.small", version: "1.0.0", count: { min: 2, desired: 2, max }, processes },
      database: { engine: "postgres", engineVersion: "16", instanceClass },
    });

  test("at an instance refresh's peak, processes x pool x servers over the class's max_connections is refused, naming every factor", () => {
    // db.t4g.micro: about 95 connections; 3 processes x 5 x (5 servers, 8 during a refresh) = 120
    expect(problemsOf(fleet("db.t4g.micro", 5))).toEqual([
      "database.instanceClass db.t4g.micro takes about 95 connections (postgres's default max_connections for its memory), " +
        "fewer than the app may open: 3 app.processes x 5 connections each x 8 server(s) (app.count.max 5, and half as " +
        "many again during an instance refresh) = 120; those past it are refused: a larger class, or fewer app.processes " +
        "or app.count.max (a database that takes more, by SHOW max_connections: set monitoring.thresholds.dbConnections " +
        "to a share of it)",
    ]);
    // a database known to take more: its alarm threshold, set above the estimate, is the limit
    expect(
      problemsOf({
        ...fleet("db.t4g.micro", 5),
        monitoring: { alarmEmails: ["oncall@example.net"], thresholds: { dbConnections: 150 } },
      }),
    ).toEqual([]);
    // app-db-split runs one server: app.count.max is no remedy there
    const split = environmentFile({
      layout: "app-db-split",
      network: { cidr: "10.50.0.0/16", availabilityZones: ["ap-northeast-2a", "ap-northeast-2c"], natGateways: "none" },
      app: { instanceType: "t3.small", version: "1.0.0", processes: 20 },
      database: { engine: "mysql", engineVersion: "8.4", instanceClass: "db.t4g.micro" },
    });
    expect(problemsOf(split)).toEqual([
      "database.instanceClass db.t4g.micro takes about 72 connections (mysql's default max_connections for its memory), " +
        "fewer than the app may open: 20 app.processes x 5 connections each x 1 server(s) = 100; those past it are " +
        "refused: a larger class, or fewer app.processes (a database that takes more, by SHOW max_connections: set " +
        "monitoring.thresholds.dbConnections to a share of it)",
    ]);
    // 4 servers (6 during a refresh): 90 fit; 2 processes on 5 (8): 80 fit; a larger class takes 120
    expect(problemsOf(fleet("db.t4g.micro", 4))).toEqual([]);
    expect(problemsOf(fleet("db.t4g.micro", 5, 2))).toEqual([]);
    expect(problemsOf(fleet("db.t4g.small", 5))).toEqual([]);
  });

  test("the pool size the rule counts is the sample app's (app/db.js)", () => {
    const source = fs.readFileSync(path.join(__dirname, "..", "..", "app", "db.js"), "utf8");
    expect(Number(/^const POOL_SIZE = (\d+);$/m.exec(source)?.[1])).toBe(APP_POOL_CONNECTIONS);
  });

  test("a fleet's refresh and maintenance run at most as many servers as the rule counts (the shipped staging's group)", () => {
    const [group] = shippedStack("staging").resources("aws_autoscaling_group");
    expect([
      group.values.instance_refresh.preferences.max_healthy_percentage,
      group.values.instance_maintenance_policy.max_healthy_percentage,
    ]).toEqual([FLEET_MAX_HEALTHY_PERCENT, FLEET_MAX_HEALTHY_PERCENT]);
  });
});

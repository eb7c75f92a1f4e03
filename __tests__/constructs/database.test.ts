import { Testing } from "cdktf";
import { ENGINES, type Engine } from "../../src/config/schema";
import { Database, performanceInsightsSupported } from "../../src/constructs/database";
import { shippedStack } from "../shipped";
import { Naming } from "../../src/naming";
import { Synthesized } from "../helpers";

function database(engine: Engine, engineVersion: string, instanceClass?: string): Record<string, any> {
  return databaseJson(engine, engineVersion, instanceClass).resources("aws_db_instance")[0].values;
}

function databaseJson(engine: Engine, engineVersion: string, instanceClass = "db.t4g.small"): Synthesized {
  const json = Testing.synthScope(
    (scope) =>
      new Database(scope, "Database", {
        naming: new Naming("shop", "test"),
        vpcId: "vpc-0123",
        subnetIds: ["subnet-a", "subnet-c"],
        engine,
        engineVersion,
        instanceClass,
        allocatedStorageGb: 20,
        maxAllocatedStorageGb: 80,
        multiAz: false,
        deletionProtection: true,
        backupRetentionDays: 7,
        databaseName: "app",
        masterUsername: "app_admin",
        logRetentionDays: 365,
      }),
  );
  return new Synthesized(json);
}

describe("Database: which version changes Terraform leaves to RDS", () => {
  test.each([
    ["postgres", "16.4"],
    ["mysql", "8.4.3"],
  ] as Array<[Engine, string]>)(
    "%s pinned to the minor %s: RDS's automatic minor upgrades are not undone (engine_version is ignored after creation)",
    (engine, version) => {
      // given a pinned minor and automatic minor upgrades
      const db = database(engine, version);
      // then the version RDS upgrades to is not planned back to the pinned one
      expect(db).toMatchObject({ engine_version: version, auto_minor_version_upgrade: true });
      expect(db.lifecycle.ignore_changes).toEqual(["engine_version", "final_snapshot_identifier"]);
      expect(db.lifecycle.prevent_destroy).toBe(true);
    },
  );

  test.each([
    ["postgres", "16"],
    ["mysql", "8.4"],
  ] as Array<[Engine, string]>)(
    "%s given as the major %s: the version is not ignored, so a change of major in config is applied",
    (engine, version) => {
      const db = database(engine, version);
      expect(db.engine_version).toBe(version);
      expect(db.lifecycle).toEqual({ prevent_destroy: true, ignore_changes: ["final_snapshot_identifier"] });
    },
  );

  test("allocated_storage is not ignored: a larger size in config still applies (the provider suppresses only autoscaled growth)", () => {
    const db = database("postgres", "16");
    expect(db).toMatchObject({ allocated_storage: 20, max_allocated_storage: 80 });
    expect(db.lifecycle.ignore_changes ?? []).not.toContain("allocated_storage");
  });
});

describe("Database: the logs it exports", () => {
  test.each([
    ["postgres", "16", ["postgresql", "upgrade"]],
    ["mysql", "8.4", ["error", "slowquery"]],
  ] as Array<[Engine, string, string[]]>)(
    "%s: each exported log's group exists, with the environment's retention, before the instance",
    (engine, version, logs) => {
      const json = databaseJson(engine, version);
      const instance = json.resources("aws_db_instance")[0].values;
      expect(instance.enabled_cloudwatch_logs_exports).toEqual(logs);
      const groups = json.resources("aws_cloudwatch_log_group");
      // RDS names them itself; created by RDS on the first export, they would keep logs forever.
      expect(groups.map((g) => g.values.name).sort()).toEqual(
        logs.map((l) => `/aws/rds/instance/shop-test-db/${l}`).sort(),
      );
      for (const group of groups) {
        expect(group.values.retention_in_days).toBe(365);
        expect(instance.depends_on).toContain(`aws_cloudwatch_log_group.${group.name}`);
      }
    },
  );

  test("mysql writes the slow-query log to a file, the only output RDS exports", () => {
    const parameters = databaseJson("mysql", "8.4").resources("aws_db_parameter_group")[0].values.parameter;
    expect(parameters).toContainEqual(expect.objectContaining({ name: "log_output", value: "FILE" }));
    expect(parameters).toContainEqual(expect.objectContaining({ name: "slow_query_log", value: "1" }));
  });
});

describe("Database: IAM database authentication, which RDS offers on every major the project allows", () => {
  test.each(
    (Object.keys(ENGINES) as Engine[]).flatMap((engine) => ENGINES[engine].majors.map((major) => [engine, major])),
  )("on for %s %s", (engine, major) => {
    expect(database(engine as Engine, major).iam_database_authentication_enabled).toBe(true);
  });
});

describe("Database: Performance Insights, where the alarms send on-call first", () => {
  test("is on, 7 days (no charge), for PostgreSQL on any class and for MySQL and MariaDB off the micro and small burstable classes", () => {
    expect(database("postgres", "16", "db.t4g.small")).toMatchObject({
      performance_insights_enabled: true,
      performance_insights_retention_period: 7,
    });
    expect(database("mysql", "8.4", "db.m7g.large")).toMatchObject({
      performance_insights_enabled: true,
      performance_insights_retention_period: 7,
    });
    // RDS refuses an instance asking for it there
    const small = database("mysql", "8.4", "db.t4g.small");
    expect(small.performance_insights_enabled).toBe(false);
    expect(small.performance_insights_retention_period).toBeUndefined();
    for (const instanceClass of ["db.t2.micro", "db.t3.small", "db.t4g.micro"]) {
      expect(performanceInsightsSupported("mariadb", instanceClass)).toBe(false);
    }
    expect(performanceInsightsSupported("mariadb", "db.t4g.medium")).toBe(true);
    expect(performanceInsightsSupported("postgres", "db.t3.micro")).toBe(true);
  });

  test.each([
    ["prod", true], // PostgreSQL on db.m7g.large
    ["dr-osaka", false], // MySQL on db.t4g.small
  ])("%s: the CPU and memory alarms point to it only where it is on (%s)", (name, on) => {
    const json = shippedStack(name);
    expect(json.resources("aws_db_instance")[0]!.values.performance_insights_enabled).toBe(on);
    const descriptions = json
      .resources("aws_cloudwatch_metric_alarm")
      .map((a) => String(a.values.alarm_description))
      .filter((d) => d.startsWith("The database "));
    expect(descriptions.length).toBeGreaterThanOrEqual(2);
    expect(descriptions.some((d) => d.includes("Performance Insights"))).toBe(on);
    for (const d of descriptions) if (!on) expect(d).not.toContain("Performance Insights");
  });
});

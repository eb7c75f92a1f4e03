import { Testing } from "cdktf";
import type { Engine } from "../../src/config/schema";
import { Database } from "../../src/constructs/database";
import { Naming } from "../../src/naming";
import { Synthesized } from "../helpers";

function database(engine: Engine, engineVersion: string): Record<string, any> {
  return databaseJson(engine, engineVersion).resources("aws_db_instance")[0].values;
}

function databaseJson(engine: Engine, engineVersion: string): Synthesized {
  const json = Testing.synthScope(
    (scope) =>
      new Database(scope, "Database", {
        naming: new Naming("shop", "test"),
        vpcId: "vpc-0123",
        subnetIds: ["subnet-a", "subnet-c"],
        engine,
        engineVersion,
        instanceClass: "db.t4g.small",
        allocatedStorageGb: 20,
        maxAllocatedStorageGb: 80,
        multiAz: false,
        deletionProtection: true,
        backupRetentionDays: 7,
        logRetentionDays: 365,
      }),
  );
  return new Synthesized(json);
}

describe("Database: which version changes Terraform leaves to RDS", () => {
  test.each([
    ["postgres", "16.4"],
    ["mysql", "8.0.39"],
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
    ["mysql", "8.0"],
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

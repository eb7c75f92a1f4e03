import { Testing } from "cdktf";
import type { Engine } from "../../src/config/schema";
import { Database } from "../../src/constructs/database";
import { Naming } from "../../src/naming";
import { Synthesized } from "../helpers";

function database(engine: Engine, engineVersion: string): Record<string, any> {
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
      }),
  );
  return new Synthesized(json).resources("aws_db_instance")[0].values;
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

import * as fs from "node:fs";
import { compareEnvironments, flatten, formatDifferences, shownValue } from "../../src/ops/compare";
import { environment, environmentFile, environmentFolders, tempDir, writeEnvironments } from "../helpers";
import { compareCommand } from "../../src/ops/compare-command";
import { scriptCommand } from "../../src/ops/script-runner";
import { runInProcess } from "../cli";

// `npm run compare -- a b`: the resolved settings that differ between two environments.

describe("compareEnvironments", () => {
  test("the same file in two folders differs only in what the folder name resolves to", () => {
    expect(compareEnvironments(environment("qa"), environment("uat"))).toEqual([
      { path: "state.path", left: "state/qa.tfstate", right: "state/uat.tfstate" },
    ]);
  });

  test("resolved defaults are compared: production alone turns on Multi-AZ, deletion protection and longer backups", () => {
    // given two files that differ only in `production`
    const staging = environment("staging");
    const prod = environment("prod", {
      production: true,
      app: { instanceType: "t3.micro", version: "1.0.0", count: { min: 2, desired: 2, max: 4 } },
      loadBalancer: {
        https: true,
        certificateArn: "arn:aws:acm:ap-northeast-2:111122223333:certificate/5c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
      },
    });
    // when compared
    const differences = compareEnvironments(staging, prod);
    // then the defaults that production implies show, with both values
    expect(differences).toEqual(
      expect.arrayContaining([
        { path: "production", left: false, right: true },
        { path: "database.multiAz", left: false, right: true },
        { path: "database.deletionProtection", left: false, right: true },
        { path: "database.backupRetentionDays", left: 3, right: 14 },
        { path: "app.detailedMonitoring", left: false, right: true },
        { path: "loadBalancer.deletionProtection", left: false, right: true },
      ]),
    );
    expect(differences.map((d) => d.path)).not.toContain("name");
  });

  test("nested settings are dotted paths; lists are compared as whole values; a missing setting is undefined", () => {
    const left = environment("qa");
    const right = environment("uat", {
      network: {
        cidr: "10.50.0.0/16",
        availabilityZones: ["ap-northeast-2c", "ap-northeast-2a"],
        natGateways: "single",
      },
      tags: { Team: "web" },
    });
    expect(compareEnvironments(left, right)).toEqual([
      {
        path: "network.availabilityZones",
        left: ["ap-northeast-2a", "ap-northeast-2c"],
        right: ["ap-northeast-2c", "ap-northeast-2a"],
      },
      { path: "state.path", left: "state/qa.tfstate", right: "state/uat.tfstate" },
      { path: "tags.Team", left: undefined, right: "web" },
    ]);
  });

  test("a setting only the right side has is listed where the config lists it, not at the end", () => {
    const left = environment("qa", {
      layout: "single-server",
      app: { instanceType: "t3.micro", version: "1.0.0" },
      database: { engine: "postgres", engineVersion: "16" },
    });
    const right = environment("uat");
    const paths = compareEnvironments(left, right).map((d) => d.path);
    // Without an RDS class, the database memory and connection thresholds have no default either;
    // the single server's app user is "app", RDS's master user "app_admin".
    expect(paths).toEqual([
      "layout",
      "network.natGateways", // none by default on the single server, single with a load balancer
      "app.count.max",
      "database.instanceClass",
      "database.username",
      // the single server's file has no loadBalancer (refused on that layout): its defaults differ
      "loadBalancer.https",
      "state.path",
      "monitoring.thresholds.dbFreeableMemoryMb",
      "monitoring.thresholds.dbConnections",
    ]);
  });

  test("flatten keeps arrays and scalars as leaves and walks objects", () => {
    expect([...flatten({ a: { b: 1, c: [2, 3], d: { e: null } }, f: "x" })]).toEqual([
      ["a.b", 1],
      ["a.c", [2, 3]],
      ["a.d.e", null],
      ["f", "x"],
    ]);
  });
});

describe("formatDifferences", () => {
  test("prints an aligned table: every value column starts at the same place", () => {
    const text = formatDifferences("dev", "production", [
      { path: "layout", left: "single-server", right: "load-balanced" },
      { path: "database.multiAz", left: false, right: true },
      { path: "tags.Owner", left: undefined, right: "web" },
    ]);
    const lines = text.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^setting\s+dev\s+production$/);
    const rightColumn = lines[0].indexOf("production");
    for (const line of lines.slice(2)) expect(line[rightColumn - 1]).toBe(" ");
    expect(lines.slice(2).map((l) => l.slice(rightColumn))).toEqual(["load-balanced", "true", "web"]);
    expect(lines[4]).toContain("(not set)");
  });

  test("says so when nothing differs", () => {
    expect(formatDifferences("a", "b", [])).toBe("a and b have the same settings.\n");
  });

  test("shows strings bare and everything else as JSON", () => {
    expect([shownValue("x"), shownValue(3), shownValue(["a", "b"]), shownValue(undefined)]).toEqual([
      "x",
      "3",
      '["a","b"]',
      "(not set)",
    ]);
  });
});

describe("npm run compare", () => {
  /** The command as scripts/compare.ts runs it, in this process. */
  const run = (args: string[], env: Record<string, string> = {}) =>
    runInProcess(() => scriptCommand("compare", compareCommand, args), env);

  test("dev against prod lists prod's stricter defaults, and an unknown name lists the known ones", async () => {
    const shipped = await run(["dev", "prod"]);
    expect(shipped.stderr).toBe("");
    expect(shipped.status).toBe(0);
    expect(shipped.stdout).toMatch(/^setting\s+dev\s+prod$/m);
    expect(shipped.stdout).toMatch(/^database\.multiAz\s+false\s+true$/m);
    expect(shipped.stdout).toMatch(/^database\.deletionProtection\s+false\s+true$/m);
    expect(shipped.stdout).toMatch(/^layout\s+single-server\s+load-balanced$/m);

    // a name no folder can have (folder names take no underscore), so the example stays unknown
    const unknown = await run(["dev", "no_such"]);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toBe(`compare: unknown environment "no_such" (known: ${environmentFolders().join(", ")})\n`);

    const usage = await run(["dev"]);
    expect(usage.status).toBe(1);
    expect(usage.stderr).toMatch(/usage: npm run compare -- <environment> <environment> \(got 1 argument\(s\)\)/);
  });

  test("an invalid environment folder is reported with its folder and field", async () => {
    const dir = tempDir();
    try {
      writeEnvironments(dir, {
        qa: environmentFile(),
        uat: environmentFile({ network: { cidr: "10.60.0.0/16", availabilityZones: ["ap-northeast-2a"] } }),
      });
      const broken = await run(["qa", "uat"], { ENVIRONMENTS_DIR: dir });
      expect(broken.status).toBe(1);
      expect(broken.stderr).toMatch(
        /compare: 1 problem\(s\) in the environment folders:\n .*\/uat: network\.availabilityZones must list at least 2/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

import * as fs from "node:fs";
import { defaultMaxConnections, dbInstanceMemoryGib } from "../../src/config/db-memory";
import {
  NON_PRODUCTION_DEFAULTS,
  parseEnvironment,
  PRODUCTION_DEFAULTS,
  type AlarmThresholds,
} from "../../src/config/load";
import { WAIVABLE_RULES } from "../../src/config/rules";
import { DB_INSTANCE_SIZES } from "../../src/config/schema";
import { environmentFile, loadProblems, productionEnvironmentFile, tempDir, writeEnvironments } from "../helpers";

const base = environmentFile();
const production = productionEnvironmentFile;
const problemsOf = (file: Record<string, unknown>) => parseEnvironment("prod", file).problems;
const thresholdsOf = (file: Record<string, unknown>): AlarmThresholds => {
  const parsed = parseEnvironment("test", file);
  if (!parsed.environment) throw new Error(parsed.problems.join("\n"));
  return parsed.environment.monitoring.thresholds;
};
const withThresholds = (thresholds: Record<string, unknown>, file = base) =>
  ({ ...file, monitoring: { alarmEmails: ["oncall@example.net"], thresholds } }) as Record<string, unknown>;

/** For each threshold, which way is stricter: a lower ceiling or a higher floor. */
const STRICTER: Record<keyof AlarmThresholds, "lower" | "higher"> = {
  loadBalancer5xxPercent: "lower",
  target5xxPercent: "lower",
  latencyP95Ms: "lower",
  latencyP99Ms: "lower",
  cpuPercent: "lower",
  memoryPercent: "lower",
  diskPercent: "lower",
  dbCpuPercent: "lower",
  dbFreeStorageGb: "higher",
  dbFreeableMemoryMb: "higher",
  dbConnections: "lower",
  evaluationPeriods: "lower",
  datapointsToAlarm: "lower",
};

describe("alarm thresholds: from the file, else the environment-level defaults", () => {
  test("the same file resolves to stricter thresholds in production, every one of them, none equal", () => {
    // given one environment file, as production and as not
    const prod = thresholdsOf(production());
    const dev = thresholdsOf({ ...production(), production: false });
    // then every threshold is strictly tighter in production, in the direction its alarm compares
    for (const [key, direction] of Object.entries(STRICTER) as Array<[keyof AlarmThresholds, "lower" | "higher"]>) {
      const [p, d] = [prod[key]!, dev[key]!];
      expect({ key, stricter: direction === "lower" ? p < d : p > d }).toEqual({ key, stricter: true });
    }
  });

  test("the production defaults: page on 1% errors, p99 over 1.5 s, 2 of 3 minutes", () => {
    expect(thresholdsOf(production())).toMatchObject({
      loadBalancer5xxPercent: 1,
      target5xxPercent: 1,
      latencyP99Ms: 1500,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
    });
    expect(thresholdsOf(base)).toMatchObject({ loadBalancer5xxPercent: 5, evaluationPeriods: 5, datapointsToAlarm: 4 });
  });

  test("the free-storage floor is below storage autoscaling's trigger (10% free), higher in production", () => {
    // RDS grows the disk once free space is at most 10% for 5 minutes: above that, the alarm would
    // page for what autoscaling does on its own, minutes later
    const AUTOSCALING_TRIGGER_PERCENT = 10;
    expect(PRODUCTION_DEFAULTS.alarms.dbFreeStoragePercent).toBeLessThan(AUTOSCALING_TRIGGER_PERCENT);
    expect(NON_PRODUCTION_DEFAULTS.alarms.dbFreeStoragePercent).toBeLessThan(
      PRODUCTION_DEFAULTS.alarms.dbFreeStoragePercent,
    );
    const gb = thresholdsOf(production({ database: { ...base.database, allocatedStorageGb: 100 } })).dbFreeStorageGb;
    expect(gb).toBeLessThan(100 * (AUTOSCALING_TRIGGER_PERCENT / 100));
    expect(gb).toBeGreaterThan(0);
  });

  test("database defaults follow the environment: a share of its storage, of its class's memory and connections", () => {
    // given db.t4g.micro (1 GiB) with 20 GiB of storage, outside production
    const t = thresholdsOf(base);
    expect(base.database).toMatchObject({ instanceClass: "db.t4g.micro", allocatedStorageGb: 20 });
    expect(t.dbFreeStorageGb).toBe((20 * NON_PRODUCTION_DEFAULTS.alarms.dbFreeStoragePercent) / 100); // 1 GiB
    expect(t.dbFreeableMemoryMb).toBe(
      Math.floor((1024 * NON_PRODUCTION_DEFAULTS.alarms.dbFreeableMemoryPercent) / 100),
    );
    expect(t.dbConnections).toBe(
      Math.floor((defaultMaxConnections("postgres", 1) * NON_PRODUCTION_DEFAULTS.alarms.dbConnectionsPercent) / 100),
    );
    expect(defaultMaxConnections("postgres", 1)).toBe(95); // not the 112 of the nominal 1 GiB
    // and a bigger class and disk move the production defaults with them
    const big = thresholdsOf(
      production({ database: { ...base.database, instanceClass: "db.r7g.2xlarge", allocatedStorageGb: 500 } }),
    );
    expect(big.dbFreeStorageGb).toBe((500 * PRODUCTION_DEFAULTS.alarms.dbFreeStoragePercent) / 100);
    expect(big.dbFreeableMemoryMb).toBe(
      Math.floor((64 * 1024 * PRODUCTION_DEFAULTS.alarms.dbFreeableMemoryPercent) / 100),
    );
    expect(big.dbConnections).toBe(Math.floor((5000 * PRODUCTION_DEFAULTS.alarms.dbConnectionsPercent) / 100));
  });

  test("a value in the file wins over the default, in production too", () => {
    const t = thresholdsOf(
      withThresholds({ cpuPercent: 70, dbFreeStorageGb: 5, dbConnections: 50, latencyP95Ms: 250 }, production()),
    );
    expect(t).toMatchObject({ cpuPercent: 70, dbFreeStorageGb: 5, dbConnections: 50, latencyP95Ms: 250 });
    expect(t.memoryPercent).toBe(PRODUCTION_DEFAULTS.alarms.memoryPercent);
  });
});

describe("the memory table behind the database defaults", () => {
  test.each([
    ["db.t3.micro", 1],
    ["db.t4g.small", 2],
    ["db.t4g.2xlarge", 32],
    ["db.m7g.large", 8],
    ["db.m6i.4xlarge", 64],
    ["db.r6g.xlarge", 32],
    ["db.r8g.16xlarge", 512],
  ])("%s has %d GiB", (instanceClass, gib) => {
    expect(dbInstanceMemoryGib(instanceClass)).toBe(gib);
  });

  test("a size the table does not know gives no number rather than a guess", () => {
    expect(dbInstanceMemoryGib("db.m5.metal")).toBeUndefined();
    expect(dbInstanceMemoryGib("db.t3.nano")).toBeUndefined();
  });

  test("max_connections follows RDS's default formulas over 85% of the class's memory (PostgreSQL capped at 5000)", () => {
    // 4 GiB nominal: the formulas give 450 / 341 on the whole of it, fewer on the share RDS leaves
    expect(defaultMaxConnections("postgres", 4)).toBe(Math.floor((4 * 1024 ** 3 * 0.85) / 9531392));
    expect(defaultMaxConnections("postgres", 4)).toBeLessThan(450);
    expect(defaultMaxConnections("mysql", 4)).toBe(Math.floor((4 * 1024 ** 3 * 0.85) / 12582880));
    expect(defaultMaxConnections("postgres", 512)).toBe(5000);
  });
});

describe("alarm subscribers", () => {
  test("every address of the file is kept, in order", () => {
    const parsed = parseEnvironment("dev", {
      ...base,
      monitoring: { alarmEmails: ["a@example.com", "b@example.org"] },
    });
    expect(parsed.environment!.monitoring.alarmEmails).toEqual(["a@example.com", "b@example.org"]);
  });

  test("an address that is not one is rejected, naming the environment, the field and what is allowed", () => {
    // given a folder whose second address is malformed
    const dir = tempDir();
    try {
      writeEnvironments(dir, {
        staging: { ...base, monitoring: { alarmEmails: ["oncall@example.com", "oncall at example.com"] } },
      });
      // when it is loaded, then the one problem names all three
      const problems = loadProblems(dir);
      const label = dir; // (outside the working directory: named by its absolute path)
      expect(problems).toEqual([
        `${label}/staging: monitoring.alarmEmails[1] must be an email address such as oncall@example.com (got "oncall at example.com")`,
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the same address twice is rejected (SNS would subscribe it once and Terraform would fight over it)", () => {
    expect(problemsOf({ ...base, monitoring: { alarmEmails: ["a@example.com", "a@example.com"] } })).toEqual([
      `monitoring.alarmEmails[1] repeats alarmEmails[0]; each address must appear once (got "a@example.com")`,
    ]);
  });

  test("production must have a subscriber, and can waive it only with a reason", () => {
    const silent = production({ monitoring: { alarmEmails: [] } });
    expect(problemsOf(silent)).toEqual([
      expect.stringMatching(/^monitoring\.alarmEmails must list at least one address in production.*waive it/),
    ]);
    expect(WAIVABLE_RULES).toContain("monitoring.alarmEmails");
    const waived = {
      ...silent,
      exceptions: [{ rule: "monitoring.alarmEmails", reason: "paged through PagerDuty's own topic" }],
    };
    expect(problemsOf(waived)).toEqual([]);
  });

  test("outside production, no subscriber is allowed (the alarms and dashboard still exist)", () => {
    expect(problemsOf({ ...base, monitoring: { alarmEmails: [] } })).toEqual([]);
  });
});

describe("threshold rules", () => {
  test.each([
    [
      "more breaching datapoints than periods looked at",
      { evaluationPeriods: 3, datapointsToAlarm: 4 },
      /^monitoring\.thresholds\.datapointsToAlarm must not exceed monitoring\.thresholds\.evaluationPeriods \(3\) \(got 4\)$/,
    ],
    [
      "a p95 above the p99",
      { latencyP95Ms: 2000, latencyP99Ms: 1000 },
      /^monitoring\.thresholds\.latencyP95Ms must not exceed monitoring\.thresholds\.latencyP99Ms \(1000\).*\(got 2000\)$/,
    ],
    [
      "a free-storage floor at or above the whole disk",
      { dbFreeStorageGb: 20 },
      /^monitoring\.thresholds\.dbFreeStorageGb must be below database\.allocatedStorageGb \(20\).*\(got 20\)$/,
    ],
    [
      "a percentage over 100",
      { cpuPercent: 120 },
      /^monitoring\.thresholds\.cpuPercent must be an integer from 1 to 100 \(got 120\)$/,
    ],
    [
      "an error rate of zero",
      { target5xxPercent: 0 },
      /^monitoring\.thresholds\.target5xxPercent must be a percentage above 0 and at most 100 \(got 0\)$/,
    ],
    [
      "a misspelled threshold",
      { cpuPercnt: 80 },
      /^monitoring\.thresholds\.cpuPercnt is not a known field: did you mean cpuPercent\? \(allowed: loadBalancer5xxPercent, .*cpuPercent, /,
    ],
  ])("rejects %s", (_case, thresholds, message) => {
    expect(problemsOf(withThresholds(thresholds))).toContainEqual(expect.stringMatching(message));
  });

  test("every DB class the schema allows has its memory in the table, so the thresholds default for each; a class RDS does not make is refused as the class", () => {
    for (const [family, sizes] of Object.entries(DB_INSTANCE_SIZES)) {
      for (const size of sizes) {
        const instanceClass = `db.${family}.${size}`;
        expect({ instanceClass, gib: dbInstanceMemoryGib(instanceClass) }).toEqual({
          instanceClass,
          gib: expect.any(Number),
        });
      }
      // each family's smallest and largest load, with their thresholds defaulted
      for (const size of [sizes[0], sizes[sizes.length - 1]]) {
        const instanceClass = `db.${family}.${size}`;
        expect(problemsOf({ ...base, database: { ...base.database, instanceClass } })).toEqual([]);
      }
    }
    // a size the family does not come in is named as the class's problem, not as missing thresholds
    const metal = { ...base, database: { ...base.database, instanceClass: "db.m5.metal" } };
    expect(problemsOf(metal)).toEqual([
      'database.instanceClass must be a size db.m5 comes in: large, xlarge, 2xlarge, 4xlarge, 8xlarge, 12xlarge, 16xlarge, 24xlarge (got "db.m5.metal")',
    ]);
  });
});

import { parseEnvironment } from "../../src/config/load";
import { WAIVABLE_RULES } from "../../src/config/rules";
import { environmentFile, LARGER_DATABASE } from "../helpers";

const CERT = "arn:aws:acm:ap-northeast-2:111122223333:certificate/5c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
const base = environmentFile();
/** A production environment that satisfies every production rule. */
const production = (overrides: Record<string, unknown> = {}) =>
  environmentFile({
    production: true,
    app: { instanceType: "m7g.large", version: "1.0.0", count: { min: 2, desired: 2, max: 4 } },
    // only a load-balanced layout takes loadBalancer
    ...((overrides.layout ?? "load-balanced") === "load-balanced" && {
      loadBalancer: { https: true, certificateArn: CERT },
    }),
    ...overrides,
  });

function problemsOf(file: Record<string, unknown>): string[] {
  return parseEnvironment("prod", file).problems;
}

describe("production is stricter, and says so", () => {
  test("a production environment with the defaults is valid and gets Multi-AZ, deletion protection, 14-day backups", () => {
    const parsed = parseEnvironment("prod", production());
    expect(parsed.problems).toEqual([]);
    expect(parsed.environment!.database).toMatchObject({
      multiAz: true,
      deletionProtection: true,
      backupRetentionDays: 14,
    });
    expect(parsed.environment!.loadBalancer.deletionProtection).toBe(true);
    expect(parsed.environment!.app.detailedMonitoring).toBe(true);
  });

  test("a non-production environment defaults to the cheap, disposable settings", () => {
    const env = parseEnvironment("dev", base).environment!;
    expect(env.database).toMatchObject({ multiAz: false, deletionProtection: false, backupRetentionDays: 3 });
    expect(env.app.detailedMonitoring).toBe(false);
  });

  test.each([
    [
      "Multi-AZ off",
      { database: { ...base.database, multiAz: false } },
      /^database\.multiAz must be true in production/,
    ],
    [
      "one app process a server",
      { app: { ...base.app, processes: 1 } },
      /^app\.processes must be at least 3 in production: with one, every deploy .*, and with two, a release that dies just after its settle window, .* \(got 1\)/,
    ],
    [
      "a week of app logs",
      { app: { ...base.app, logRetentionDays: 7 } },
      /^app\.logRetentionDays must be at least 90 in production: .* \(got 7\)/,
    ],
    [
      "5-minute EC2 metrics",
      { app: { ...base.app, detailedMonitoring: false } },
      /^app\.detailedMonitoring must be true in production: the alarms on the servers then see 1-minute metrics/,
    ],
    [
      "an AMI that follows every Amazon Linux release",
      { app: { ...base.app, amiUpdates: "latest" } },
      /^app\.amiUpdates must be pinned in production: with latest, an apply made for another change rolls every server .* \(got "latest"\)/,
    ],
    [
      "VPC flow logs off",
      { network: { ...base.network, flowLogs: { enabled: false } } },
      /^network\.flowLogs\.enabled must be true in production: /,
    ],
    [
      "deletion protection off",
      { database: { ...base.database, deletionProtection: false } },
      /^database\.deletionProtection must be true in production/,
    ],
    [
      "short backups",
      { database: { ...base.database, backupRetentionDays: 6 } },
      /^database\.backupRetentionDays must be at least 7 in production \(got 6\)/,
    ],
    [
      "an unprotected ALB",
      { loadBalancer: { https: true, certificateArn: CERT, deletionProtection: false } },
      /^loadBalancer\.deletionProtection must be true in production/,
    ],
    ["plain HTTP", { loadBalancer: { https: false } }, /^loadBalancer\.https must be true in production/],
    [
      "one server",
      { app: { instanceType: "m7g.large", version: "1.0.0", count: { min: 1, desired: 2, max: 4 } } },
      /^app\.count\.min must be at least 2 in production.*\(got 1\)/,
    ],
    [
      "zero servers",
      { app: { instanceType: "m7g.large", version: "1.0.0", count: { min: 0, desired: 0, max: 4 } } },
      /^app\.count\.min must be at least 2 in production.*\(got 0\)/,
    ],
    [
      "a single-server layout",
      { layout: "single-server", app: { instanceType: "m7g.large", version: "1.0.0" } },
      /^layout must be load-balanced in production: single-server has a single app server/,
    ],
  ])("rejects %s in production, and says how to waive it", (_case, overrides, message) => {
    const problems = problemsOf(production(overrides));
    expect(problems).toContainEqual(expect.stringMatching(message));
  });

  test("the minimums are the boundaries: 7 days of backups and 2 servers pass in production (6 and 1 do not, above)", () => {
    const atMinimum = production({
      app: { instanceType: "m7g.large", version: "1.0.0", count: { min: 2, desired: 2, max: 4 } },
      database: { ...base.database, backupRetentionDays: 7 },
    });
    expect(problemsOf(atMinimum)).toEqual([]);
  });

  test("a waived rule passes, and the waiver must carry a reason", () => {
    const waived = production({
      database: { ...base.database, multiAz: false },
      exceptions: [{ rule: "database.multiAz", reason: "read replica in dr-osaka covers AZ loss" }],
    });
    expect(problemsOf(waived)).toEqual([]);
    const unexplained = production({
      database: { ...base.database, multiAz: false },
      exceptions: [{ rule: "database.multiAz", reason: "no" }],
    });
    expect(problemsOf(unexplained)).toContainEqual(expect.stringMatching(/^exceptions\[0\]\.reason must say why/));
  });

  test("only production rules can be waived", () => {
    const problems = problemsOf(
      production({ exceptions: [{ rule: "access.ssh.allowedCidrs", reason: "we like it open" }] }),
    );
    expect(problems).toEqual([
      `exceptions[0].rule must be one of: ${WAIVABLE_RULES.join(", ")} (got "access.ssh.allowedCidrs")`,
    ]);
  });

  test("a waiver for a rule the environment keeps is stale and rejected", () => {
    const problems = problemsOf(
      production({ exceptions: [{ rule: "database.multiAz", reason: "left over from last year" }] }),
    );
    expect(problems).toEqual([
      "exceptions[0] waives database.multiAz, which this environment does not break: remove it",
    ]);
  });
});

describe("coherence rules, for every environment", () => {
  test.each([
    [
      "an unknown layout",
      { layout: "kubernetes" },
      /^layout must be one of: single-server, app-db-split, load-balanced \(got "kubernetes"\)/,
    ],
    [
      "HTTPS without a certificate",
      { loadBalancer: { https: true } },
      /^loadBalancer\.certificateArn is required when loadBalancer\.https is true and no domain is set: set domain\.name .* or give an ACM certificate in ap-northeast-2/,
    ],
    [
      "a certificate from another region",
      { loadBalancer: { https: true, certificateArn: CERT.replace("ap-northeast-2", "us-east-1") } },
      /^loadBalancer\.certificateArn must be in the environment's region ap-northeast-2 \(got a certificate in us-east-1\)/,
    ],
    [
      "private app servers with no egress",
      { network: { ...base.network, natGateways: "none" } },
      /^network\.natGateways must be single or per-az for layout load-balanced/,
    ],
    [
      "several servers on a single-server layout",
      { layout: "single-server" },
      /^app\.count must be \{ min: 1, desired: 1, max: 1 \} for layout single-server/,
    ],
    [
      "RDS without an instance class",
      {
        layout: "app-db-split",
        app: { instanceType: "t3.micro", version: "1.0.0" },
        database: { engine: "postgres", engineVersion: "16" },
      },
      /^database\.instanceClass is required for layout app-db-split/,
    ],
    [
      "an engine the schema does not allow",
      { database: { ...base.database, engine: "oracle-ee" } },
      /^database\.engine must be one of: postgres, mysql, mariadb \(got "oracle-ee"\)/,
    ],
    [
      "an engine version of an unknown major",
      { database: { ...base.database, engineVersion: "9.6" } },
      /^database\.engineVersion must be a postgres version of major 14, 15, 16, 17 \(got "9\.6"\)/,
    ],
    [
      "a MySQL major given as 8",
      { database: { ...base.database, engine: "mysql", engineVersion: "8" } },
      /^database\.engineVersion must be a mysql version of major 8\.4 /,
    ],
    [
      "a DB instance class the schema does not allow",
      { database: { ...base.database, instanceClass: "db.x2iedn.large" } },
      /^database\.instanceClass must be db\.<family>\.<size> with family one of t3, t4g/,
    ],
    [
      "a DB class in a size its family does not come in (db.m7g.nano: RDS refuses it at apply, after the plan)",
      { database: { ...base.database, instanceClass: "db.m7g.nano" } },
      /^database\.instanceClass must be a size db\.m7g comes in: large, xlarge, 2xlarge, 4xlarge, 8xlarge, 12xlarge, 16xlarge \(got "db\.m7g\.nano"\)$/,
    ],
    [
      "a burstable DB class above 2xlarge",
      { database: { ...base.database, instanceClass: "db.t4g.8xlarge" } },
      /^database\.instanceClass must be a size db\.t4g comes in: micro, small, medium, large, xlarge, 2xlarge \(got "db\.t4g\.8xlarge"\)$/,
    ],
    [
      "a DB class size no family has",
      { database: { ...base.database, instanceClass: "db.t4g.gigantic" } },
      /^database\.instanceClass must be a size db\.t4g comes in: /,
    ],
    [
      "storage autoscaling below the allocation",
      { database: { ...base.database, allocatedStorageGb: 100, maxAllocatedStorageGb: 50 } },
      /^database\.maxAllocatedStorageGb must be at least 110, 10 % above allocatedStorageGb \(100\): RDS refuses .* \(got 50\)/,
    ],
    [
      "a health check path longer than the load balancer takes",
      { app: { ...base.app, healthCheckPath: `/${"a".repeat(1024)}` } },
      /^app\.healthCheckPath must be at most 1024 characters, the load balancer's limit for a health check path/,
    ],
    [
      "the home page as the health check path (nginx would answer it from /healthz)",
      { app: { ...base.app, healthCheckPath: "/" } },
      /^app\.healthCheckPath must not be \/, the site's home page: nginx answers this path from the app's \/healthz/,
    ],
    [
      "storage autoscaling up to the allocation (RDS: the ceiling must be greater than the storage)",
      { database: { ...base.database, allocatedStorageGb: 100, maxAllocatedStorageGb: 100 } },
      /^database\.maxAllocatedStorageGb must be at least 110, 10 % above allocatedStorageGb \(100\).* \(got 100\)/,
    ],
    [
      "storage autoscaling less than 10 % above the allocation",
      { database: { ...base.database, allocatedStorageGb: 100, maxAllocatedStorageGb: 105 } },
      /^database\.maxAllocatedStorageGb must be at least 110, .* \(got 105\)/,
    ],
    [
      "SSH open to the world",
      { access: { ssh: { keyName: "ops", allowedCidrs: ["0.0.0.0/0"] } } },
      /^access\.ssh\.allowedCidrs\[0\] must not open SSH to the whole internet \(got "0\.0\.0\.0\/0"\)/,
    ],
    [
      "SSH from too broad a range",
      { access: { ssh: { keyName: "ops", allowedCidrs: ["203.0.113.0/24", "10.0.0.0/8"] } } },
      /^access\.ssh\.allowedCidrs\[1\] is too broad for SSH: at most a \/16 \(got "10\.0\.0\.0\/8"\)/,
    ],
    [
      "SSH with neither key",
      { access: { ssh: { allowedCidrs: ["203.0.113.0/24"] } } },
      /^access\.ssh must set exactly one of keyName/,
    ],
    [
      "SSH with a private key pasted in",
      { access: { ssh: { publicKey: "-----BEGIN OPENSSH PRIVATE KEY-----", allowedCidrs: ["203.0.113.0/24"] } } },
      /^access\.ssh\.publicKey is a private key: never put one in a config file/,
    ],
    [
      "SSH with no admin network",
      { access: { ssh: { keyName: "ops", allowedCidrs: [] } } },
      /^access\.ssh\.allowedCidrs must list at least one admin CIDR/,
    ],
  ])("rejects %s", (_case, overrides, message) => {
    expect(problemsOf(environmentFile(overrides))).toContainEqual(expect.stringMatching(message));
  });
});

describe("settings the layout has no use for are refused, not ignored", () => {
  const single = (extra: Record<string, unknown>) =>
    environmentFile({
      layout: "single-server",
      network: { cidr: "10.50.0.0/16", availabilityZones: ["ap-northeast-2a", "ap-northeast-2c"], natGateways: "none" },
      app: { instanceType: "t3.small", version: "1.0.0" },
      ...extra,
    });

  test("HTTPS and access logs on the single server, and RDS's class, standby and storage: each named, none silently dropped", () => {
    const problems = problemsOf(
      single({
        loadBalancer: { https: true, accessLogs: true },
        database: {
          engine: "postgres",
          engineVersion: "16",
          instanceClass: "db.r7g.16xlarge",
          multiAz: true,
          allocatedStorageGb: 100,
          maxAllocatedStorageGb: 400,
        },
      }),
    );
    const rds = (field: string) =>
      `database.${field} does not apply to layout single-server, whose database runs on the app server, not in RDS: remove it, or use layout app-db-split or load-balanced`;
    expect(problems).toEqual([
      "loadBalancer does not apply to layout single-server, which has no load balancer (nginx on the app server answers clients itself): remove it, or use layout load-balanced",
      rds("instanceClass"),
      rds("multiAz"),
      rds("allocatedStorageGb"),
      rds("maxAllocatedStorageGb"),
    ]);
  });

  test("NAT gateways only where app servers are private: none by default without a load balancer, and one asked for there is refused", () => {
    const natOf = (layout: string, natGateways?: string) => {
      const file = environmentFile({ layout, app: { instanceType: "t3.small", version: "1.0.0" } });
      const { natGateways: _default, ...network } = file.network;
      const parsed = parseEnvironment("qa", { ...file, network: { ...network, ...(natGateways && { natGateways }) } });
      return parsed.environment?.network.natGateways ?? parsed.problems;
    };
    expect(natOf("load-balanced")).toBe("single");
    expect(natOf("app-db-split")).toBe("none");
    expect(natOf("single-server")).toBe("none");
    expect(natOf("single-server", "none")).toBe("none");
    expect(natOf("single-server", "per-az")).toEqual([
      'network.natGateways does not apply to layout single-server, whose app server is in a public subnet and whose database needs no egress: a NAT gateway there is idle, and billed (none is the default here): remove it, or use layout load-balanced (got "per-az")',
    ]);
    expect(natOf("app-db-split", "single")).toEqual([
      expect.stringMatching(/^network\.natGateways does not apply to layout app-db-split/),
    ]);
  });

  test("a load balancer's settings on app-db-split are refused; its RDS settings are its own", () => {
    const file = environmentFile({
      layout: "app-db-split",
      network: { cidr: "10.50.0.0/16", availabilityZones: ["ap-northeast-2a", "ap-northeast-2c"], natGateways: "none" },
      app: { instanceType: "t3.small", version: "1.0.0" },
      loadBalancer: { https: false },
    });
    expect(problemsOf(file)).toEqual([
      "loadBalancer does not apply to layout app-db-split, which has no load balancer (nginx on the app server answers clients itself): remove it, or use layout load-balanced",
    ]);
    const { loadBalancer: _dropped, ...without } = file;
    expect(problemsOf({ ...without, database: { ...file.database, multiAz: true } })).toEqual([]);
  });

  test("the fleet's CPU target and the load balancer's and RDS's alarm thresholds, set where no fleet, load balancer or RDS reads them, are each named, not silently dropped (review DE)", () => {
    const problems = problemsOf(
      single({
        app: { instanceType: "t3.small", version: "1.0.0", targetCpuPercent: 40 },
        monitoring: {
          alarmEmails: ["oncall@example.org"],
          thresholds: {
            loadBalancer5xxPercent: 2,
            dbCpuPercent: 50,
            dbFreeStorageGb: 5,
            dbFreeableMemoryMb: 256,
            dbConnections: 100,
          },
        },
      }),
    );
    const noLoadBalancer = (field: string) =>
      `monitoring.thresholds.${field} does not apply to layout single-server, which has no load balancer whose 5xx that alarm counts (the app's 5xx are counted from nginx's access log, against target5xxPercent): remove it, or use layout load-balanced`;
    const noRds = (field: string) =>
      `monitoring.thresholds.${field} does not apply to layout single-server, whose database runs on the app server, not in RDS, so no RDS alarm reads it (the server's own alarms do: cpuPercent, memoryPercent, diskPercent): remove it, or use layout app-db-split or load-balanced`;
    expect(problems).toEqual([
      "app.targetCpuPercent does not apply to layout single-server, which runs one app server and no Auto Scaling group to scale on CPU: remove it, or use layout load-balanced",
      noLoadBalancer("loadBalancer5xxPercent"),
      noRds("dbCpuPercent"),
      noRds("dbFreeStorageGb"),
      noRds("dbFreeableMemoryMb"),
      noRds("dbConnections"),
    ]);
  });

  test("the thresholds each layout does read are accepted: the app server's own, target5xxPercent and the latencies everywhere (nginx's access log without a load balancer), RDS's on app-db-split, all of them on load-balanced", () => {
    const thresholdsOn = (layout: string, thresholds: Record<string, number>) =>
      parseEnvironment(
        "qa",
        environmentFile({
          layout,
          network: {
            cidr: "10.50.0.0/16",
            availabilityZones: ["ap-northeast-2a", "ap-northeast-2c"],
            natGateways: layout === "load-balanced" ? "single" : "none",
          },
          app: { instanceType: "t3.small", version: "1.0.0" },
          monitoring: { alarmEmails: ["oncall@example.org"], thresholds },
        }),
      ).problems;
    const server = {
      cpuPercent: 70,
      memoryPercent: 80,
      diskPercent: 80,
      target5xxPercent: 3,
      latencyP95Ms: 300,
      latencyP99Ms: 900,
    };
    const rds = { dbCpuPercent: 50, dbFreeStorageGb: 5, dbFreeableMemoryMb: 256, dbConnections: 100 };
    const loadBalancer = { loadBalancer5xxPercent: 2 };
    expect(thresholdsOn("single-server", server)).toEqual([]);
    expect(thresholdsOn("app-db-split", { ...server, ...rds })).toEqual([]);
    expect(thresholdsOn("app-db-split", { loadBalancer5xxPercent: 2 })).toEqual([
      expect.stringMatching(
        /^monitoring\.thresholds\.loadBalancer5xxPercent does not apply to layout app-db-split, which has no load balancer/,
      ),
    ]);
    // and the order of the two latencies is checked there too
    expect(thresholdsOn("single-server", { latencyP95Ms: 1000, latencyP99Ms: 900 })).toEqual([
      "monitoring.thresholds.latencyP95Ms must not exceed monitoring.thresholds.latencyP99Ms (900): the 95th percentile is never slower than the 99th (got 1000)",
    ]);
    expect(thresholdsOn("load-balanced", { ...server, ...rds, ...loadBalancer })).toEqual([]);
  });

  test("what the single server does use is accepted: deletion protection (the instance's termination protection) and backup days (its nightly dumps)", () => {
    const parsed = parseEnvironment(
      "prod",
      single({
        database: { engine: "postgres", engineVersion: "16", deletionProtection: true, backupRetentionDays: 10 },
      }),
    );
    expect(parsed.problems).toEqual([]);
    expect(parsed.environment!.database).toMatchObject({ deletionProtection: true, backupRetentionDays: 10 });
  });
});

test("the default storage autoscaling ceiling, four times the allocation, stays within RDS's largest volume (64 TiB)", () => {
  const ceiling = (allocatedStorageGb: number) =>
    parseEnvironment("qa", environmentFile({ database: { ...environmentFile().database, allocatedStorageGb } }))
      .environment!.database.maxAllocatedStorageGb;
  expect(ceiling(100)).toBe(400);
  expect(ceiling(20000)).toBe(65536);
});

test("a load-balanced group's largest size fits its app subnets, with room for an instance refresh (150 %)", () => {
  const file = (cidr: string, max: number) =>
    environmentFile({
      network: { ...environmentFile().network, cidr },
      app: { instanceType: "t3.micro", version: "1.0.0", count: { min: 1, desired: 1, max } },
      // a database that takes the connections of a hundred servers
      database: { ...LARGER_DATABASE, instanceClass: "db.r7g.4xlarge" },
    });
  // a /22 in 2 AZs: two /27 app subnets, 27 addresses each, 54 in all: at most 36 servers
  expect(problemsOf(file("10.50.0.0/22", 100))).toEqual([
    "app.count.max must leave room in the app subnets for an instance refresh, which runs up to 150 % of the group: network.cidr 10.50.0.0/22 gives 2 app subnets of /27 (27 addresses each, 54 in all), so at most 36; give the VPC a larger block or more AZs (got 100)",
  ]);
  expect(problemsOf(file("10.50.0.0/22", 36))).toEqual([]);
  expect(problemsOf(file("10.50.0.0/16", 100))).toEqual([]);
});

import { COST_DEFAULTS, type CostAssumptions } from "../../src/config/schema";
import { AGENT_METRICS, estimateCost, type PricedResource } from "../../src/cost/estimate";
import { DATABASE_HEALTH_METRIC } from "../../src/userdata/health-probe";
import { ec2Price, rdsPrice, sizedPrice, SHIPPED_PRICES, type PriceTable } from "../../src/cost/price-table";
import { changedLines, costChangeSummary, estimateText, planCostChange, totalText } from "../../src/cost/report";
import { planResources } from "../../src/cost/resources";
import { cloudWatchAgentConfig } from "../../src/userdata/cloudwatch-agent";
import { planReviewMarkdown, planReviewText, reviewPlan } from "../../src/ops/plan-review";
import type { PlanDocument } from "../../src/ops/plan-json";
import { resourceChange } from "../ops/plan-fixtures";

// A price table made by hand for the arithmetic (round numbers, so every amount below can be
// checked on paper); the shipped table is tested in prices.test.ts.
const TABLE: PriceTable = {
  ...SHIPPED_PRICES,
  date: "2026-01-01",
  hoursPerMonth: 730,
  global: { publicIpv4PerHour: 0.005, kmsKeyPerMonth: 1, secretPerMonth: 0.4, dashboardPerMonth: 3 },
  regions: {
    "xx-test-1": {
      ec2: { m7g: 0.1, "t3.small": 0.03 },
      rds: { postgres: { m7g: 0.2 }, mysql: {} },
      ebsGp3PerGbMonth: 0.1,
      rdsGp3PerGbMonth: 0.2,
      natGatewayPerHour: 0.05,
      natGatewayPerGb: 0.05,
      albPerHour: 0.02,
      albPerLcuHour: 0.01,
      cloudwatch: { alarmPerMetricMonth: 0.1, metricPerMonth: 0.3, logsIngestedPerGb: 0.5, logsStoredPerGbMonth: 0.03 },
      s3StandardPerGbMonth: 0.02,
      internetEgressPerGb: 0.1,
      derived: ["ec2.m7g"],
    },
  },
};

const ASSUMPTIONS: CostAssumptions = {
  requestsPerSecond: 50, // 50 / 25 = 2 LCU, above the 730 GB / 730 h = 1 LCU of processed bytes
  internetEgressGbPerMonth: 730,
  natProcessedGbPerMonth: 100,
  logsGbPerServerPerMonth: 2,
  flowLogsGbPerMonth: 3,
  s3StoredGb: 50,
};

const r = (type: string, name: string, values: Record<string, unknown>): PricedResource => ({ type, name, values });

/**
 * A load-balanced environment, as its synthesized resources say: an Auto Scaling group of 3
 * m7g.large (detailed monitoring, 30 GB roots), a Multi-AZ db.m7g.large PostgreSQL with 100 GB,
 * 2 NAT gateways with their Elastic IPs, an internet-facing ALB in 2 subnets, 3 alarms (one
 * reading 2 metrics through metric math), a dashboard, 2 log groups (server logs kept 30 days,
 * flow logs kept 60), a flow log, a KMS key and 2 buckets.
 */
const LOAD_BALANCED: PricedResource[] = [
  r("aws_launch_template", "Lt", {
    instance_type: "m7g.large",
    monitoring: { enabled: true },
    block_device_mappings: [{ ebs: { volume_size: 30 } }],
  }),
  // (priced at its desired capacity, not its minimum: review DP)
  r("aws_autoscaling_group", "Asg", {
    min_size: 2,
    desired_capacity: 3,
    max_size: 9,
    launch_template: { id: "${aws_launch_template.Lt.id}" },
  }),
  r("aws_db_instance", "Db", {
    engine: "postgres",
    instance_class: "db.m7g.large",
    multi_az: true,
    allocated_storage: 100,
    manage_master_user_password: true,
  }),
  r("aws_nat_gateway", "NatA", {}),
  r("aws_nat_gateway", "NatB", {}),
  r("aws_eip", "NatEipA", { domain: "vpc" }),
  r("aws_eip", "NatEipB", { domain: "vpc" }),
  r("aws_lb", "Alb", { load_balancer_type: "application", internal: false, subnets: ["a", "b"] }),
  r("aws_cloudwatch_metric_alarm", "Cpu", { metric_name: "CPUUtilization" }),
  r("aws_cloudwatch_metric_alarm", "Latency", { extended_statistic: "p99" }),
  r("aws_cloudwatch_metric_alarm", "Rate", {
    metric_query: [
      { id: "e", expression: "100*a/b" },
      { id: "a", metric: {} },
      { id: "b", metric: {} },
    ],
  }),
  r("aws_cloudwatch_dashboard", "Dash", {}),
  r("aws_cloudwatch_log_group", "App", { name: "/shop/x/app", retention_in_days: 30 }),
  r("aws_cloudwatch_log_group", "Flow", { name: "/vpc/shop-x-flow-logs", retention_in_days: 60 }),
  r("aws_flow_log", "FlowLog", {
    log_destination: "${aws_cloudwatch_log_group.Flow.arn}",
    log_destination_type: "cloud-watch-logs",
  }),
  r("aws_kms_key", "Key", {}),
  r("aws_s3_bucket", "Artifacts", {}),
  r("aws_s3_bucket", "Logs", {}),
  r("aws_vpc", "Vpc", {}), // free: no line
];

describe("the cost estimate", () => {
  test("prices a hand-worked load-balanced environment line by line", () => {
    const estimate = estimateCost(LOAD_BALANCED, "xx-test-1", ASSUMPTIONS, TABLE);
    const amounts = Object.fromEntries(estimate.lines.map((l) => [l.item, Number(l.monthly!.toFixed(4))]));
    expect(amounts).toEqual({
      EC2: 219, //                        3 servers x 730 h x $0.1
      "EBS gp3": 9, //                    3 x 30 GB x $0.1
      "NAT gateway hours": 73, //         2 x 730 h x $0.05
      "NAT data processed": 5, //         100 GB x $0.05
      "ALB hours": 14.6, //               730 h x $0.02
      "ALB capacity units": 14.6, //      max(50 rps / 25, 730 GB / 730 h) = 2 LCU x 730 h x $0.01
      "RDS instance": 292, //             2 (Multi-AZ) x 730 h x $0.2
      "RDS storage": 40, //               2 (Multi-AZ) x 100 GB x $0.2
      "Public IPv4": 14.6, //             (2 NAT EIPs + 2 ALB subnets) x 730 h x $0.005
      "CloudWatch alarms": 0.4, //        (1 + 1 + 2 metrics) x $0.1
      "CloudWatch dashboards": 3, //      1 x $3
      "CloudWatch metrics": 10.5, //      agent 3 x 4 + 2 for the group = 14, detailed 3 x 7 = 21: 35 x $0.3
      "CloudWatch Logs ingestion": 4.5, // (3 servers x 2 GB + 3 GB flow logs) x $0.5
      "CloudWatch Logs storage": 0.3551, // (6 GB x 30/30.4167 + 3 GB x 60/30.4167 days a month) = 11.84 GB x $0.03
      "KMS keys": 1, //                   1 x $1
      "Secrets Manager": 0.4, //          RDS-managed master password: 1 x $0.4
      S3: 1, //                           50 GB x $0.02
      "Data transfer out": 73, //         730 GB x $0.1
    });
    expect(estimate.complete).toBe(true);
    // 219 + 9 + 73 + 5 + 14.6 + 14.6 + 292 + 40 + 14.6 + 0.4 + 3 + 10.5 + 4.5 + 0.3551 + 1 + 0.4 + 1 + 73
    expect(estimate.total).toBeCloseTo(775.9551, 3);
  });

  test("the Secrets Manager line names the RDS-managed password only where there is one (a single server's secret is its own)", () => {
    const detail = (resources: ReturnType<typeof r>[]) =>
      estimateCost(resources, "xx-test-1", COST_DEFAULTS, TABLE).lines.find((l) => l.item === "Secrets Manager")!
        .detail;
    const secret = r("aws_secretsmanager_secret", "DbPassword", {});
    expect(detail([secret])).toBe("1 secret(s) x $0.4");
    expect(detail(LOAD_BALANCED.filter((x) => x.type === "aws_db_instance"))).toBe(
      "1 secret(s) x $0.4 (RDS-managed master password included)",
    );
  });

  test("a type or region with no shipped price is a line that says so, never a zero", () => {
    const resources = [
      r("aws_instance", "Server", { instance_type: "c7a.large" }),
      r("aws_db_instance", "Db", { engine: "mysql", instance_class: "db.m7g.large", allocated_storage: 20 }),
    ];
    const estimate = estimateCost(resources, "xx-test-1", COST_DEFAULTS, TABLE);
    const ec2 = estimate.lines.find((l) => l.item === "EC2")!;
    expect(ec2).toMatchObject({ monthly: undefined, missing: "no price for the c7a family in xx-test-1" });
    expect(estimate.lines.find((l) => l.item === "RDS instance")!.missing).toBe(
      "no price for the m7g family (mysql) in xx-test-1",
    );
    expect(estimate.complete).toBe(false);
    expect(totalText(estimate)).toMatch(/^>= \$[\d.,]+ \(incomplete\)$/);
    expect(estimateText("x", estimate, TABLE)).toContain("c7a.large: no price for the c7a family in xx-test-1");

    const elsewhere = estimateCost(resources, "zz-nowhere-9", COST_DEFAULTS, TABLE);
    expect(elsewhere.lines.every((l) => l.monthly === undefined)).toBe(true);
    expect(elsewhere.lines[0].missing).toBe("no prices for region zz-nowhere-9");
    expect(elsewhere.total).toBe(0);
    expect(elsewhere.complete).toBe(false);
  });

  test("a size costs the family's large price times its normalization factor / 4; an exact entry wins", () => {
    const units = SHIPPED_PRICES.sizeUnits;
    expect(sizedPrice({ m7g: 0.1 }, "m7g.2xlarge", units)).toEqual({ perHour: 0.4, family: "m7g" });
    expect(sizedPrice({ m7g: 0.1 }, "m7g.medium", units)).toEqual({ perHour: 0.05, family: "m7g" });
    expect(sizedPrice({ t3: 0.1, "t3.small": 0.03 }, "t3.small", units)).toEqual({ perHour: 0.03, family: "t3" });
    expect(sizedPrice({ m7g: 0.1 }, "m7g.huge", units)).toEqual({ missing: 'no size factor for "huge"' });
    expect(ec2Price(TABLE, "xx-test-1", "m7g.large")).toEqual({ perHour: 0.1, basis: "derived" });
    expect(rdsPrice(TABLE, "xx-test-1", "postgres", "db.m7g.xlarge")).toEqual({ perHour: 0.4, basis: "table" });
  });

  test("a single server pays for its Elastic IP once: the EIP replaces the auto-assigned address", () => {
    const resources = [
      r("aws_instance", "Server", { instance_type: "t3.small", associate_public_ip_address: true, monitoring: false }),
      r("aws_eip", "Ip", { instance: "${aws_instance.Server.id}" }),
    ];
    const lines = estimateCost(resources, "xx-test-1", COST_DEFAULTS, TABLE).lines;
    expect(lines.find((l) => l.item === "Public IPv4")!.monthly).toBeCloseTo(730 * 0.005, 10);
    // 3 agent metrics (memory, disk by path, disk by instance) and its health probe's
    // AppHealth/HealthCheckOk, no detailed monitoring.
    const metrics = lines.find((l) => l.item === "CloudWatch metrics")!;
    expect(metrics.monthly).toBeCloseTo(4 * 0.3, 10);
    expect(metrics.detail).toMatch(/^4 \(3 agent, 1 health probe\)/);
    expect(lines.find((l) => l.item === "EC2")!.monthly).toBeCloseTo(730 * 0.03, 10); // exact t3.small entry
    // with its own database, the probe's AppHealth/DatabaseOk too (the alarm that reads it says so)
    const withDatabase = estimateCost(
      [...resources, r("aws_cloudwatch_metric_alarm", "Engine", { metric_name: DATABASE_HEALTH_METRIC.metricName })],
      "xx-test-1",
      COST_DEFAULTS,
      TABLE,
    ).lines.find((l) => l.item === "CloudWatch metrics")!;
    expect(withDatabase.detail).toMatch(/^5 \(3 agent, 2 health probe\)/);
  });

  test("the agent metric counts follow from the CloudWatch agent's own configuration", () => {
    // Each distinct dimension set of each measurement is one billed metric: the raw metric (its
    // appended dimensions, plus path and fstype for disk) and each aggregation.
    const count = (autoScaling: boolean) => {
      const config = JSON.parse(
        cloudWatchAgentConfig({
          host: { paths: { appLogDir: "/a", nginxLogDir: "/n" } } as never,
          logGroups: { app: "a", nginxAccess: "b", nginxError: "c", boot: "d" },
          autoScaling,
          bootLog: "/b",
          namespace: "shop/dev/CWAgent",
        }),
      );
      const appended = Object.keys(config.metrics.append_dimensions);
      const sets = new Map<string, boolean>(); // dimension set -> shared by the whole group
      for (const [plugin, spec] of Object.entries<any>(config.metrics.metrics_collected)) {
        for (const m of spec.measurement) {
          const raw = [...appended, ...(plugin === "disk" ? ["path", "fstype"] : [])].sort();
          sets.set(`${m}:${raw}`, false);
          for (const agg of config.metrics.aggregation_dimensions as string[][]) {
            sets.set(`${m}:${[...agg].sort()}`, !agg.includes("InstanceId"));
          }
        }
      }
      const shared = [...sets.values()].filter(Boolean).length;
      return { perServer: sets.size - shared, shared };
    };
    expect(count(false)).toEqual({ perServer: AGENT_METRICS.singleServer, shared: 0 });
    expect(count(true)).toEqual({ perServer: AGENT_METRICS.perFleetServer, shared: AGENT_METRICS.perFleet });
  });
});

describe("the cost of a plan", () => {
  // Constructed by hand after Terraform's JSON plan format (see plan-fixtures.ts): the fleet grows
  // from 2 to 3 servers and the database becomes Multi-AZ; a new alarm is created.
  const plan: PlanDocument = {
    format_version: "1.2",
    resource_changes: [
      resourceChange("aws_launch_template.Lt", ["no-op"], {
        before: { instance_type: "m7g.large", block_device_mappings: [{ ebs: [{ volume_size: 30 }] }] },
        after: { instance_type: "m7g.large", block_device_mappings: [{ ebs: [{ volume_size: 30 }] }] },
      }),
      resourceChange("aws_autoscaling_group.Asg", ["update"], {
        before: { desired_capacity: 2, launch_template: [{ id: "lt-1" }] },
        after: { desired_capacity: 3, launch_template: [{ id: "lt-1" }] },
      }),
      resourceChange("aws_db_instance.Db", ["update"], {
        before: { engine: "postgres", instance_class: "db.m7g.large", multi_az: false, allocated_storage: 100 },
        after: { engine: "postgres", instance_class: "db.m7g.large", multi_az: true, allocated_storage: 100 },
      }),
      resourceChange("aws_cloudwatch_metric_alarm.New", ["create"], { after: { metric_name: "x" } }),
      resourceChange("data.aws_caller_identity.Me", ["read"], { after: { account_id: "1" } }),
    ],
  };

  test("before is the state the plan starts from, after what exists once it is applied", () => {
    const { before, after } = planResources(plan);
    expect(before.map((x) => x.type)).toEqual(["aws_launch_template", "aws_autoscaling_group", "aws_db_instance"]);
    expect(after.map((x) => x.type)).toContain("aws_cloudwatch_metric_alarm");
    expect(after.some((x) => x.type === "aws_caller_identity")).toBe(false); // data sources cost nothing
  });

  test("prices before and after, and the Markdown says by how much, line by line", () => {
    const change = planCostChange(plan, "xx-test-1", { ...COST_DEFAULTS, s3StoredGb: 0 }, TABLE);
    // before: EC2 2 x 730 x 0.1 = 146, EBS 60 GB x 0.1 = 6, RDS 730 x 0.2 = 146, storage 100 x 0.2 = 20,
    //         metrics 2 x 4 + 2 = 10 x 0.3 = 3, data out 20 GB x 0.1 = 2            -> 323
    // after:  EC2 219, EBS 9, RDS 292, storage 40, alarm 0.1, metrics 14 x 0.3 = 4.2, data out 2 -> 566.3
    expect(change.before.total).toBeCloseTo(323, 6);
    expect(change.after.total).toBeCloseTo(566.3, 6);
    expect(costChangeSummary(change)).toBe("$323.00 -> $566.30 (+$243.30, +75%)");
    expect(changedLines(change)).toEqual([
      "EC2: $146.00 -> $219.00",
      "EBS gp3: $6.00 -> $9.00",
      "RDS instance: $146.00 -> $292.00",
      "RDS storage: $20.00 -> $40.00",
      "CloudWatch metrics: $3.00 -> $4.20",
      "CloudWatch alarms: $0.00 -> $0.10",
    ]);

    const review = reviewPlan(plan, {});
    const markdown = planReviewMarkdown(review, "prod", change);
    expect(markdown).toContain(
      "**Monthly cost** (on-demand estimate, prices of 2026-01-01): $323.00 -> $566.30 (+$243.30, +75%)",
    );
    expect(markdown).toContain("- RDS instance: $146.00 -> $292.00");
    expect(planReviewText(review, "prod", change)).toContain(
      "Monthly cost (on-demand estimate): $323.00 -> $566.30 (+$243.30, +75%).",
    );
    // Without a cost (a state bucket stack), the Markdown has no cost line.
    expect(planReviewMarkdown(review, "state-x")).not.toContain("Monthly cost");
  });

  test("a first deploy starts from nothing; a destroy ends at nothing", () => {
    const create: PlanDocument = {
      format_version: "1.2",
      resource_changes: [resourceChange("aws_kms_key.K", ["create"], { after: {} })],
    };
    const destroy: PlanDocument = {
      format_version: "1.2",
      resource_changes: [resourceChange("aws_kms_key.K", ["delete"], { before: {} })],
    };
    expect(costChangeSummary(planCostChange(create, "xx-test-1", COST_DEFAULTS, TABLE))).toBe(
      "$0.00 -> $1.00 (+$1.00)",
    );
    expect(costChangeSummary(planCostChange(destroy, "xx-test-1", COST_DEFAULTS, TABLE))).toBe(
      "$1.00 -> $0.00 (-$1.00, -100%)",
    );
  });
});

describe("npm run plan's cost", () => {
  test("an environment's plan is priced in its provider's region with its folder's assumptions; a state bucket stack is not", () => {
    const { planCostOf } = require("../../src/cost/plan-cost") as typeof import("../../src/cost/plan-cost");
    const plan: PlanDocument = {
      format_version: "1.2",
      resource_changes: [resourceChange("aws_nat_gateway.N", ["create"], { after: {} })],
    };
    const dir = require("node:path").join(__dirname, "..", "..", "environments");
    const change = planCostOf(plan, "dr-osaka", { provider: { aws: [{ region: "ap-northeast-3" }] } }, dir)!;
    // One NAT gateway for a month, at Osaka's hourly price.
    const osaka = SHIPPED_PRICES.regions["ap-northeast-3"];
    expect(change.after.region).toBe("ap-northeast-3");
    expect(change.after.lines.find((l) => l.item === "NAT gateway hours")!.monthly).toBeCloseTo(
      730 * osaka.natGatewayPerHour,
      10,
    );
    expect(change.before.total).toBe(0);
    expect(planCostOf(plan, "state-acme-tfstate", {}, dir)).toBeUndefined();
  });
});

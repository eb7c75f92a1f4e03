import type { CostAssumptions } from "../config/schema";
import { DATABASE_HEALTH_METRIC } from "../userdata/health-probe";
import { ec2Price, rdsPrice, type PriceTable } from "./price-table";

/**
 * The monthly on-demand cost of one environment, line by line, from the Terraform resources it
 * declares (the synthesized JSON, or a plan's before/after values) and the usage assumptions of
 * its environment file. Pure and offline: prices come from a `PriceTable`.
 *
 * Counting from resources rather than from the config keeps the estimate honest when constructs
 * change (one more alarm is one more line item) and lets a plan be priced before and after.
 */

/** One Terraform resource: its type, name and attribute values (snake_case, as in the JSON). */
export interface PricedResource {
  readonly type: string;
  readonly name: string;
  readonly values: Readonly<Record<string, unknown>>;
}

/** What a line's amount rests on. */
export type LineBasis = "table" | "derived" | "assumption";

export interface CostLine {
  /** The service, e.g. `EC2`, `RDS storage`. */
  readonly item: string;
  /** Quantity and unit price, e.g. `3 x m7g.large, 730 h x $0.1003`. */
  readonly detail: string;
  /** USD a month; `undefined` when the table has no price for it (see `missing`). */
  readonly monthly: number | undefined;
  /**
   * `table`: a price the table lists; `derived`: the table marks the price as derived for this
   * region; `assumption`: the amount depends on a usage assumption of the environment file.
   */
  readonly basis: LineBasis;
  /** Why there is no price: a type, class or region the table does not have. */
  readonly missing?: string;
}

export interface Estimate {
  readonly region: string;
  readonly lines: readonly CostLine[];
  /** USD a month over the lines that have a price. */
  readonly total: number;
  /** Every line has a price. */
  readonly complete: boolean;
  /** The date of the price table used. */
  readonly pricesDate: string;
}

/** CloudWatch bills EC2 detailed monitoring as this many custom metrics per instance. */
export const DETAILED_MONITORING_METRICS = 7;

/**
 * Custom metrics the CloudWatch agent publishes (src/userdata/cloudwatch-agent.ts): memory and
 * root-disk use, per instance and, in an Auto Scaling group, per group as well. Each distinct
 * dimension set is a metric; a test derives these counts from the agent's configuration.
 */
export const AGENT_METRICS = { singleServer: 3, perFleetServer: 4, perFleet: 2 } as const;

/**
 * Custom metrics a server outside an Auto Scaling group publishes itself: its health probe's
 * `AppHealth/HealthCheckOk`, with its instance id (src/userdata/health-probe.ts), and on a server
 * with its own database `AppHealth/DatabaseOk` as well (`DATABASE_HEALTH_METRIC`, counted from
 * the alarm that reads it). (The nightly `AppBackups/DumpUploaded` of a single server's own
 * database is billed by the hours it has data: one a day, about a cent a month, left out.)
 */
export const HEALTH_PROBE_METRICS = 1;

/** Days in an average month, to turn a retention period into months of logs kept. */
const DAYS_PER_MONTH = 365 / 12;

/** Estimates the monthly cost of `resources` in `region`. */
export function estimateCost(
  resources: readonly PricedResource[],
  region: string,
  assumptions: CostAssumptions,
  table: PriceTable,
): Estimate {
  const lines: CostLine[] = [];
  const hours = table.hoursPerMonth;
  const regional = table.regions[region];
  const of = (type: string) => resources.filter((r) => r.type === type);
  const usd = (n: number) => `$${round(n, 5)}`;
  const noRegion = `no prices for region ${region}`;

  // ---- EC2: single servers and Auto Scaling groups (at their desired capacity) ----
  const servers = appServers(resources);
  for (const s of servers) {
    const price = ec2Price(table, region, s.instanceType);
    const what = `${s.count} x ${s.instanceType}`;
    lines.push(
      "missing" in price
        ? { item: "EC2", detail: what, monthly: undefined, basis: "table", missing: price.missing }
        : {
            item: "EC2",
            detail: `${what}, ${hours} h x ${usd(price.perHour)}`,
            monthly: s.count * hours * price.perHour,
            basis: price.basis,
          },
    );
  }
  const serverCount = servers.reduce((n, s) => n + s.count, 0);

  // ---- EBS ----
  const volumeGb = servers.reduce((n, s) => n + s.count * s.rootVolumeGb, 0);
  if (volumeGb > 0) {
    lines.push(
      priced(
        "EBS gp3",
        `${volumeGb} GB x ${usd(regional?.ebsGp3PerGbMonth ?? 0)}/GB-month`,
        regional,
        (p) => volumeGb * p.ebsGp3PerGbMonth,
        noRegion,
      ),
    );
  }

  // ---- NAT gateways ----
  const nats = of("aws_nat_gateway").length;
  if (nats > 0) {
    lines.push(
      priced(
        "NAT gateway hours",
        `${nats} x ${hours} h x ${usd(regional?.natGatewayPerHour ?? 0)}`,
        regional,
        (p) => nats * hours * p.natGatewayPerHour,
        noRegion,
      ),
      priced(
        "NAT data processed",
        `${assumptions.natProcessedGbPerMonth} GB x ${usd(regional?.natGatewayPerGb ?? 0)} (cost.natProcessedGbPerMonth)`,
        regional,
        (p) => assumptions.natProcessedGbPerMonth * p.natGatewayPerGb,
        noRegion,
        "assumption",
      ),
    );
  }

  // ---- Application Load Balancers ----
  const albs = of("aws_lb").filter((r) => (r.values.load_balancer_type ?? "application") === "application");
  if (albs.length > 0) {
    const lcus = loadBalancerCapacityUnits(assumptions, hours);
    lines.push(
      priced(
        "ALB hours",
        `${albs.length} x ${hours} h x ${usd(regional?.albPerHour ?? 0)}`,
        regional,
        (p) => albs.length * hours * p.albPerHour,
        noRegion,
      ),
      priced(
        "ALB capacity units",
        `${round(lcus, 3)} LCU x ${hours} h x ${usd(regional?.albPerLcuHour ?? 0)} (cost.requestsPerSecond, cost.internetEgressGbPerMonth)`,
        regional,
        (p) => albs.length * lcus * hours * p.albPerLcuHour,
        noRegion,
        "assumption",
      ),
    );
  }

  // ---- RDS ----
  for (const db of of("aws_db_instance")) {
    const engine = String(db.values.engine ?? "");
    const instanceClass = String(db.values.instance_class ?? "");
    const copies = db.values.multi_az === true ? 2 : 1;
    const az = copies === 2 ? "Multi-AZ" : "Single-AZ";
    const price = rdsPrice(table, region, engine, instanceClass);
    lines.push(
      "missing" in price
        ? {
            item: "RDS instance",
            detail: `${instanceClass} ${engine} ${az}`,
            monthly: undefined,
            basis: "table",
            missing: price.missing,
          }
        : {
            item: "RDS instance",
            detail: `${instanceClass} ${engine} ${az}, ${copies} x ${hours} h x ${usd(price.perHour)}`,
            monthly: copies * hours * price.perHour,
            basis: price.basis,
          },
    );
    const storageGb = Number(db.values.allocated_storage ?? 0);
    lines.push(
      priced(
        "RDS storage",
        `${storageGb} GB gp3 ${az}, ${copies} x ${usd(regional?.rdsGp3PerGbMonth ?? 0)}/GB-month (backups within the free allowance)`,
        regional,
        (p) => copies * storageGb * p.rdsGp3PerGbMonth,
        noRegion,
      ),
    );
  }

  // ---- Public IPv4 addresses ----
  const ips = publicIpv4Count(resources);
  if (ips.count > 0) {
    const perHour = table.global.publicIpv4PerHour;
    lines.push({
      item: "Public IPv4",
      detail: `${ips.count} (${ips.detail}) x ${hours} h x ${usd(perHour)}`,
      monthly: ips.count * hours * perHour,
      basis: "table",
    });
  }

  // ---- CloudWatch ----
  const alarmMetrics = of("aws_cloudwatch_metric_alarm").reduce((n, a) => n + alarmMetricCount(a.values), 0);
  const alarms = of("aws_cloudwatch_metric_alarm").length;
  if (alarms > 0) {
    lines.push(
      priced(
        "CloudWatch alarms",
        `${alarms} alarms, ${alarmMetrics} metrics x ${usd(regional?.cloudwatch.alarmPerMetricMonth ?? 0)}`,
        regional,
        (p) => alarmMetrics * p.cloudwatch.alarmPerMetricMonth,
        noRegion,
        derivedIf(regional, "cloudwatch.alarmPerMetricMonth"),
      ),
    );
  }
  const dashboards = of("aws_cloudwatch_dashboard").length;
  if (dashboards > 0) {
    lines.push({
      item: "CloudWatch dashboards",
      detail: `${dashboards} x ${usd(table.global.dashboardPerMonth)} (the account's first 3 are free)`,
      monthly: dashboards * table.global.dashboardPerMonth,
      basis: "table",
    });
  }
  const databaseProbes = of("aws_cloudwatch_metric_alarm").filter(
    (a) => a.values.metric_name === DATABASE_HEALTH_METRIC.metricName,
  ).length;
  const metrics = customMetricCount(servers, of("aws_cloudwatch_log_metric_filter").length, databaseProbes);
  if (metrics.count > 0) {
    lines.push(
      priced(
        "CloudWatch metrics",
        `${metrics.count} (${metrics.detail}) x ${usd(regional?.cloudwatch.metricPerMonth ?? 0)}`,
        regional,
        (p) => metrics.count * p.cloudwatch.metricPerMonth,
        noRegion,
        derivedIf(regional, "cloudwatch.metricPerMonth"),
      ),
    );
  }
  const logs = logVolumes(resources, serverCount, assumptions);
  if (logs.ingestedGb > 0) {
    lines.push(
      priced(
        "CloudWatch Logs ingestion",
        `${round(logs.ingestedGb, 2)} GB (${logs.detail}) x ${usd(regional?.cloudwatch.logsIngestedPerGb ?? 0)}`,
        regional,
        (p) => logs.ingestedGb * p.cloudwatch.logsIngestedPerGb,
        noRegion,
        "assumption",
      ),
      priced(
        "CloudWatch Logs storage",
        `${round(logs.storedGb, 1)} GB once retention is full x ${usd(regional?.cloudwatch.logsStoredPerGbMonth ?? 0)}/GB-month`,
        regional,
        (p) => logs.storedGb * p.cloudwatch.logsStoredPerGbMonth,
        noRegion,
        "assumption",
      ),
    );
  }

  // ---- KMS, Secrets Manager, S3, data transfer ----
  const keys = of("aws_kms_key").length;
  if (keys > 0) {
    lines.push({
      item: "KMS keys",
      detail: `${keys} x ${usd(table.global.kmsKeyPerMonth)}`,
      monthly: keys * table.global.kmsKeyPerMonth,
      basis: "table",
    });
  }
  const managedPasswords = of("aws_db_instance").filter((d) => d.values.manage_master_user_password === true).length;
  const secrets = of("aws_secretsmanager_secret").length + managedPasswords;
  if (secrets > 0) {
    lines.push({
      item: "Secrets Manager",
      detail:
        `${secrets} secret(s) x ${usd(table.global.secretPerMonth)}` +
        (managedPasswords > 0 ? " (RDS-managed master password included)" : ""),
      monthly: secrets * table.global.secretPerMonth,
      basis: "table",
    });
  }
  const buckets = of("aws_s3_bucket").length;
  if (buckets > 0) {
    lines.push(
      priced(
        "S3",
        `${buckets} bucket(s), ${assumptions.s3StoredGb} GB Standard x ${usd(regional?.s3StandardPerGbMonth ?? 0)} (cost.s3StoredGb)`,
        regional,
        (p) => assumptions.s3StoredGb * p.s3StandardPerGbMonth,
        noRegion,
        "assumption",
      ),
    );
  }
  // Servers are what send data out; an environment without any (before a first deploy) sends none.
  if (serverCount > 0 && assumptions.internetEgressGbPerMonth > 0) {
    lines.push(
      priced(
        "Data transfer out",
        `${assumptions.internetEgressGbPerMonth} GB to the internet x ${usd(regional?.internetEgressPerGb ?? 0)} (cost.internetEgressGbPerMonth)`,
        regional,
        (p) => assumptions.internetEgressGbPerMonth * p.internetEgressPerGb,
        noRegion,
        "assumption",
      ),
    );
  }

  const total = lines.reduce((sum, l) => sum + (l.monthly ?? 0), 0);
  return { region, lines, total, complete: lines.every((l) => l.monthly !== undefined), pricesDate: table.date };
}

/** Average LCUs an hour: the larger of new connections (25/s each, one per request: errs high) and processed GB (1/h each). */
export function loadBalancerCapacityUnits(assumptions: CostAssumptions, hoursPerMonth: number): number {
  return Math.max(assumptions.requestsPerSecond / 25, assumptions.internetEgressGbPerMonth / hoursPerMonth);
}

interface Servers {
  readonly instanceType: string;
  readonly count: number;
  readonly rootVolumeGb: number;
  readonly detailedMonitoring: boolean;
  readonly fleet: boolean;
}

/** The app servers: each `aws_instance`, and each Auto Scaling group at its desired capacity. */
function appServers(resources: readonly PricedResource[]): Servers[] {
  const templates = resources.filter((r) => r.type === "aws_launch_template");
  const servers: Servers[] = [];
  for (const r of resources) {
    if (r.type === "aws_instance") {
      servers.push({
        instanceType: String(r.values.instance_type),
        count: 1,
        rootVolumeGb: Number(first(r.values.root_block_device)?.volume_size ?? 8),
        detailedMonitoring: r.values.monitoring === true,
        fleet: false,
      });
    } else if (r.type === "aws_autoscaling_group") {
      const reference = String(first(r.values.launch_template)?.id ?? "");
      // A plan knows the template's id only once it exists; a stack has one template per group.
      const template =
        templates.find((t) => reference.includes(`aws_launch_template.${t.name}.`)) ??
        (templates.length === 1 ? templates[0] : undefined);
      const ebs = first(first(template?.values.block_device_mappings)?.ebs);
      servers.push({
        instanceType: String(template?.values.instance_type ?? "(unknown launch template)"),
        count: Number(r.values.desired_capacity ?? r.values.min_size ?? 0),
        rootVolumeGb: Number(ebs?.volume_size ?? 8),
        detailedMonitoring: first(template?.values.monitoring)?.enabled === true,
        fleet: true,
      });
    }
  }
  return servers;
}

/** Public IPv4 addresses: Elastic IPs, one per AZ of an internet-facing load balancer, and auto-assigned ones no EIP replaces. */
function publicIpv4Count(resources: readonly PricedResource[]): { count: number; detail: string } {
  const eips = resources.filter((r) => r.type === "aws_eip");
  const albAddresses = resources
    .filter((r) => r.type === "aws_lb" && r.values.internal !== true)
    .reduce((n, lb) => n + (Array.isArray(lb.values.subnets) ? lb.values.subnets.length : 0), 0);
  const replaced = eips.filter((e) => e.values.instance !== undefined).length;
  const autoAssigned = Math.max(
    0,
    resources.filter((r) => r.type === "aws_instance" && r.values.associate_public_ip_address === true).length -
      replaced,
  );
  const parts = [
    eips.length > 0 ? `${eips.length} Elastic IP` : "",
    albAddresses > 0 ? `${albAddresses} ALB` : "",
    autoAssigned > 0 ? `${autoAssigned} auto-assigned` : "",
  ].filter(Boolean);
  return { count: eips.length + albAddresses + autoAssigned, detail: parts.join(", ") };
}

/** Metrics an alarm is billed for: each metric it reads (metric math reads several). */
function alarmMetricCount(values: Readonly<Record<string, unknown>>): number {
  const queries = values.metric_query;
  if (Array.isArray(queries) && queries.length > 0) {
    return queries.filter((q) => (q as { metric?: unknown }).metric !== undefined).length || 1;
  }
  return 1;
}

/**
 * Custom metrics: EC2 detailed monitoring, the CloudWatch agent's memory and disk metrics, and a
 * lone server's health probe.
 */
function customMetricCount(
  servers: readonly Servers[],
  logFilters: number,
  databaseProbes: number,
): { count: number; detail: string } {
  let detailed = 0;
  let agent = 0;
  let probe = databaseProbes;
  for (const s of servers) {
    if (s.detailedMonitoring) detailed += s.count * DETAILED_MONITORING_METRICS;
    agent += s.fleet
      ? s.count * AGENT_METRICS.perFleetServer + AGENT_METRICS.perFleet
      : s.count * AGENT_METRICS.singleServer;
    if (!s.fleet) probe += s.count * HEALTH_PROBE_METRICS;
  }
  const parts = [
    agent > 0 ? `${agent} agent` : "",
    probe > 0 ? `${probe} health probe` : "",
    detailed > 0 ? `${detailed} detailed monitoring` : "",
    // each log metric filter publishes one metric (no dimensions)
    logFilters > 0 ? `${logFilters} from log filters` : "",
  ].filter(Boolean);
  return { count: detailed + agent + probe + logFilters, detail: parts.join(", ") };
}

/** GB of logs ingested a month and held once retention is full (uncompressed: errs high). */
function logVolumes(
  resources: readonly PricedResource[],
  serverCount: number,
  assumptions: CostAssumptions,
): { ingestedGb: number; storedGb: number; detail: string } {
  const groups = resources.filter((r) => r.type === "aws_cloudwatch_log_group");
  const flowLogs = resources.filter(
    (r) => r.type === "aws_flow_log" && (r.values.log_destination_type ?? "cloud-watch-logs") === "cloud-watch-logs",
  );
  const isFlowGroup = (g: PricedResource) =>
    flowLogs.some((f) => String(f.values.log_destination ?? "").includes(`aws_cloudwatch_log_group.${g.name}.`)) ||
    (flowLogs.length > 0 && String(g.values.name ?? "").startsWith("/vpc/"));
  const flowGroups = groups.filter(isFlowGroup);
  const serverGroups = groups.filter((g) => !isFlowGroup(g));
  const months = (list: readonly PricedResource[]) =>
    Math.max(0, ...list.map((g) => Number(g.values.retention_in_days ?? 3653))) / DAYS_PER_MONTH;

  const serverGb = serverGroups.length > 0 ? serverCount * assumptions.logsGbPerServerPerMonth : 0;
  const flowGb = flowLogs.length > 0 ? assumptions.flowLogsGbPerMonth : 0;
  const parts = [
    serverGb > 0
      ? `${serverCount} server(s) x ${assumptions.logsGbPerServerPerMonth} GB (cost.logsGbPerServerPerMonth)`
      : "",
    flowGb > 0 ? `flow logs ${flowGb} GB (cost.flowLogsGbPerMonth)` : "",
  ].filter(Boolean);
  return {
    ingestedGb: serverGb + flowGb,
    storedGb: serverGb * months(serverGroups) + flowGb * months(flowGroups),
    detail: parts.join(" + "),
  };
}

function priced(
  item: string,
  detail: string,
  regional: PriceTable["regions"][string] | undefined,
  amount: (prices: PriceTable["regions"][string]) => number,
  missing: string,
  basis: LineBasis = "table",
): CostLine {
  return regional
    ? { item, detail, monthly: amount(regional), basis }
    : { item, detail, monthly: undefined, basis, missing };
}

function derivedIf(regional: PriceTable["regions"][string] | undefined, key: string): LineBasis {
  return regional?.derived.includes(key) ? "derived" : "table";
}

/** A nested block: an object in the synthesized JSON, a one-item list in a plan. */
function first(value: unknown): Record<string, unknown> | undefined {
  const item = Array.isArray(value) ? value[0] : value;
  return item && typeof item === "object" ? (item as Record<string, unknown>) : undefined;
}

/** Rounds for display and comparison (`round(1.23456, 2)` = 1.23). */
export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** `$1,234.56` (without Intl, whose first use costs milliseconds at every synth). */
export function formatUsd(value: number): string {
  const [whole, cents] = Math.abs(value).toFixed(2).split(".");
  return `${value < 0 ? "-" : ""}$${whole.replace(/\B(?=(\d{3})+$)/g, ",")}.${cents}`;
}

import { CloudwatchDashboard } from "@cdktf/provider-aws/lib/cloudwatch-dashboard";
import { Construct } from "constructs";
import type { Naming } from "../naming";
import { HEALTH_METRIC } from "../userdata/health-probe";
import type { MetricNamespaces } from "../userdata/metric-namespaces";
import { ACCESS_LOG_METRICS } from "./access-log-alarms";
import { appDimensions, type AppServers } from "./app-alarms";
import { ec2Period } from "./tier-alarms";

/**
 * The dashboard body, typed: the subset of CloudWatch's dashboard body structure used here.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html
 */
export interface DashboardBody {
  readonly widgets: DashboardWidget[];
}
export type DashboardWidget = {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
} & (
  | { readonly type: "text"; readonly properties: { readonly markdown: string } }
  | { readonly type: "alarm"; readonly properties: { readonly title: string; readonly alarms: string[] } }
  | { readonly type: "metric"; readonly properties: MetricWidgetProperties }
);
export interface MetricWidgetProperties {
  readonly title: string;
  readonly region: string;
  readonly view: "timeSeries";
  readonly stacked: false;
  readonly period: number;
  readonly stat: string;
  /** Each line `[namespace, metricName, dimName, dimValue, ..., options?]`. */
  readonly metrics: MetricLine[];
  readonly yAxis?: { readonly left: { readonly min: number; readonly max?: number } };
}
export type MetricLine = Array<string | MetricOptions>;
export interface MetricOptions {
  readonly stat?: string;
  readonly label?: string;
  /** Which y axis the line uses. @default "left" */
  readonly yAxis?: "left" | "right";
}

export interface DashboardProps {
  /** Builds the dashboard's name, `<project>-<env>-dashboard`. */
  readonly naming: Naming;
  /** Region of the metrics (and of the console URL). */
  readonly region: string;
  /** Alarms whose state the top row shows. */
  readonly alarmArns: readonly string[];
  /** The app servers: an Auto Scaling group, or one instance. */
  readonly servers: AppServers;
  /** Whether the app servers send 1-minute metrics (otherwise their graphs use 5-minute periods). */
  readonly detailedMonitoring: boolean;
  /** Where the servers publish the agent's metrics and the health probe's (metric-namespaces.ts). */
  readonly metricNamespaces: Pick<MetricNamespaces, "agent" | "health">;
  /** The ALB and its target group, by ARN suffix. @default - no load balancer row */
  readonly loadBalancer?: { readonly arnSuffix: string; readonly targetGroupArnSuffix: string };
  /** The RDS instance. @default - no database row */
  readonly dbInstanceIdentifier?: string;
  /**
   * The namespace of the metrics read from the server's nginx access log (`AccessLogAlarms`), on a
   * server clients reach directly: a row of its requests, 5xx and health probe, what the load
   * balancer's row shows for a fleet. @default - no such row
   */
  readonly accessLogNamespace?: string;
}

const FULL_WIDTH = 24;
const ROW_HEIGHT = 6;

/**
 * A CloudWatch dashboard per environment, `<project>-<env>-dashboard`: the state of every alarm
 * on top, then one row of golden signals per tier (traffic, errors, latency, saturation):
 * load balancer (requests, 5xx, latency p50/p95/p99, healthy and unhealthy hosts) or, without one,
 * the server's nginx (requests and 5xx from its access log, its health probe), app servers
 * (CPU, memory from the CloudWatch agent, network, status checks) and database (CPU,
 * connections, free storage, freeable memory, read/write latency).
 *
 * The body is built as a typed object and serialized once; resource references inside it (ARN
 * suffixes, group names, identifiers) become Terraform interpolations in `dashboard_body`.
 *
 * @example
 * new Dashboard(this, "Dashboard", { naming, region, alarmArns, servers: { autoScalingGroupName }, detailedMonitoring: true,
 *   loadBalancer: { arnSuffix, targetGroupArnSuffix }, dbInstanceIdentifier });
 */
export class Dashboard extends Construct {
  public readonly dashboardName: string;
  /** The dashboard in the CloudWatch console. */
  public readonly url: string;

  constructor(scope: Construct, id: string, props: DashboardProps) {
    super(scope, id);
    this.dashboardName = props.naming.name("dashboard");
    this.url = `https://${props.region}.console.aws.amazon.com/cloudwatch/home?region=${props.region}#dashboards/dashboard/${this.dashboardName}`;
    new CloudwatchDashboard(this, "Dashboard", {
      dashboardName: this.dashboardName,
      dashboardBody: JSON.stringify(dashboardBody(props)),
    });
  }
}

/** The widgets, row by row: alarms, then each tier present. */
export function dashboardBody(props: DashboardProps): DashboardBody {
  const rows: Array<{ title: string; graphs: Array<Omit<MetricWidgetProperties, "region" | "view" | "stacked">> }> = [];
  if (props.loadBalancer) rows.push({ title: "Load balancer", graphs: loadBalancerGraphs(props.loadBalancer) });
  if (props.accessLogNamespace) {
    rows.push({
      title: "Server (nginx)",
      graphs: serverGraphs(props.accessLogNamespace, props.servers, props.metricNamespaces.health),
    });
  }
  rows.push({
    title: "App servers",
    graphs: appGraphs(props.servers, props.detailedMonitoring, props.metricNamespaces.agent),
  });
  if (props.dbInstanceIdentifier) rows.push({ title: "Database", graphs: databaseGraphs(props.dbInstanceIdentifier) });

  const widgets: DashboardWidget[] = [
    {
      type: "alarm",
      x: 0,
      y: 0,
      width: FULL_WIDTH,
      height: 3,
      properties: {
        title: `Alarms of ${props.naming.project}-${props.naming.environment}`,
        alarms: [...props.alarmArns],
      },
    },
  ];
  let y = 3;
  for (const row of rows) {
    widgets.push({ type: "text", x: 0, y, width: FULL_WIDTH, height: 1, properties: { markdown: `## ${row.title}` } });
    y += 1;
    // Whole columns: PutDashboard takes x and width as integers only (5 graphs are 5, 5, 5, 5, 4).
    const base = Math.floor(FULL_WIDTH / row.graphs.length);
    const wider = FULL_WIDTH % row.graphs.length;
    let x = 0;
    row.graphs.forEach((graph, i) => {
      const width = base + (i < wider ? 1 : 0);
      widgets.push({
        type: "metric",
        x,
        y,
        width,
        height: ROW_HEIGHT,
        properties: { region: props.region, view: "timeSeries", stacked: false, ...graph },
      });
      x += width;
    });
    y += ROW_HEIGHT;
  }
  return { widgets };
}

/** `[namespace, metric, dim1, value1, ...]`, plus options when given. */
function line(
  namespace: string,
  metricName: string,
  dims: Record<string, string>,
  options?: MetricOptions,
): MetricLine {
  const base: MetricLine = [namespace, metricName, ...Object.entries(dims).flat()];
  return options ? [...base, options] : base;
}

function loadBalancerGraphs(lb: { arnSuffix: string; targetGroupArnSuffix: string }) {
  const ns = "AWS/ApplicationELB";
  const alb = { LoadBalancer: lb.arnSuffix };
  const targets = { TargetGroup: lb.targetGroupArnSuffix, LoadBalancer: lb.arnSuffix };
  return [
    { title: "Requests", period: 60, stat: "Sum", metrics: [line(ns, "RequestCount", alb)] },
    {
      title: "5xx responses",
      period: 60,
      stat: "Sum",
      metrics: [
        line(ns, "HTTPCode_ELB_5XX_Count", alb, { label: "from the load balancer" }),
        line(ns, "HTTPCode_Target_5XX_Count", targets, { label: "from the app" }),
      ],
    },
    responseTimeGraph("Target response time (s)", ns, "TargetResponseTime", targets),
    {
      title: "Targets",
      period: 60,
      stat: "Minimum",
      metrics: [
        line(ns, "HealthyHostCount", targets, { stat: "Minimum", label: "healthy" }),
        line(ns, "UnHealthyHostCount", targets, { stat: "Maximum", label: "unhealthy" }),
      ],
      yAxis: { left: { min: 0 } },
    },
  ];
}

/** A response time by the minute, p50, p95 and p99 (the latency alarms read the last two). */
function responseTimeGraph(title: string, namespace: string, metricName: string, dims: Record<string, string>) {
  return {
    title,
    period: 60,
    stat: "p50",
    metrics: ["p50", "p95", "p99"].map((stat) => line(namespace, metricName, dims, { stat, label: stat })),
  };
}

/**
 * A server clients reach directly: requests, 5xx and response times from its nginx access log (the
 * alarms' metric filters), and its health probe's minute-by-minute result (1: answered through nginx).
 */
function serverGraphs(namespace: string, servers: AppServers, healthNamespace: string) {
  const graphs = [
    { title: "Requests", period: 60, stat: "Sum", metrics: [line(namespace, ACCESS_LOG_METRICS.requests, {})] },
    { title: "5xx responses", period: 60, stat: "Sum", metrics: [line(namespace, ACCESS_LOG_METRICS.errors, {})] },
    responseTimeGraph("Response time (s)", namespace, ACCESS_LOG_METRICS.responseTime, {}),
  ];
  if ("instanceId" in servers) {
    graphs.push({
      title: "Health probe (1: answered)",
      period: 60,
      stat: "Minimum",
      metrics: [line(healthNamespace, HEALTH_METRIC.metricName, appDimensions(servers))],
    });
  }
  return graphs;
}

function appGraphs(servers: AppServers, detailedMonitoring: boolean, agentNamespace: string) {
  const dims = appDimensions(servers);
  const period = ec2Period(detailedMonitoring);
  const percent = { left: { min: 0, max: 100 } };
  const fullest = "autoScalingGroupName" in servers ? ", the fullest server" : "";
  const statusChecks =
    "autoScalingGroupName" in servers
      ? [line("AWS/EC2", "StatusCheckFailed", dims, { label: "failed" })]
      : [
          line("AWS/EC2", "StatusCheckFailed_Instance", dims, { label: "instance" }),
          line("AWS/EC2", "StatusCheckFailed_System", dims, { label: "system" }),
        ];
  return [
    { title: "CPU (%)", period, stat: "Average", metrics: [line("AWS/EC2", "CPUUtilization", dims)], yAxis: percent },
    // Published by the CloudWatch agent the user data configures (see AppAlarms).
    // The fullest server's, as the memory and disk alarms read them (an average hides one running out).
    {
      title: `Memory (%${fullest})`,
      period: 60,
      stat: "Maximum",
      metrics: [line(agentNamespace, "mem_used_percent", dims)],
      yAxis: percent,
    },
    {
      title: `Root disk (%${fullest})`,
      period: 300,
      stat: "Maximum",
      metrics: [line(agentNamespace, "disk_used_percent", dims)],
      yAxis: percent,
    },
    {
      title: "Network (bytes)",
      period,
      stat: "Sum",
      metrics: [
        line("AWS/EC2", "NetworkIn", dims, { label: "in" }),
        line("AWS/EC2", "NetworkOut", dims, { label: "out" }),
      ],
    },
    { title: "Status checks failed", period: 60, stat: "Maximum", metrics: statusChecks, yAxis: { left: { min: 0 } } },
  ];
}

function databaseGraphs(identifier: string) {
  const dims = { DBInstanceIdentifier: identifier };
  const rds = (metric: string, options?: MetricOptions) => line("AWS/RDS", metric, dims, options);
  return [
    {
      title: "CPU (%)",
      period: 60,
      stat: "Average",
      metrics: [rds("CPUUtilization")],
      yAxis: { left: { min: 0, max: 100 } },
    },
    { title: "Connections", period: 60, stat: "Maximum", metrics: [rds("DatabaseConnections")] },
    {
      title: "Free storage (left) and freeable memory (right), bytes",
      period: 60,
      stat: "Minimum",
      metrics: [
        rds("FreeStorageSpace", { label: "free storage" }),
        rds("FreeableMemory", { label: "freeable memory", yAxis: "right" }),
      ],
    },
    {
      title: "Read / write latency (s)",
      period: 60,
      stat: "Average",
      metrics: [rds("ReadLatency", { label: "read" }), rds("WriteLatency", { label: "write" })],
    },
  ];
}

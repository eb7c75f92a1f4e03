import { Testing } from "cdktf";
import { Dashboard, dashboardBody, type DashboardProps, type DashboardWidget } from "../../src/constructs/dashboard";
import { Naming } from "../../src/naming";
import { metricNamespaces } from "../../src/userdata/metric-namespaces";
import { Synthesized } from "../helpers";

const ALB = "app/shop-prod-alb/0123456789abcdef";
const TG = "targetgroup/shop-prod-app/0123456789abcdef";
const props: DashboardProps = {
  naming: new Naming("shop", "prod"),
  region: "ap-northeast-2",
  alarmArns: ["arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:shop-prod-app-cpu"],
  servers: { autoScalingGroupName: "shop-prod-app-123" },
  detailedMonitoring: true,
  metricNamespaces: metricNamespaces("shop", "prod", "environment"),
  loadBalancer: { arnSuffix: ALB, targetGroupArnSuffix: TG },
  dbInstanceIdentifier: "shop-prod-db",
};

type MetricWidget = Extract<DashboardWidget, { type: "metric" }>;
const metricWidgets = (widgets: DashboardWidget[]) => widgets.filter((w): w is MetricWidget => w.type === "metric");
const headings = (widgets: DashboardWidget[]) =>
  widgets.flatMap((w) => (w.type === "text" ? [w.properties.markdown] : []));
/** `[namespace, metric, dims...]` of every line of a widget, without options. */
const linesOf = (w: MetricWidget) =>
  w.properties.metrics.map((l) => l.filter((part): part is string => typeof part === "string"));

describe("Dashboard", () => {
  const { widgets } = dashboardBody(props);

  test("alarms on top, then one row per tier: load balancer, app servers, database", () => {
    expect(widgets[0]).toMatchObject({ type: "alarm", y: 0, width: 24, properties: { alarms: props.alarmArns } });
    expect(headings(widgets)).toEqual(["## Load balancer", "## App servers", "## Database"]);
  });

  test("widgets tile the 24-column grid in whole columns, without overlapping (PutDashboard takes integers only)", () => {
    const cells = new Set<string>();
    for (const w of widgets) {
      expect([w.x, w.y, w.width, w.height].every(Number.isInteger)).toBe(true);
      expect(w.x + w.width).toBeLessThanOrEqual(24);
      for (let x = w.x; x < w.x + w.width; x++) {
        for (let y = w.y; y < w.y + w.height; y++) {
          expect(cells.has(`${x},${y}`)).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });

  test("golden signals of the load balancer: requests, 5xx from ALB and app, latency p50/p95/p99, hosts", () => {
    const graphs = metricWidgets(widgets).filter((w) => w.properties.metrics[0][0] === "AWS/ApplicationELB");
    const metrics = graphs.flatMap((w) =>
      w.properties.metrics.map((l) => [l[1], (l.at(-1) as { stat?: string }).stat]),
    );
    expect(metrics).toEqual([
      ["RequestCount", undefined],
      ["HTTPCode_ELB_5XX_Count", undefined],
      ["HTTPCode_Target_5XX_Count", undefined],
      ["TargetResponseTime", "p50"],
      ["TargetResponseTime", "p95"],
      ["TargetResponseTime", "p99"],
      ["HealthyHostCount", "Minimum"],
      ["UnHealthyHostCount", "Maximum"],
    ]);
  });

  test("every metric of a tier is pinned to that tier's resource", () => {
    const expected: Record<string, string[][]> = {
      "AWS/ApplicationELB": [
        ["LoadBalancer", ALB],
        ["TargetGroup", TG, "LoadBalancer", ALB],
      ],
      "AWS/EC2": [["AutoScalingGroupName", "shop-prod-app-123"]],
      "shop/prod/CWAgent": [["AutoScalingGroupName", "shop-prod-app-123"]],
      "AWS/RDS": [["DBInstanceIdentifier", "shop-prod-db"]],
    };
    const lines = metricWidgets(widgets).flatMap(linesOf);
    expect(lines.length).toBeGreaterThan(15);
    for (const [namespace, , ...dims] of lines) expect(expected[namespace]).toContainEqual(dims);
  });

  test("app servers: CPU, agent memory, network, status checks; database: CPU, connections, storage, memory, latency", () => {
    const names = (ns: string) =>
      metricWidgets(widgets)
        .flatMap(linesOf)
        .filter((l) => l[0] === ns)
        .map((l) => l[1]);
    expect(names("AWS/EC2")).toEqual(["CPUUtilization", "NetworkIn", "NetworkOut", "StatusCheckFailed"]);
    expect(names("shop/prod/CWAgent")).toEqual(["mem_used_percent", "disk_used_percent"]);
    // the fullest server's memory and root disk, as their alarms read them: an average hides one running out
    const widgetOf = (metric: string) => metricWidgets(widgets).find((w) => w.properties.metrics[0][1] === metric)!;
    expect(widgetOf("mem_used_percent").properties).toMatchObject({
      stat: "Maximum",
      period: 60,
      title: "Memory (%, the fullest server)",
    });
    expect(widgetOf("disk_used_percent").properties).toMatchObject({
      stat: "Maximum",
      period: 300, // the agent's disk interval, as app-disk reads it
      title: "Root disk (%, the fullest server)",
    });
    expect(names("AWS/RDS")).toEqual([
      "CPUUtilization",
      "DatabaseConnections",
      "FreeStorageSpace",
      "FreeableMemory",
      "ReadLatency",
      "WriteLatency",
    ]);
  });

  test("a single server without a load balancer or RDS: its nginx's requests, 5xx and response times and its health probe, its own status checks, no ALB or database row", () => {
    const single = dashboardBody({
      ...props,
      servers: { instanceId: "i-0123456789abcdef0", region: "ap-northeast-2" },
      detailedMonitoring: false,
      loadBalancer: undefined,
      dbInstanceIdentifier: undefined,
      accessLogNamespace: "shop/prod/nginx",
    }).widgets;
    expect(headings(single)).toEqual(["## Server (nginx)", "## App servers"]);
    const [requests, errors, latency, probe, ...app] = metricWidgets(single);
    expect([requests, errors, latency, probe].map(linesOf)).toEqual([
      [["shop/prod/nginx", "Requests"]],
      [["shop/prod/nginx", "Errors5xx"]],
      [
        ["shop/prod/nginx", "ResponseTime"],
        ["shop/prod/nginx", "ResponseTime"],
        ["shop/prod/nginx", "ResponseTime"],
      ],
      [["shop/prod/AppHealth", "HealthCheckOk", "InstanceId", "i-0123456789abcdef0"]],
    ]);
    expect([requests, errors, latency, probe].map((w) => w.properties.stat)).toEqual(["Sum", "Sum", "p50", "Minimum"]);
    // each response-time line its own percentile, as the latency alarms read them
    expect(latency.properties.metrics.map((m: unknown[]) => m[m.length - 1])).toEqual(
      ["p50", "p95", "p99"].map((stat) => ({ stat, label: stat })),
    );
    const lines = app.flatMap(linesOf);
    expect(lines.map((l) => l[1])).toEqual([
      "CPUUtilization",
      "mem_used_percent",
      "disk_used_percent",
      "NetworkIn",
      "NetworkOut",
      "StatusCheckFailed_Instance",
      "StatusCheckFailed_System",
    ]);
    for (const l of lines) expect(l.slice(2)).toEqual(["InstanceId", "i-0123456789abcdef0"]);
    // one server: no "fullest" to speak of
    expect(app.map((w) => w.properties.title)).toEqual(expect.arrayContaining(["Memory (%)", "Root disk (%)"]));
    // Without detailed monitoring EC2 sends a datapoint every 5 minutes; graphs use that period.
    expect(app.find((w) => w.properties.title === "CPU (%)")!.properties.period).toBe(300);
  });

  test("synthesized: the named dashboard carries the same body, as valid JSON, and its console URL", () => {
    let dashboard: Dashboard | undefined;
    const json = new Synthesized(
      Testing.synthScope((scope) => void (dashboard = new Dashboard(scope, "Dashboard", props))),
    );
    const [resource] = json.resources("aws_cloudwatch_dashboard");
    expect(resource.values.dashboard_name).toBe("shop-prod-dashboard");
    expect(JSON.parse(resource.values.dashboard_body)).toEqual(dashboardBody(props));
    expect(dashboard!.url).toBe(
      "https://ap-northeast-2.console.aws.amazon.com/cloudwatch/home?region=ap-northeast-2#dashboards/dashboard/shop-prod-dashboard",
    );
  });
});

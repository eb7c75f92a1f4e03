import { Testing } from "cdktf";
import type { Construct } from "constructs";
import { ACCESS_LOG_FIELDS, AccessLogAlarms, accessLogPattern } from "../../src/constructs/access-log-alarms";
import { cloudWatchFields } from "../cloudwatch-fields";
import { AppAlarms, FLEET_CPU_SUSTAINED_MINUTES, type AppAlarmsProps } from "../../src/constructs/app-alarms";
import { DatabaseAlarms } from "../../src/constructs/database-alarms";
import { LoadBalancerAlarms } from "../../src/constructs/load-balancer-alarms";
import { TierAlarms, type TierAlarmsProps } from "../../src/constructs/tier-alarms";
import { Naming } from "../../src/naming";
import { metricNamespaces } from "../../src/userdata/metric-namespaces";
import { nginxConf } from "../../src/userdata/nginx-conf";
import { Synthesized, testHost } from "../helpers";

const TOPIC = "arn:aws:sns:ap-northeast-2:123456789012:shop-prod-alarms";
const common: TierAlarmsProps = {
  naming: new Naming("shop", "prod"),
  topicArn: TOPIC,
  evaluationPeriods: 3,
  datapointsToAlarm: 2,
};
const ALB = "app/shop-prod-alb/0123456789abcdef";
const TG = "targetgroup/shop-prod-app/0123456789abcdef";

/** The synthesized alarms, by name. */
function alarms(build: (scope: Construct) => void): Record<string, Record<string, any>> {
  const json = new Synthesized(Testing.synthScope(build));
  return Object.fromEntries(
    json.resources("aws_cloudwatch_metric_alarm").map((a) => [a.values.alarm_name as string, a.values]),
  );
}

const GROUP = "shop-prod-app-123";
const loadBalancerAlarms = (
  minHealthyHosts: number,
  group: { autoScalingGroupName?: string } = { autoScalingGroupName: GROUP },
) =>
  alarms((scope) => {
    new LoadBalancerAlarms(scope, "LoadBalancerAlarms", {
      ...common,
      loadBalancerArnSuffix: ALB,
      targetGroupArnSuffix: TG,
      loadBalancer5xxPercent: 1,
      target5xxPercent: 2,
      latencyP95Ms: 500,
      latencyP99Ms: 1500,
      minHealthyHosts,
      healthCheckGracePeriodSeconds: 300,
      replacementSeconds: 3816,
      ...group,
    });
  });
const loadBalancer = loadBalancerAlarms(2);
const app = (servers: AppAlarmsProps["servers"], detailedMonitoring = true) =>
  alarms((scope) => {
    new AppAlarms(scope, "AppAlarms", {
      ...common,
      servers,
      cpuPercent: 80,
      memoryPercent: 85,
      diskPercent: 80,
      detailedMonitoring,
      metricNamespaces: metricNamespaces("shop", "prod", "environment"),
    });
  });
const databaseAlarms = (connections: { maxConnections: number; defaultMaxConnections?: number }) =>
  alarms((scope) => {
    new DatabaseAlarms(scope, "DatabaseAlarms", {
      ...common,
      dbInstanceIdentifier: "shop-prod-db",
      cpuPercent: 75,
      freeStorageGb: 20,
      freeableMemoryMb: 819,
      ...connections,
    });
  });
const database = databaseAlarms({ maxConnections: 720 });

/**
 * An alarm's metric math over one minute's values (a metric missing from `minute` has no data
 * point): CloudWatch's semantics for what these expressions use, FILL, IF and arithmetic. Returns
 * the value of the query the alarm reads.
 */
function metricMath(queries: any[], minute: Record<string, number>): number {
  const values: Record<string, number | undefined> = {};
  for (const query of queries.filter((q) => q.metric)) values[query.id] = minute[query.id];
  const evaluate = (expression: string): number =>
    Function(
      ...Object.keys(values),
      `return ${expression
        .replace(/FILL\((\w+), 0\)/g, "($1 ?? 0)")
        .replace(/IF\(([^,]+), ([^,]+), ([^,]+)\)/g, "(($1) ? ($2) : ($3))")};`,
    )(...Object.values(values));
  for (const query of queries.filter((q) => q.expression)) values[query.id] = evaluate(query.expression);
  return values[queries.find((q) => q.return_data).id]!;
}

describe("every tier's alarms", () => {
  const labelled = (tier: string, set: Record<string, Record<string, any>>) =>
    Object.entries(set).map(([name, alarm]) => [`${tier}: ${name}`, name, alarm] as const);
  const all = [
    ...labelled("load balancer", loadBalancer),
    ...labelled("fleet", app({ autoScalingGroupName: "shop-prod-app-123" })),
    ...labelled("server", app({ instanceId: "i-0123456789abcdef0", region: "ap-northeast-2" })),
    ...labelled("database", database),
  ];

  /** Alarms whose window is reasoned from a new server's boot, not the tier's M of N. */
  const WINDOWED = [
    "shop-prod-unhealthy-hosts",
    "shop-prod-unhealthy-hosts-lasting",
    "shop-prod-healthy-hosts-below-min",
    "shop-prod-app-agent-silent",
  ];
  test.each(all)("%s notifies the topic when it fires and when it recovers, 2 of 3 periods", (label, name, alarm) => {
    expect(alarm).toMatchObject({ ok_actions: [TOPIC] });
    // (a fleet's CPU waits out a scale-out: see AppAlarms)
    const ownWindow = WINDOWED.includes(name) || (label.startsWith("fleet") && name === "shop-prod-app-cpu");
    if (!ownWindow) expect(alarm).toMatchObject({ evaluation_periods: 3, datapoints_to_alarm: 2 });
    expect(alarm.alarm_actions).toContain(TOPIC);
    expect(alarm.insufficient_data_actions).toBeUndefined();
  });

  test.each(all)("%s is named <project>-<env>-<what> and says what to look at first", (_label, name, alarm) => {
    expect(name).toMatch(/^shop-prod-[a-z0-9-]+$/);
    expect(alarm.alarm_description).toMatch(/\. Look first at: /);
    expect(alarm.alarm_description.length).toBeLessThanOrEqual(1024);
  });

  test("a description longer than CloudWatch allows is refused at synth, naming the alarm", () => {
    class Verbose extends TierAlarms {
      constructor(scope: Construct) {
        super(scope, "Verbose", common);
        this.alarm("Long", {
          what: "long",
          description: "x".repeat(1025),
          comparison: "GreaterThanThreshold",
          threshold: 1,
          treatMissingData: "missing",
          metric: {
            namespace: "AWS/EC2",
            metricName: "CPUUtilization",
            dimensions: {},
            statistic: "Average",
            period: 60,
          },
        });
      }
    }
    expect(() => Testing.synthScope((scope) => new Verbose(scope))).toThrow(
      /Verbose: the description of shop-prod-long is 1025 characters; CloudWatch allows at most 1024/,
    );
  });
});

describe("LoadBalancerAlarms", () => {
  test("the exact set: two 5xx rates, unhealthy (and unhealthy past any replacement), too few and no healthy hosts, p95 and p99 latency", () => {
    expect(Object.keys(loadBalancer).sort()).toEqual([
      "shop-prod-alb-5xx-rate",
      "shop-prod-healthy-hosts-below-min",
      "shop-prod-latency-p95",
      "shop-prod-latency-p99",
      "shop-prod-no-healthy-hosts",
      "shop-prod-target-5xx-rate",
      "shop-prod-unhealthy-hosts",
      "shop-prod-unhealthy-hosts-lasting",
    ]);
    // without a group to replace servers, no replacement to outlast
    expect(Object.keys(loadBalancerAlarms(2, {}))).not.toContain("shop-prod-unhealthy-hosts-lasting");
  });

  test("the ALB's 5xx rate is metric math over its own errors and requests, filled with 0 when quiet", () => {
    const alarm = loadBalancer["shop-prod-alb-5xx-rate"];
    expect(alarm).toMatchObject({ comparison_operator: "GreaterThanThreshold", threshold: 1 });
    expect(alarm.metric_name).toBeUndefined();
    const queries = Object.fromEntries(alarm.metric_query.map((q: any) => [q.id, q]));
    expect(queries.errors.metric).toEqual({
      namespace: "AWS/ApplicationELB",
      metric_name: "HTTPCode_ELB_5XX_Count",
      dimensions: { LoadBalancer: ALB },
      stat: "Sum",
      period: 60,
    });
    expect(queries.requests.metric).toMatchObject({ metric_name: "RequestCount", dimensions: { LoadBalancer: ALB } });
    expect(queries.rate.expression).toBe("IF(total >= 10, 100 * FILL(errors, 0) / total, 0)");
    expect(alarm.metric_query.filter((q: any) => q.return_data).map((q: any) => q.id)).toEqual(["rate"]);
  });

  // RequestCount counts only the requests for which the ALB chose a target: a 502 or 504 (the
  // target failed or timed out) is in it, a 503 with no target to choose is not.
  test.each([
    ["every request a 502 (the targets fail)", 100, { requests: 200, errors: 200, bad_gateway: 200 }],
    ["every request a 503 (no target to choose)", 100, { errors: 200 }],
    ["2 of 200 requests a 504", 1, { requests: 200, errors: 2, gateway_timeout: 2 }],
    ["2 503s beside 198 requests routed to a target", 1, { requests: 198, errors: 2 }],
    ["a quiet minute: 5 requests, all 502", 0, { requests: 5, errors: 5, bad_gateway: 5 }],
  ])("the ALB's 5xx rate, %s, reads %d %%", (_, percent, minute: Record<string, number>) => {
    const queries: any[] = loadBalancer["shop-prod-alb-5xx-rate"].metric_query;
    expect(metricMath(queries, minute)).toBeCloseTo(percent, 5);
    // every metric a minute names is one the alarm reads
    for (const id of Object.keys(minute)) expect(queries.find((q) => q.id === id)?.metric).toBeDefined();
  });

  test("the targets' 5xx rate reads the target group's own errors and requests", () => {
    const alarm = loadBalancer["shop-prod-target-5xx-rate"];
    expect(alarm.threshold).toBe(2);
    const metrics = alarm.metric_query.filter((q: any) => q.metric).map((q: any) => q.metric);
    expect(metrics.map((m: any) => [m.metric_name, m.dimensions])).toEqual([
      ["HTTPCode_Target_5XX_Count", { TargetGroup: TG, LoadBalancer: ALB }],
      ["RequestCount", { TargetGroup: TG, LoadBalancer: ALB }],
    ]);
    expect(alarm.metric_query.find((q: any) => q.return_data).expression).toMatch(
      /^IF\(FILL\(requests, 0\) >= 10, 100 \* FILL\(errors, 0\) \/ requests, 0\)$/,
    );
  });

  test("unhealthy hosts page only when one stays unhealthy past the grace period with no replacement launching: never on a launch, nor while the group replaces it", () => {
    const alarm = loadBalancer["shop-prod-unhealthy-hosts"];
    expect(alarm).toMatchObject({ comparison_operator: "GreaterThanThreshold", threshold: 0 });
    const queries = Object.fromEntries(alarm.metric_query.map((q: any) => [q.id, q]));
    expect(queries.unhealthy.metric).toEqual({
      namespace: "AWS/ApplicationELB",
      metric_name: "UnHealthyHostCount",
      dimensions: { TargetGroup: TG, LoadBalancer: ALB },
      stat: "Minimum", // the fewest unhealthy in each minute: a server that turns healthy leaves it
      period: 60,
    });
    expect(queries.pending.metric).toEqual({
      namespace: "AWS/AutoScaling",
      metric_name: "GroupPendingInstances",
      dimensions: { AutoScalingGroupName: GROUP },
      stat: "Maximum", // a replacement on its way at any time of the minute
      period: 60,
    });
    const minute = (values: Record<string, number>) => metricMath(alarm.metric_query, values);
    // one unhealthy target and nothing launching: it counts
    expect(minute({ unhealthy: 1, pending: 0 })).toBe(1);
    expect(minute({ unhealthy: 2 })).toBe(2); // the group's metrics missing: as nothing launching
    // the group replacing it (its replacement boots first, under the launch hook): it does not
    expect(minute({ unhealthy: 1, pending: 1 })).toBe(0);
    expect(minute({ pending: 0 })).toBe(0);
    // one launching does not excuse two unhealthy; a scale-out of three does not go below zero
    expect(minute({ unhealthy: 2, pending: 1 })).toBe(1);
    expect(minute({ unhealthy: 0, pending: 3 })).toBe(0);
    // every minute of a window longer than the grace period must breach (not 2 of 3 minutes)
    expect(alarm.evaluation_periods).toBe(6);
    expect(alarm.datapoints_to_alarm).toBe(alarm.evaluation_periods);
    expect(alarm.alarm_description).toMatch(
      /^More app servers than the group is launching have failed the load balancer's health check for 6 minutes in a row, longer than the 300 s the group gives a server once in service .*not a launch or an instance refresh, nor a replacement booting .*\. Look first at: /,
    );
    // without a group to ask, any target unhealthy past the grace period
    const plain = loadBalancerAlarms(2, {})["shop-prod-unhealthy-hosts"];
    expect(plain).toMatchObject({ metric_name: "UnHealthyHostCount", statistic: "Minimum", evaluation_periods: 6 });
    expect(plain.alarm_description).not.toContain("replacement");
  });

  test("a target unhealthy past the grace period and the longest replacement pages whatever is pending: replacements that keep failing their boot (pending again and again) keep the alarm above quiet", () => {
    const alarm = loadBalancer["shop-prod-unhealthy-hosts-lasting"];
    expect(alarm).toMatchObject({
      metric_name: "UnHealthyHostCount",
      statistic: "Minimum",
      dimensions: { TargetGroup: TG, LoadBalancer: ALB },
      comparison_operator: "GreaterThanThreshold",
      threshold: 0,
      treat_missing_data: "notBreaching",
      period: 60,
      evaluation_periods: 71, // 300 s of grace and 3,816 s of replacement: 69 minutes, and 2 more
      datapoints_to_alarm: 71,
    });
    expect(alarm.alarm_description).toMatch(
      /for 71 minutes in a row: longer than the 300 s grace period and the longest replacement/,
    );
  });

  test("capacity below the group's minimum pages once it outlasts the grace period and the longest replacement (a whole boot under the launch hook), not during one; no such alarm with a minimum of 0", () => {
    const alarm = loadBalancer["shop-prod-healthy-hosts-below-min"];
    expect(alarm).toMatchObject({
      metric_name: "HealthyHostCount",
      statistic: "Maximum",
      comparison_operator: "LessThanThreshold",
      threshold: 2,
      treat_missing_data: "breaching",
      period: 60,
    });
    // 300 s of grace and 3,816 s of replacement: 69 minutes, and 2 more
    expect(alarm.evaluation_periods).toBe(71);
    expect(alarm.datapoints_to_alarm).toBe(alarm.evaluation_periods);
    expect(alarm.alarm_description).toMatch(
      /Fewer than 2 app servers \(the group's minimum, app.count.min\) have been healthy for 71 minutes: longer than the group needs to replace one \(the 300 s grace period, then the launch and a whole boot of the replacement, up to 3816 s\)/,
    );
    const none = loadBalancerAlarms(0);
    expect(Object.keys(none)).not.toContain("shop-prod-healthy-hosts-below-min");
  });

  test("no healthy host at all is the site down (missing data counts as down)", () => {
    expect(loadBalancer["shop-prod-no-healthy-hosts"]).toMatchObject({
      metric_name: "HealthyHostCount",
      statistic: "Minimum",
      comparison_operator: "LessThanThreshold",
      threshold: 1,
      treat_missing_data: "breaching",
    });
  });

  test("latency is judged in every minute with traffic, not only in one of 200 or 1,000 requests: metric math, 0 in a quiet minute", () => {
    // (a plain percentile alarm is judged only in periods of 10 / (1 - p) samples: with "ignore" it
    // keeps its state below that, and a new one never leaves INSUFFICIENT_DATA at staging's traffic)
    for (const [percentile, seconds] of [
      ["p95", 0.5],
      ["p99", 1.5],
    ] as const) {
      const alarm = loadBalancer[`shop-prod-latency-${percentile}`];
      expect(alarm).toMatchObject({ threshold: seconds, comparison_operator: "GreaterThanThreshold" });
      expect(alarm.extended_statistic).toBeUndefined();
      expect(alarm.evaluate_low_sample_count_percentiles).toBeUndefined();
      const byId = Object.fromEntries(alarm.metric_query.map((q: any) => [q.id, q]));
      expect(byId.latency.metric).toMatchObject({
        namespace: "AWS/ApplicationELB",
        metric_name: "TargetResponseTime",
        stat: percentile,
        period: 60,
        dimensions: { TargetGroup: TG, LoadBalancer: ALB },
      });
      expect(byId.requests.metric).toMatchObject({ metric_name: "RequestCount", stat: "Sum", period: 60 });
      expect(byId.judged).toMatchObject({
        expression: "IF(FILL(requests, 0) >= 10, FILL(latency, 0), 0)",
        return_data: true,
      });
      expect(alarm.metric_query.filter((q: any) => q.return_data)).toHaveLength(1);
    }
  });

  test("no alarm of the project is a percentile alarm that ignores its quiet periods", () => {
    for (const [name, alarm] of Object.entries(loadBalancer)) {
      expect({ name, ignores: alarm.evaluate_low_sample_count_percentiles }).toEqual({ name, ignores: undefined });
    }
  });
});

describe("AppAlarms", () => {
  test("a fleet: CPU, memory, disk and status checks aggregated over the Auto Scaling group, no recover action", () => {
    const fleet = app({ autoScalingGroupName: "shop-prod-app-123" });
    expect(Object.keys(fleet).sort()).toEqual([
      "shop-prod-app-agent-silent",
      "shop-prod-app-cpu",
      "shop-prod-app-disk",
      "shop-prod-app-memory",
      "shop-prod-app-status-check",
    ]);
    for (const alarm of Object.values(fleet)) {
      const dimensions = alarm.dimensions ?? alarm.metric_query.find((q: any) => q.metric).metric.dimensions;
      expect(dimensions).toEqual({ AutoScalingGroupName: "shop-prod-app-123" });
      expect(alarm.alarm_actions).toEqual([TOPIC]);
    }
    expect(fleet["shop-prod-app-status-check"]).toMatchObject({
      namespace: "AWS/EC2",
      metric_name: "StatusCheckFailed",
      statistic: "Maximum",
      comparison_operator: "GreaterThanOrEqualToThreshold",
      threshold: 1,
    });
  });

  test("a single server: instance check notifies; system check also recovers the instance in its region", () => {
    const server = app({ instanceId: "i-0123456789abcdef0", region: "ap-northeast-3" });
    expect(Object.keys(server).sort()).toEqual([
      "shop-prod-app-agent-silent",
      "shop-prod-app-cpu",
      "shop-prod-app-disk",
      "shop-prod-app-health",
      "shop-prod-app-memory",
      "shop-prod-app-status-instance",
      "shop-prod-app-status-system",
    ]);
    for (const alarm of Object.values(server)) expect(alarm.dimensions).toEqual({ InstanceId: "i-0123456789abcdef0" });
    expect(server["shop-prod-app-status-instance"]).toMatchObject({
      metric_name: "StatusCheckFailed_Instance",
      alarm_actions: [TOPIC],
    });
    expect(server["shop-prod-app-status-system"]).toMatchObject({
      metric_name: "StatusCheckFailed_System",
      alarm_actions: ["arn:aws:automate:ap-northeast-3:ec2:recover", TOPIC],
      ok_actions: [TOPIC],
    });
  });

  test("memory comes from the CloudWatch agent, the fullest server's (Maximum: one server out of memory pages, however idle the others); CPU periods follow detailed monitoring (1 or 5 minutes)", () => {
    const detailed = app({ autoScalingGroupName: "g" }, true);
    const basic = app({ autoScalingGroupName: "g" }, false);
    expect(detailed["shop-prod-app-memory"]).toMatchObject({
      namespace: "shop/prod/CWAgent",
      metric_name: "mem_used_percent",
      statistic: "Maximum",
      threshold: 85,
      period: 60,
    });
    expect(detailed["shop-prod-app-disk"]).toMatchObject({
      metric_name: "disk_used_percent",
      statistic: "Maximum",
      threshold: 80,
    });
    expect(detailed["shop-prod-app-memory"].alarm_description).toMatch(
      /^Memory use of an app server \(the fullest one of the group\)/,
    );
    expect(detailed["shop-prod-app-cpu"]).toMatchObject({ metric_name: "CPUUtilization", threshold: 80, period: 60 });
    expect(basic["shop-prod-app-cpu"].period).toBe(300);
    // a fleet pages only when high CPU outlasts a scale-out (target tracking answers it first), every period breaching
    expect([
      detailed["shop-prod-app-cpu"].evaluation_periods,
      detailed["shop-prod-app-cpu"].datapoints_to_alarm,
    ]).toEqual([FLEET_CPU_SUSTAINED_MINUTES, FLEET_CPU_SUSTAINED_MINUTES]);
    expect([basic["shop-prod-app-cpu"].evaluation_periods, basic["shop-prod-app-cpu"].datapoints_to_alarm]).toEqual([
      FLEET_CPU_SUSTAINED_MINUTES / 5,
      FLEET_CPU_SUSTAINED_MINUTES / 5,
    ]);
    expect(FLEET_CPU_SUSTAINED_MINUTES).toBeGreaterThanOrEqual(10);
    expect(detailed["shop-prod-app-cpu"].alarm_description).toMatch(/for 15 minutes, longer than a scale-out takes/);
    // one server has no one else to answer it: the environment's M of N
    const single = app({ instanceId: "i-0123456789abcdef0", region: "ap-northeast-2" }, true);
    expect([single["shop-prod-app-cpu"].evaluation_periods, single["shop-prod-app-cpu"].datapoints_to_alarm]).toEqual([
      3, 2,
    ]);
    expect(basic["shop-prod-app-status-check"].period).toBe(60); // status checks are free, every minute
  });

  test("a dead CloudWatch agent pages: memory and disk alarms would only go silent (missing data)", () => {
    // a fleet: servers in service minus servers whose agent reported that minute, sustained past a boot
    const fleet = app({ autoScalingGroupName: "g" })["shop-prod-app-agent-silent"];
    const queries = Object.fromEntries(fleet.metric_query.map((q: any) => [q.id, q]));
    expect(queries.reporting.metric).toMatchObject({
      namespace: "shop/prod/CWAgent",
      metric_name: "mem_used_percent",
      stat: "SampleCount",
      period: 60,
    });
    expect(queries.inService.metric).toMatchObject({
      namespace: "AWS/AutoScaling",
      metric_name: "GroupInServiceInstances",
    });
    expect(queries.pending.metric).toMatchObject({
      namespace: "AWS/AutoScaling",
      metric_name: "GroupPendingInstances",
    });
    expect(queries.silent).toMatchObject({ return_data: true });
    // a minute's counts: servers in service and booting (whose agent already runs), and reporting
    const silent = (minute: Record<string, number>) => metricMath(fleet.metric_query, minute);
    expect(silent({ inService: 3, reporting: 3 })).toBe(0);
    expect(silent({ inService: 3, reporting: 2 })).toBe(1); // one agent dead
    // one agent dead while a new server boots and reports: the booting one must not hide it
    expect(silent({ inService: 3, pending: 1, reporting: 3 })).toBe(1);
    expect(silent({ inService: 3, pending: 1, reporting: 4 })).toBe(0);
    // nor one leaving (draining, still reporting)
    expect(silent({ inService: 2, terminating: 1, reporting: 2 })).toBe(1);
    expect(queries.terminating.metric).toMatchObject({ metric_name: "GroupTerminatingInstances" });
    expect(fleet).toMatchObject({ comparison_operator: "GreaterThanThreshold", threshold: 0 });
    expect(fleet.evaluation_periods).toBeGreaterThan(5); // past the 300 s a new server takes to start its agent
    expect(fleet.datapoints_to_alarm).toBe(fleet.evaluation_periods);
    // a single server: no datapoint at all is the alarm
    const single = app({ instanceId: "i-1", region: "ap-northeast-2" })["shop-prod-app-agent-silent"];
    expect(single).toMatchObject({
      metric_name: "mem_used_percent",
      statistic: "SampleCount",
      comparison_operator: "LessThanThreshold",
      threshold: 1,
      treat_missing_data: "breaching",
    });
    expect(single.alarm_description).toMatch(
      /sent no CloudWatch agent metrics for 7 minutes .*memory and disk alarms cannot see it/,
    );
    // a lost way out silences every agent at once: the page names it, not only the agent (review DQ)
    expect(fleet.alarm_description).toMatch(
      /all in one AZ: their way out \(the NAT gateway, its subnet's 0\.0\.0\.0\/0 route\)/,
    );
    expect(single.alarm_description).toMatch(/the server's way out \(its Elastic IP, the public route\)/);
    for (const alarm of [fleet, single]) expect(alarm.alarm_description.length).toBeLessThanOrEqual(1024);
    // and memory and disk keep "missing" (the silent-agent alarm pages once, not three times)
    expect(app({ instanceId: "i-1", region: "ap-northeast-2" })["shop-prod-app-memory"].treat_missing_data).toBe(
      "missing",
    );
  });
});

describe("AppAlarms: capacity the group wants and does not get", () => {
  const withLaunch = alarms((scope) => {
    new AppAlarms(scope, "AppAlarms", {
      ...common,
      servers: { autoScalingGroupName: "shop-prod-app-123" },
      cpuPercent: 80,
      memoryPercent: 85,
      diskPercent: 80,
      detailedMonitoring: true,
      metricNamespaces: metricNamespaces("shop", "prod", "environment"),
      launchSeconds: 900,
    });
  });
  const alarm = withLaunch["shop-prod-app-capacity-shortfall"];

  test("pages when the group has run fewer servers in service than it wants for longer than a launch and a whole boot", () => {
    // 900 s of boot at most, 5 minutes more: 20 minutes, every one of them short
    expect(alarm).toMatchObject({ evaluation_periods: 20, datapoints_to_alarm: 20, threshold: 0 });
    expect(alarm.alarm_description).toMatch(/for 20 minutes, longer than a launch and a whole boot take/);
  });

  test.each([
    ["a scale-out whose new server is not in service yet", 1, { desired: 4, inService: 3 }],
    ["an instance refresh, launching before it terminates", -2, { desired: 3, inService: 5 }],
    ["the group as it wants it", 0, { desired: 3, inService: 3 }],
  ])("%s reads %d", (_, shortfall, minute: Record<string, number>) => {
    expect(metricMath(alarm.metric_query, minute)).toBe(shortfall);
  });

  test("a single server, and a fleet given no launch time, have no such alarm", () => {
    expect(
      app({ instanceId: "i-0123456789abcdef0", region: "ap-northeast-2" })["shop-prod-app-capacity-shortfall"],
    ).toBeUndefined();
    expect(app({ autoScalingGroupName: "g" })["shop-prod-app-capacity-shortfall"]).toBeUndefined();
  });
});

/** The `upstream` log format of an nginx.conf, its quoted parts joined: a line with nginx's variables in it. */
function logFormatOf(conf: string): string {
  const format = /log_format upstream ((?:'[^']*'\s*)+);/.exec(conf)![1];
  return [...format.matchAll(/'([^']*)'/g)].map((m) => m[1]).join("");
}

describe("AccessLogAlarms (a server no load balancer counts for)", () => {
  const build = (scope: Construct) =>
    new AccessLogAlarms(scope, "AccessLogAlarms", {
      ...common,
      accessLogGroupName: "/shop/prod/nginx/access",
      errorPercent: 5,
      latencyP95Ms: 800,
      latencyP99Ms: 2500,
    });
  const json = new Synthesized(Testing.synthScope(build));
  const filters = Object.fromEntries(
    json.resources("aws_cloudwatch_log_metric_filter").map((f) => [f.values.name as string, f.values]),
  );
  const all = alarms(build);
  const alarm = all["shop-prod-app-5xx-rate"];

  test("three metric filters on the access log, every request, every 5xx and each response time, into the environment's own namespace", () => {
    expect(filters).toEqual({
      "shop-prod-nginx-requests": {
        name: "shop-prod-nginx-requests",
        log_group_name: "/shop/prod/nginx/access",
        pattern: "[addr, time, request, status, ...]",
        metric_transformation: { name: "Requests", namespace: "shop/prod/nginx", value: "1", unit: "Count" },
      },
      "shop-prod-nginx-errors5xx": {
        name: "shop-prod-nginx-errors5xx",
        log_group_name: "/shop/prod/nginx/access",
        pattern: "[addr, time, request, status>=500, ...]",
        metric_transformation: { name: "Errors5xx", namespace: "shop/prod/nginx", value: "1", unit: "Count" },
      },
      "shop-prod-nginx-responsetime": {
        name: "shop-prod-nginx-responsetime",
        log_group_name: "/shop/prod/nginx/access",
        pattern: "[addr, time, request, status, bytes, latency>=0, ...]",
        metric_transformation: {
          name: "ResponseTime",
          namespace: "shop/prod/nginx",
          value: "$latency",
          unit: "Seconds",
        },
      },
    });
    expect(Object.keys(all).sort()).toEqual([
      "shop-prod-app-5xx-rate",
      "shop-prod-latency-p95",
      "shop-prod-latency-p99",
    ]);
    // the alarm reads exactly those metrics
    const read = alarm.metric_query
      .filter((q: any) => q.metric)
      .map((q: any) => [q.metric.namespace, q.metric.metric_name]);
    expect(read.sort()).toEqual([
      ["shop/prod/nginx", "Errors5xx"],
      ["shop/prod/nginx", "Requests"],
    ]);
  });

  test.each([
    ["one process answered", "0.042", "0.042"],
    ["a GET retried on a second process (a list)", "-, 0.002", "3.004"],
    ["nginx's own answer (no process)", "-", "3.004"],
  ])(
    "the pattern's fields are the server's log format's: the status is the fourth field and the response time, a number, the sixth, as CloudWatch splits a line, however many upstreams nginx tried: %s",
    (_, headerTime, responseTime) => {
      const conf = nginxConf(testHost());
      // the log_format the servers write, its variables filled as nginx fills them
      const template = logFormatOf(conf);
      // $response_time as the map before the format sets it: $upstream_header_time when it is one number
      const map =
        /map \$upstream_header_time \$response_time \{\s*"~([^"]+)" \$upstream_header_time;\s*default \$request_time;\s*\}/.exec(
          conf,
        );
      expect(map).not.toBeNull();
      const mapped = new RegExp(map![1]).test(headerTime) ? headerTime : "3.004";
      expect(mapped).toBe(responseTime);
      const line = template
        .replace("$remote_addr", "203.0.113.9")
        .replace("$time_iso8601", "2026-12-04T20:35:00+00:00")
        .replace("$request_method", "POST")
        .replace("$request_path", "/notes")
        .replace("$server_protocol", "HTTP/1.1")
        .replace("$status", "502")
        .replace("$body_bytes_sent", "157")
        .replace("$response_time", mapped)
        .replace("$request_time", "3.004")
        .replace("$upstream_addr", "127.0.0.1:8001, 127.0.0.1:8002")
        .replace("$upstream_status", "504, 502")
        .replace("$upstream_header_time", headerTime)
        .replace("$upstream_response_time", "3.000, 0.001")
        .replace("$http_x_forwarded_for", "198.51.100.7, 10.0.0.5");
      expect(line).not.toContain("$");
      const fields = cloudWatchFields(line);
      expect(fields.slice(0, ACCESS_LOG_FIELDS.length)).toEqual([
        "203.0.113.9",
        "[2026-12-04T20:35:00+00:00]",
        '"POST /notes HTTP/1.1"',
        "502",
        "157",
        responseTime,
      ]);
      expect(fields.length).toBeGreaterThan(ACCESS_LOG_FIELDS.length); // what follows varies: "..." takes it
      expect(accessLogPattern(">=500")).toBe("[addr, time, request, status>=500, ...]");
      expect(accessLogPattern("", "latency")).toBe("[addr, time, request, status, bytes, latency>=0, ...]");
    },
  );

  test("a server still writing the format before the response time (a fixed server keeps the boot script it booted with) gives the filter no value: its sixth field is rt=..., no number for latency>=0", () => {
    const before = logFormatOf(nginxConf(testHost())).replace("$response_time ", "");
    const sixth = cloudWatchFields(before)[ACCESS_LOG_FIELDS.indexOf("latency")];
    expect(sixth).toBe("rt=$request_time");
    expect(accessLogPattern("", "latency")).toContain(", latency>=0,");
  });

  test("latency, as a fleet's: p95 and p99 of the log's response time in seconds, 0 in a minute of fewer than 10 requests", () => {
    for (const [percentile, seconds] of [
      ["p95", 0.8],
      ["p99", 2.5],
    ] as const) {
      const latency = all[`shop-prod-latency-${percentile}`];
      expect(latency).toMatchObject({
        threshold: seconds,
        comparison_operator: "GreaterThanThreshold",
        treat_missing_data: "notBreaching",
      });
      const byId = Object.fromEntries(latency.metric_query.map((q: any) => [q.id, q]));
      expect(byId.latency.metric).toMatchObject({
        namespace: "shop/prod/nginx",
        metric_name: "ResponseTime",
        stat: percentile,
        period: 60,
      });
      expect(byId.requests.metric).toMatchObject({
        namespace: "shop/prod/nginx",
        metric_name: "Requests",
        stat: "Sum",
      });
      expect(latency.metric_query.filter((q: any) => q.return_data)).toHaveLength(1);
      expect(metricMath(latency.metric_query, { latency: 4, requests: 9 })).toBe(0);
      expect(metricMath(latency.metric_query, { latency: 4, requests: 10 })).toBe(4);
      expect(metricMath(latency.metric_query, { requests: 10 })).toBe(0);
      expect(latency.alarm_description).toContain(`longer than ${seconds * 1000} ms`);
    }
  });

  test.each([
    ["a quiet minute: 5 requests, all 502", 0, { requests: 5, errors: 5 }],
    ["100 requests, 10 of them 5xx", 10, { requests: 100, errors: 10 }],
    ["200 requests and no error line (no datapoint)", 0, { requests: 200 }],
    ["no traffic at all", 0, {}],
  ])("the 5xx rate, %s, reads %d %%", (_, percent, minute: Record<string, number>) => {
    expect(metricMath(alarm.metric_query, minute)).toBeCloseTo(percent, 5);
    expect(alarm).toMatchObject({
      threshold: 5,
      comparison_operator: "GreaterThanThreshold",
      treat_missing_data: "notBreaching",
    });
  });
});

describe("DatabaseAlarms", () => {
  test("CPU, free storage, freeable memory and connections on the instance, thresholds in CloudWatch's units", () => {
    expect(Object.keys(database).sort()).toEqual([
      "shop-prod-db-connections",
      "shop-prod-db-cpu",
      "shop-prod-db-free-storage",
      "shop-prod-db-freeable-memory",
    ]);
    for (const alarm of Object.values(database)) {
      expect(alarm).toMatchObject({ namespace: "AWS/RDS", dimensions: { DBInstanceIdentifier: "shop-prod-db" } });
    }
    const summary = Object.fromEntries(
      Object.entries(database).map(([name, a]) => [
        name,
        [a.metric_name, a.statistic, a.comparison_operator, a.threshold],
      ]),
    );
    expect(summary).toEqual({
      "shop-prod-db-cpu": ["CPUUtilization", "Average", "GreaterThanThreshold", 75],
      "shop-prod-db-free-storage": ["FreeStorageSpace", "Minimum", "LessThanThreshold", 20 * 1024 ** 3],
      "shop-prod-db-freeable-memory": ["FreeableMemory", "Minimum", "LessThanThreshold", 819 * 1024 ** 2],
      "shop-prod-db-connections": ["DatabaseConnections", "Maximum", "GreaterThanThreshold", 720],
    });
  });

  test.each([
    [
      "a share of the class's default max_connections",
      { maxConnections: 720, defaultMaxConnections: 900 },
      "more than 720 open connections, 80% of the about 900 that the engine's default max_connections allows on this class: past max_connections",
    ],
    [
      "a threshold at or above that default (a parameter group that allows more)",
      { maxConnections: 1500, defaultMaxConnections: 900 },
      "more than 1500 open connections, not below the about 900 that the engine's default max_connections allows on this class: monitoring.thresholds.dbConnections counts on a parameter group that allows more (check SHOW max_connections): past max_connections",
    ],
    [
      "a class whose memory the project does not know",
      { maxConnections: 300 },
      "more than 300 open connections (compare monitoring.thresholds.dbConnections with SHOW max_connections): past max_connections",
    ],
  ])("the connections alarm says where its threshold stands: %s", (_, connections, says) => {
    const description: string = databaseAlarms(connections)["shop-prod-db-connections"].alarm_description;
    expect(description).toContain(`The database has ${says}`);
    expect(description).not.toContain("near max_connections");
    expect(description.length).toBeLessThanOrEqual(1024); // CloudWatch's limit
  });
});

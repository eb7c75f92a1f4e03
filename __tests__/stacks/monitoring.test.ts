import { gunzipSync } from "node:zlib";
import { type TerraformStack, Testing } from "cdktf";
import { buildStacks } from "../../src/app";
import { CERTIFICATE_EXPIRY_DAYS } from "../../src/constructs/certificate-alarms";
import { environmentStack, environmentStackOf } from "../environment-stack";
import { environment, type Synthesized } from "../helpers";
import { SHIPPED_ENVIRONMENTS, shippedStack } from "../shipped";
import { dbInstanceMemoryGib, defaultMaxConnections } from "../../src/config/db-memory";
import { PRODUCTION_DEFAULTS } from "../../src/config/load";

const CERT = "arn:aws:acm:ap-northeast-2:111122223333:certificate/5c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
const network = {
  cidr: "10.50.0.0/16",
  availabilityZones: ["ap-northeast-2a", "ap-northeast-2c"],
  natGateways: "none",
};
const LAYOUT_FILES: Record<string, Record<string, unknown>> = {
  "single-server": { layout: "single-server", network, app: { instanceType: "t3.small", version: "1.0.0" } },
  "app-db-split": { layout: "app-db-split", network, app: { instanceType: "t4g.small", version: "1.0.0" } },
  "load-balanced": {
    layout: "load-balanced",
    network: { ...network, natGateways: "single" },
    app: { instanceType: "m7g.large", version: "1.0.0", count: { min: 2, desired: 2, max: 4 } },
    loadBalancer: { https: true, certificateArn: CERT },
  },
};

const layout = (name: string, extra: Record<string, unknown> = {}, envName = "test") =>
  environmentStack(envName, { ...LAYOUT_FILES[name], ...extra });

/** What an alarm reads: a resource type and attribute per dimension, e.g. `aws_instance.id`. */
type Dims = Record<string, string>;
interface Expected {
  readonly namespace: string;
  readonly metric: string;
  readonly statistic: string;
  readonly dims: Dims;
}
const server: Dims = { InstanceId: "aws_instance.id" };
const group: Dims = { AutoScalingGroupName: "aws_autoscaling_group.name" };
const rds: Dims = { DBInstanceIdentifier: "aws_db_instance.identifier" };
const alb: Dims = { LoadBalancer: "aws_lb.arn_suffix" };
const targets: Dims = { TargetGroup: "aws_lb_target_group.arn_suffix", LoadBalancer: "aws_lb.arn_suffix" };
const ec2 = (metric: string, statistic: string, dims: Dims): Expected => ({
  namespace: "AWS/EC2",
  metric,
  statistic,
  dims,
});
const DATABASE: Record<string, Expected> = {
  "db-cpu": { namespace: "AWS/RDS", metric: "CPUUtilization", statistic: "Average", dims: rds },
  "db-free-storage": { namespace: "AWS/RDS", metric: "FreeStorageSpace", statistic: "Minimum", dims: rds },
  "db-freeable-memory": { namespace: "AWS/RDS", metric: "FreeableMemory", statistic: "Minimum", dims: rds },
  "db-connections": { namespace: "AWS/RDS", metric: "DatabaseConnections", statistic: "Maximum", dims: rds },
};
const SINGLE_SERVER: Record<string, Expected | Expected[]> = {
  "app-cpu": ec2("CPUUtilization", "Average", server),
  "app-memory": { namespace: "shop/test/CWAgent", metric: "mem_used_percent", statistic: "Maximum", dims: server },
  "app-disk": { namespace: "shop/test/CWAgent", metric: "disk_used_percent", statistic: "Maximum", dims: server },
  "app-agent-silent": {
    namespace: "shop/test/CWAgent",
    metric: "mem_used_percent",
    statistic: "SampleCount",
    dims: server,
  },
  "app-status-instance": ec2("StatusCheckFailed_Instance", "Maximum", server),
  "app-status-system": ec2("StatusCheckFailed_System", "Maximum", server),
  // the server's own probe of its health check through nginx (src/userdata/health-probe.ts)
  "app-health": { namespace: "shop/test/AppHealth", metric: "HealthCheckOk", statistic: "Minimum", dims: server },
  // what no load balancer counts for it: 5xx over requests, from its nginx access log's metric filters
  "app-5xx-rate": [
    { namespace: "shop/test/nginx", metric: "Errors5xx", statistic: "Sum", dims: {} },
    { namespace: "shop/test/nginx", metric: "Requests", statistic: "Sum", dims: {} },
  ],
  // and each request's response time there, as a fleet's latency alarms read TargetResponseTime
  "latency-p95": [
    { namespace: "shop/test/nginx", metric: "ResponseTime", statistic: "p95", dims: {} },
    { namespace: "shop/test/nginx", metric: "Requests", statistic: "Sum", dims: {} },
  ],
  "latency-p99": [
    { namespace: "shop/test/nginx", metric: "ResponseTime", statistic: "p99", dims: {} },
    { namespace: "shop/test/nginx", metric: "Requests", statistic: "Sum", dims: {} },
  ],
};
const alb5xx = { namespace: "AWS/ApplicationELB", statistic: "Sum" };
/** Every alarm of each layout; metric-math alarms list the metrics their queries read. */
const EXPECTED: Record<string, Record<string, Expected | Expected[]>> = {
  "single-server": {
    ...SINGLE_SERVER,
    // the nightly dump of the server's own database (db-backup publishes it after each upload)
    "db-backup-missing": { namespace: "shop/test/AppBackups", metric: "DumpUploaded", statistic: "Sum", dims: server },
    // its engine answering on loopback (the server's health probe publishes it every minute)
    "db-health": { namespace: "shop/test/AppHealth", metric: "DatabaseOk", statistic: "Minimum", dims: server },
  },
  "app-db-split": { ...SINGLE_SERVER, ...DATABASE },
  "load-balanced": {
    "app-cpu": ec2("CPUUtilization", "Average", group),
    "app-memory": { namespace: "shop/test/CWAgent", metric: "mem_used_percent", statistic: "Maximum", dims: group },
    "app-disk": { namespace: "shop/test/CWAgent", metric: "disk_used_percent", statistic: "Maximum", dims: group },
    "app-status-check": ec2("StatusCheckFailed", "Maximum", group),
    // servers the group wants and does not get into service (launches or boots that fail)
    "app-capacity-shortfall": [
      { namespace: "AWS/AutoScaling", metric: "GroupDesiredCapacity", statistic: "Minimum", dims: group },
      { namespace: "AWS/AutoScaling", metric: "GroupInServiceInstances", statistic: "Maximum", dims: group },
    ],
    "alb-5xx-rate": [
      { ...alb5xx, metric: "HTTPCode_ELB_5XX_Count", dims: alb },
      { ...alb5xx, metric: "HTTPCode_ELB_502_Count", dims: alb },
      { ...alb5xx, metric: "HTTPCode_ELB_504_Count", dims: alb },
      { ...alb5xx, metric: "RequestCount", dims: alb },
    ],
    "target-5xx-rate": [
      { ...alb5xx, metric: "HTTPCode_Target_5XX_Count", dims: targets },
      { ...alb5xx, metric: "RequestCount", dims: targets },
    ],
    "app-agent-silent": [
      { namespace: "shop/test/CWAgent", metric: "mem_used_percent", statistic: "SampleCount", dims: group },
      { namespace: "AWS/AutoScaling", metric: "GroupInServiceInstances", statistic: "Minimum", dims: group },
      { namespace: "AWS/AutoScaling", metric: "GroupPendingInstances", statistic: "Minimum", dims: group },
      { namespace: "AWS/AutoScaling", metric: "GroupTerminatingInstances", statistic: "Minimum", dims: group },
    ],
    "unhealthy-hosts": [
      { namespace: "AWS/ApplicationELB", metric: "UnHealthyHostCount", statistic: "Minimum", dims: targets },
      // a replacement on its way: the group's own
      { namespace: "AWS/AutoScaling", metric: "GroupPendingInstances", statistic: "Maximum", dims: group },
    ],
    "unhealthy-hosts-lasting": {
      namespace: "AWS/ApplicationELB",
      metric: "UnHealthyHostCount",
      statistic: "Minimum",
      dims: targets,
    },
    "healthy-hosts-below-min": {
      namespace: "AWS/ApplicationELB",
      metric: "HealthyHostCount",
      statistic: "Maximum",
      dims: targets,
    },
    "no-healthy-hosts": {
      namespace: "AWS/ApplicationELB",
      metric: "HealthyHostCount",
      statistic: "Minimum",
      dims: targets,
    },
    "latency-p95": [
      { namespace: "AWS/ApplicationELB", metric: "TargetResponseTime", statistic: "p95", dims: targets },
      { namespace: "AWS/ApplicationELB", metric: "RequestCount", statistic: "Sum", dims: targets },
    ],
    "latency-p99": [
      { namespace: "AWS/ApplicationELB", metric: "TargetResponseTime", statistic: "p99", dims: targets },
      { namespace: "AWS/ApplicationELB", metric: "RequestCount", statistic: "Sum", dims: targets },
    ],
    // the HTTPS listener's certificate, here one imported (loadBalancer.certificateArn)
    "certificate-expiry": {
      namespace: "AWS/CertificateManager",
      metric: "DaysToExpiry",
      statistic: "Minimum",
      dims: { CertificateArn: CERT },
    },
    ...DATABASE,
  },
};

/**
 * `aws_instance.id` for a `${aws_instance.X.id}` reference, after checking it resolves to a real
 * resource; a literal value (an imported certificate's ARN) as it is.
 */
function pointsAt(json: Synthesized, reference: string): string {
  if (!reference.startsWith("${")) return reference;
  const target = json.referenced(reference);
  return `${target.type}.${/\.([a-z_]+)\}$/.exec(reference)![1]}`;
}
function dimsOf(json: Synthesized, dimensions: Record<string, string> | undefined): Dims {
  return Object.fromEntries(Object.entries(dimensions ?? {}).map(([k, v]) => [k, pointsAt(json, v)]));
}
/** What an alarm reads, in the shape of `EXPECTED`, with every dimension resolved. */
function readsOf(json: Synthesized, alarm: Record<string, any>): Expected | Expected[] {
  if (alarm.metric_query) {
    return alarm.metric_query
      .filter((q: any) => q.metric)
      .map((q: any) => ({
        namespace: q.metric.namespace,
        metric: q.metric.metric_name,
        statistic: q.metric.stat,
        dims: dimsOf(json, q.metric.dimensions),
      }));
  }
  return {
    namespace: alarm.namespace,
    metric: alarm.metric_name,
    statistic: alarm.statistic ?? alarm.extended_statistic,
    dims: dimsOf(json, alarm.dimensions),
  };
}
const alarmsOf = (json: Synthesized): Record<string, Record<string, any>> =>
  Object.fromEntries(json.resources("aws_cloudwatch_metric_alarm").map((a) => [a.values.alarm_name, a.values]));
const topicRef = (json: Synthesized) => `\${aws_sns_topic.${json.resources("aws_sns_topic")[0].name}.arn}`;

describe.each(Object.keys(EXPECTED))("%s: alarms watch this environment's own resources", (name) => {
  const json = layout(name);
  const alarms = alarmsOf(json);

  test("the exact set of alarms, each named shop-test-<what>", () => {
    expect(Object.keys(alarms).sort()).toEqual(
      Object.keys(EXPECTED[name])
        .map((what) => `shop-test-${what}`)
        .sort(),
    );
  });

  test("every alarm reads the expected metric and statistic, its dimensions resolving to the real resources", () => {
    const reads = Object.fromEntries(
      Object.entries(alarms).map(([alarmName, alarm]) => [alarmName.replace(/^shop-test-/, ""), readsOf(json, alarm)]),
    );
    expect(reads).toEqual(EXPECTED[name]);
  });

  test("a fleet's failed instance refresh, wherever it was started, is one message to the same topic; no fleet, no rule", () => {
    const rules = json.resources("aws_cloudwatch_event_rule");
    const groups = json.resources("aws_autoscaling_group");
    if (groups.length === 0) {
      expect([rules, json.resources("aws_cloudwatch_event_target")]).toEqual([[], []]);
      return;
    }
    expect(rules).toHaveLength(1);
    expect(rules[0].values.name).toBe("shop-test-refresh-failed");
    expect(JSON.parse(rules[0].values.event_pattern)).toEqual({
      source: ["aws.autoscaling"],
      "detail-type": ["EC2 Auto Scaling Instance Refresh Failed"],
      detail: { AutoScalingGroupName: [`\${aws_autoscaling_group.${groups[0].name}.name}`] },
    });
    const [target] = json.resources("aws_cloudwatch_event_target");
    expect(target.values).toMatchObject({
      rule: `\${aws_cloudwatch_event_rule.${rules[0].name}.name}`,
      arn: topicRef(json),
      depends_on: [`aws_sns_topic_policy.${json.resources("aws_sns_topic_policy")[0].name}`],
    });
  });

  test("with RDS, the database's events that page (availability, failover, failure, low storage) go to the same topic; without, none", () => {
    const subscriptions = json.resources("aws_db_event_subscription");
    const database = json.resources("aws_db_instance");
    if (database.length === 0) {
      expect(subscriptions).toEqual([]);
      return;
    }
    expect(subscriptions.map((s) => s.values)).toEqual([
      expect.objectContaining({
        name: "shop-test-db-events",
        sns_topic: topicRef(json),
        source_type: "db-instance",
        source_ids: [`\${aws_db_instance.${database[0].name}.identifier}`],
        event_categories: ["availability", "failover", "failure", "low storage"],
        // after the topic's policy lets RDS publish
        depends_on: [`aws_sns_topic_policy.${json.resources("aws_sns_topic_policy")[0].name}`],
      }),
    ]);
  });

  test("every alarm notifies the one topic on ALARM and OK; only the system check also acts (EC2 recover)", () => {
    const topic = topicRef(json);
    expect(json.countOf("aws_sns_topic")).toBe(1);
    for (const [alarmName, alarm] of Object.entries(alarms)) {
      const recover =
        alarmName === "shop-test-app-status-system" ? ["arn:aws:automate:ap-northeast-2:ec2:recover"] : [];
      expect({ alarmName, actions: alarm.alarm_actions, ok: alarm.ok_actions }).toEqual({
        alarmName,
        actions: [...recover, topic],
        ok: [topic],
      });
    }
  });

  test("the dashboard body is valid JSON whose every metric points at this environment's resources", () => {
    const [dashboard] = json.resources("aws_cloudwatch_dashboard");
    // Resource references sit inside JSON strings, so the body parses as it is.
    const body = JSON.parse(dashboard.values.dashboard_body);
    const lines: string[][] = body.widgets
      .filter((w: any) => w.type === "metric")
      .flatMap((w: any) => w.properties.metrics)
      .map((l: unknown[]) => l.filter((p): p is string => typeof p === "string"));
    const allowed = new Set(
      Object.values(EXPECTED[name])
        .flat()
        .map((e) => JSON.stringify(e.dims)),
    );
    for (const [, , ...dims] of lines) {
      const resolved: Dims = {};
      for (let i = 0; i < dims.length; i += 2) resolved[dims[i]] = pointsAt(json, dims[i + 1]);
      expect(allowed).toContain(JSON.stringify(resolved));
    }
    const alarmArns = body.widgets.find((w: any) => w.type === "alarm").properties.alarms;
    expect(alarmArns.map((ref: string) => json.referenced(ref).values.alarm_name).sort()).toEqual(
      Object.keys(alarms).sort(),
    );
  });

  test("a server clients reach directly has a dashboard row of what its 5xx-rate, latency and health alarms read (nginx's log, its probe); a fleet's load balancer row shows those", () => {
    const body = JSON.parse(json.resources("aws_cloudwatch_dashboard")[0].values.dashboard_body);
    const headings = body.widgets.filter((w: any) => w.type === "text").map((w: any) => w.properties.markdown);
    const direct = json.countOf("aws_lb") === 0;
    expect(headings.includes("## Server (nginx)")).toBe(direct);
    if (!direct) return;
    const rowY = body.widgets.find((w: any) => w.properties.markdown === "## Server (nginx)").y + 1;
    const shown = body.widgets
      .filter((w: any) => w.type === "metric" && w.y === rowY)
      .flatMap((w: any) => w.properties.metrics)
      // (a line's options, such as its percentile, come last, as an object)
      .map((l: unknown[]) => l.filter((part): part is string => typeof part === "string"))
      .map(([namespace, metric, ...dims]: string[]) => {
        const resolved: Dims = {};
        for (let i = 0; i < dims.length; i += 2) resolved[dims[i]] = pointsAt(json, dims[i + 1]);
        return { namespace, metric, dims: resolved };
      });
    const read = [
      EXPECTED[name]["app-5xx-rate"],
      EXPECTED[name]["app-health"],
      // the response time's three percentiles: p50 for the dashboard alone
      ...["p50", "p95", "p99"].map(() => (EXPECTED[name]["latency-p95"] as Expected[])[0]),
    ]
      .flat()
      .map(({ namespace, metric, dims }) => ({ namespace, metric, dims }));
    expect(shown).toEqual(expect.arrayContaining(read));
    expect(shown).toHaveLength(read.length);
  });

  test("outputs: the alarm topic's ARN and the dashboard's console URL", () => {
    expect(json.doc.output.alarm_topic_arn.value).toBe(topicRef(json));
    expect(json.doc.output.dashboard_url.value).toBe(
      "https://ap-northeast-2.console.aws.amazon.com/cloudwatch/home?region=ap-northeast-2#dashboards/dashboard/shop-test-dashboard",
    );
  });
});

describe("subscribers and thresholds come from the environment's config", () => {
  test("email subscriptions are exactly the config's list", () => {
    const env = environment("test", {
      ...LAYOUT_FILES["app-db-split"],
      monitoring: { alarmEmails: ["c@example.net", "a@example.com", "b@example.org"] },
    });
    const json = environmentStackOf(env);
    expect(
      json
        .resources("aws_sns_topic_subscription")
        .map((s) => s.values.endpoint)
        .sort(),
    ).toEqual([...env.monitoring.alarmEmails].sort());
    for (const s of json.resources("aws_sns_topic_subscription")) {
      expect(s.values).toMatchObject({ protocol: "email", topic_arn: topicRef(json) });
    }
  });

  test("thresholds set in the file reach the alarms, in CloudWatch's units", () => {
    const json = layout("load-balanced", {
      monitoring: {
        alarmEmails: ["oncall@example.com"],
        thresholds: {
          latencyP99Ms: 2500,
          cpuPercent: 65,
          dbFreeStorageGb: 7,
          evaluationPeriods: 10,
          datapointsToAlarm: 6,
        },
      },
    });
    const alarms = alarmsOf(json);
    expect(alarms["shop-test-latency-p99"].threshold).toBe(2.5);
    expect(alarms["shop-test-app-cpu"].threshold).toBe(65);
    expect(alarms["shop-test-db-free-storage"].threshold).toBe(7 * 1024 ** 3);
    // (a fleet's CPU pages only past a scale-out's time: its own window, whatever the file says)
    const windowed = [
      "shop-test-unhealthy-hosts",
      "shop-test-unhealthy-hosts-lasting",
      "shop-test-healthy-hosts-below-min",
      "shop-test-app-agent-silent",
      "shop-test-app-cpu",
      "shop-test-app-capacity-shortfall",
      "shop-test-certificate-expiry",
    ];
    for (const [alarmName, alarm] of Object.entries(alarms).filter(([n]) => !windowed.includes(n))) {
      expect({ alarmName, window: [alarm.evaluation_periods, alarm.datapoints_to_alarm] }).toEqual({
        alarmName,
        window: [10, 6],
      });
    }
  });

  test("production's alarms are stricter than the same environment's outside production, alarm by alarm", () => {
    // given one load-balanced environment, synthesized as production and as not
    const prodEnv = environment("test", { ...LAYOUT_FILES["load-balanced"], production: true });
    const devEnv = environment("test", { ...LAYOUT_FILES["load-balanced"], production: false });
    const prod = alarmsOf(environmentStackOf(prodEnv));
    const dev = alarmsOf(environmentStackOf(devEnv));
    // then every alarm with a configurable threshold fires earlier in production
    const fixed = new Set([
      "shop-test-unhealthy-hosts",
      "shop-test-unhealthy-hosts-lasting",
      "shop-test-no-healthy-hosts",
      "shop-test-app-status-check",
      "shop-test-app-agent-silent",
      "shop-test-healthy-hosts-below-min",
      "shop-test-app-capacity-shortfall",
      "shop-test-certificate-expiry",
    ]);
    // Alarms whose window is reasoned from the boot time, the same in every environment (a fleet's
    // CPU: 15 one-minute periods in production, 3 five-minute ones elsewhere).
    const windowed = new Set([
      "shop-test-unhealthy-hosts",
      "shop-test-unhealthy-hosts-lasting",
      "shop-test-app-agent-silent",
      "shop-test-healthy-hosts-below-min",
      "shop-test-app-cpu",
      "shop-test-app-capacity-shortfall",
      // (and the certificate's, from ACM's daily metric: the same month's notice everywhere)
      "shop-test-certificate-expiry",
    ]);
    for (const alarmName of Object.keys(prod).filter((n) => !fixed.has(n))) {
      const [p, d] = [prod[alarmName], dev[alarmName]];
      const stricter = p.comparison_operator.startsWith("Less") ? p.threshold > d.threshold : p.threshold < d.threshold;
      expect({ alarmName, stricter }).toEqual({ alarmName, stricter: true });
    }
    // and every alarm looks back over fewer periods
    for (const alarmName of Object.keys(prod).filter((n) => !windowed.has(n))) {
      expect(prod[alarmName].evaluation_periods).toBeLessThan(dev[alarmName].evaluation_periods);
    }
    // and the app's CPU is read every minute (detailed monitoring) rather than every five
    expect([prod["shop-test-app-cpu"].period, dev["shop-test-app-cpu"].period]).toEqual([60, 300]);
    // and the database's, which RDS publishes every minute, are read every minute in both
    for (const alarms of [prod, dev]) {
      const database = Object.entries(alarms).filter(([, alarm]) => alarm.namespace === "AWS/RDS");
      expect(database.length).toBeGreaterThanOrEqual(4);
      for (const [alarmName, alarm] of database)
        expect({ alarmName, period: alarm.period }).toEqual({ alarmName, period: 60 });
    }
  });
});

test("the connections alarm measures its threshold against the class's default max_connections: production's share of it, and a threshold the file put past it", () => {
  const prod = SHIPPED_ENVIRONMENTS.find((e) => e.name === "prod")!;
  const limit = defaultMaxConnections(prod.database.engine, dbInstanceMemoryGib(prod.database.instanceClass!)!);
  const share = Math.round((prod.monitoring.thresholds.dbConnections! * 100) / limit);
  expect(share).toBe(PRODUCTION_DEFAULTS.alarms.dbConnectionsPercent);
  expect(alarmsOf(shippedStack("prod"))["shop-prod-db-connections"].alarm_description).toContain(
    `more than ${prod.monitoring.thresholds.dbConnections} open connections, ${share}% of the about ${limit} that the engine's default max_connections allows`,
  );
  const raised = layout("load-balanced", {
    monitoring: { alarmEmails: ["oncall@example.com"], thresholds: { dbConnections: 4000 } },
  });
  expect(alarmsOf(raised)["shop-test-db-connections"].alarm_description).toMatch(
    /^The database has more than 4000 open connections, not below the about \d+ that the engine's default max_connections allows on this class: monitoring\.thresholds\.dbConnections counts on a parameter group that allows more/,
  );
});

describe("the shipped environments", () => {
  test.each(SHIPPED_ENVIRONMENTS.map((e) => [e.name, e] as const))(
    "%s: its folder's addresses are subscribed, and its alarms and dashboard exist",
    (_name, env) => {
      const json = shippedStack(env.name);
      expect(env.monitoring.alarmEmails.length).toBeGreaterThan(0);
      const endpoints = json.resources("aws_sns_topic_subscription").map((s) => s.values.endpoint);
      expect(endpoints.sort()).toEqual([...env.monitoring.alarmEmails].sort());
      expect(Object.keys(alarmsOf(json)).sort()).toEqual(
        Object.keys(EXPECTED[env.layout])
          // (a certificate's only with HTTPS: staging serves plain HTTP as shipped)
          .filter((what) => what !== "certificate-expiry" || env.loadBalancer.https)
          .map((what) => `${env.project}-${env.name}-${what}`)
          .sort(),
      );
      expect(json.countOf("aws_cloudwatch_dashboard")).toBe(1);
    },
  );
});

describe("the load balancer's certificate pages a month before it expires (review DQ: nothing watched an imported one)", () => {
  const expiry = (json: Synthesized) =>
    json.resources("aws_cloudwatch_metric_alarm").find((a) => a.values.alarm_name.endsWith("-certificate-expiry"))
      ?.values;

  test("a certificate of the config's (loadBalancer.certificateArn, imported or not): its ARN, daily, under 30 days 2 days running; days without ACM's datapoint leave it as it was (a certificate just requested has none yet: breaching paged on every first apply; an expired one's alarm stays in ALARM)", () => {
    const alarm = expiry(layout("load-balanced"))!;
    expect(alarm).toMatchObject({
      namespace: "AWS/CertificateManager",
      metric_name: "DaysToExpiry",
      dimensions: { CertificateArn: CERT },
      statistic: "Minimum",
      period: 86_400,
      comparison_operator: "LessThanThreshold",
      threshold: CERTIFICATE_EXPIRY_DAYS,
      evaluation_periods: 2,
      datapoints_to_alarm: 2,
      treat_missing_data: "ignore",
    });
    // ACM never renews an imported certificate: the page says how to put its successor in place;
    // one ACM issued outside the stack it does renew: the page tells them apart (review DR)
    expect(alarm.alarm_description).toContain("describe-certificate --certificate-arn <arn> says its Type");
    expect(alarm.alarm_description).toContain("IMPORTED, which ACM never renews: import the renewed one");
    expect(alarm.alarm_description).toContain("AMAZON_ISSUED, which ACM renews 60 days before expiry");
    expect(alarm.alarm_description.length).toBeLessThanOrEqual(1024);
  });

  test("one ACM issues for the domain: the listener's own (validated) certificate, and its renewal failed", () => {
    const json = shippedStack("prod");
    const alarm = expiry(json)!;
    const [listener] = json.resources("aws_lb_listener").filter((l) => l.values.port === 443);
    expect(alarm.dimensions.CertificateArn).toBe(listener.values.certificate_arn);
    expect(json.referenced(alarm.dimensions.CertificateArn).type).toBe("aws_acm_certificate_validation");
    expect(alarm.alarm_description).toContain("renews it 60 days before expiry, so its renewal failed");
  });

  test("plain HTTP, or no load balancer: no certificate, no alarm", () => {
    expect(expiry(layout("load-balanced", { loadBalancer: { https: false } }))).toBeUndefined();
    expect(expiry(layout("single-server"))).toBeUndefined();
  });
});

describe("where an alarm tells on-call to look exists in that environment (review AZ)", () => {
  test.each(SHIPPED_ENVIRONMENTS.filter((e) => e.layout === "load-balanced").map((e) => [e.name, e] as const))(
    "%s: the ALB access logs only where the ALB writes them, else the servers' nginx logs",
    (_name, env) => {
      const json = shippedStack(env.name);
      const alarms = alarmsOf(json);
      const writes = json.resources("aws_lb")[0].values.access_logs?.enabled === true;
      expect(writes).toBe(env.loadBalancer.accessLogs);
      for (const what of ["alb-5xx-rate", "latency-p95", "latency-p99"]) {
        const description = alarms[`${env.project}-${env.name}-${what}`].alarm_description as string;
        expect({ what, albLogs: /the ALB access logs \(/.test(description) }).toEqual({ what, albLogs: writes });
        expect(description.length).toBeLessThanOrEqual(1024); // CloudWatch's limit
        if (!writes) expect(description).toContain(`/${env.project}/${env.name}/nginx/`);
      }
    },
  );

  test("a server's own 5xx alarm points at the app's log files, not the journal the processes do not write to", () => {
    const description = alarmsOf(shippedStack("dev"))["shop-dev-app-5xx-rate"].alarm_description as string;
    expect(description).toContain("/var/log/app/<port>.log");
    expect(description).not.toContain("journalctl");
  });
});

describe("the health alarm of the layouts without a load balancer", () => {
  // Nothing outside asks a lone server whether the site answers: its probe publishes the answer.
  test.each(["single-server", "app-db-split"])(
    "%s: fires within 5 minutes of nginx, every app process or the health check failing, or of silence",
    (name) => {
      // given an environment that asks for a long look-back on its other alarms
      const json = layout(name, {
        monitoring: {
          alarmEmails: ["oncall@example.com"],
          thresholds: { evaluationPeriods: 10, datapointsToAlarm: 8 },
        },
      });
      const alarm = alarmsOf(json)["shop-test-app-health"];
      // then the health alarm keeps its own: 2 failing 1-minute probes of 3
      expect(alarm).toMatchObject({
        namespace: "shop/test/AppHealth",
        metric_name: "HealthCheckOk",
        statistic: "Minimum",
        period: 60,
        evaluation_periods: 3,
        datapoints_to_alarm: 2,
        comparison_operator: "LessThanThreshold",
        threshold: 1,
        treat_missing_data: "breaching",
      });
      expect(alarm.period * alarm.evaluation_periods).toBeLessThanOrEqual(5 * 60);
      expect(alarmsOf(json)["shop-test-app-cpu"].evaluation_periods).toBe(10);
      // and the server it watches runs the probe that feeds it, in its region
      const script = bootScriptOf(json);
      expect(script).toContain("systemctl enable --now app-health-probe.timer");
      expect(script).toContain(
        "aws cloudwatch put-metric-data --region ap-northeast-2 --namespace shop/test/AppHealth",
      );
    },
  );

  test("load-balanced: none; its load balancer's health check and host-count alarms cover it", () => {
    const json = layout("load-balanced");
    expect(Object.keys(alarmsOf(json))).not.toContain("shop-test-app-health");
    expect(bootScriptOf(json)).not.toContain("app-health-probe");
  });
});

/** The decoded boot script of the stack's app servers (gzip-compressed when it is over 16 KB). */
function bootScriptOf(json: Synthesized): string {
  const encoded =
    json.resources("aws_instance")[0]?.values.user_data_base64 ??
    json.resources("aws_launch_template")[0].values.user_data;
  const data = Buffer.from(encoded, "base64");
  return (data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data) : data).toString("utf8");
}

describe("the single server's backup alarm: a nightly dump missing for a day and two hours pages", () => {
  test("no DumpUploaded datapoint for 26 hourly periods fires it, silence counting as missing dumps, to the environment's topic", () => {
    // given an environment whose other alarms look back briefly
    const json = layout("single-server", {
      monitoring: { alarmEmails: ["oncall@example.com"], thresholds: { evaluationPeriods: 3, datapointsToAlarm: 2 } },
    });
    const alarm = alarmsOf(json)["shop-test-db-backup-missing"];
    expect(alarm).toMatchObject({
      namespace: "shop/test/AppBackups",
      metric_name: "DumpUploaded",
      statistic: "Sum",
      comparison_operator: "LessThanThreshold",
      threshold: 1,
      treat_missing_data: "breaching",
      alarm_actions: [topicRef(json)],
      ok_actions: [topicRef(json)],
    });
    // every period of the window must be empty: one dump within it keeps the alarm OK
    expect(alarm.datapoints_to_alarm).toBe(alarm.evaluation_periods);
    const windowHours = (alarm.period * alarm.evaluation_periods) / 3600;
    // longer than a day between dumps plus the timer's delay and the dump itself, shorter than two days
    expect(windowHours).toBeGreaterThanOrEqual(25);
    expect(windowHours).toBeLessThanOrEqual(30);
    // CloudWatch: periods of an hour or more may look back 7 days (under an hour, one day)
    expect(alarm.period).toBeGreaterThanOrEqual(3600);
    expect(alarm.period % 60).toBe(0);
    expect(alarm.period * alarm.evaluation_periods).toBeLessThanOrEqual(7 * 86400);
    // and the server publishes the metric the alarm reads, in its region, and takes a first dump
    const script = bootScriptOf(json);
    expect(script).toContain(
      'cloudwatch put-metric-data --namespace shop/test/AppBackups --metric-name DumpUploaded --dimensions "InstanceId=$instance_id" --value 1',
    );
    expect(script).toContain("\nsystemctl start --no-block db-backup.service\n");
  });

  test.each(["app-db-split", "load-balanced"])("%s: none (RDS keeps its own automated backups)", (name) => {
    const json = layout(name);
    expect(Object.keys(alarmsOf(json))).not.toContain("shop-test-db-backup-missing");
    expect(bootScriptOf(json)).not.toContain("DumpUploaded");
  });
});

describe("the single server's own database engine down pages within minutes, whatever the traffic (review DQ)", () => {
  test.each(["postgres", "mariadb"] as const)(
    "%s: DatabaseOk from the server's probe, 2 of 3 minutes at 0; no data is the health alarm's, not this one's",
    (engine) => {
      const json = layout("single-server", {
        database: { engine, engineVersion: engine === "postgres" ? "16" : "10.11" },
      });
      const alarm = alarmsOf(json)["shop-test-db-health"];
      const instance = json.resources("aws_instance")[0];
      expect(alarm).toMatchObject({
        namespace: "shop/test/AppHealth",
        metric_name: "DatabaseOk",
        dimensions: { InstanceId: `\${aws_instance.${instance.name}.id}` },
        statistic: "Minimum",
        period: 60,
        evaluation_periods: 3,
        datapoints_to_alarm: 2,
        comparison_operator: "LessThanThreshold",
        threshold: 1,
        treat_missing_data: "notBreaching",
        alarm_actions: [topicRef(json)],
      });
      // (the health alarm reads the same probe's other metric, and pages when neither arrives)
      expect(alarmsOf(json)["shop-test-app-health"].treat_missing_data).toBe("breaching");
      // its page names the engine's own unit
      const unit = engine === "postgres" ? "postgresql" : "mariadb";
      expect(alarm.alarm_description).toContain(`systemctl status ${unit} and journalctl -u ${unit}`);
      // and the server's probe publishes what it reads, for the engine the server runs
      const script = bootScriptOf(json);
      expect(script).toContain('publish DatabaseOk "$db"');
      expect(script).toContain(
        engine === "postgres" ? "pg_isready -q -h 127.0.0.1 -p 5432" : "systemctl is-active -q mariadb",
      );
    },
  );

  test.each(["app-db-split", "load-balanced"])("%s: none (RDS's own alarms and events watch it)", (name) => {
    const json = layout(name);
    expect(Object.keys(alarmsOf(json))).not.toContain("shop-test-db-health");
    expect(bootScriptOf(json)).not.toContain("DatabaseOk");
  });
});

test("the app tells each environment its neighbours: prod's alarm topic shuts out prod-eu's alarms, prod-eu's shuts out none", () => {
  const app = Testing.app();
  const prod = environment("prod", LAYOUT_FILES["single-server"]);
  const eu = environment("prod-eu", {
    ...LAYOUT_FILES["single-server"],
    network: { ...network, cidr: "10.51.0.0/16" },
  });
  buildStacks(app, [prod, eu], { projectRootFromStack: "../../.." });
  const synthesized = (name: string) => Testing.synth(app.node.findChild(name) as TerraformStack);
  expect(synthesized("prod")).toContain(":alarm:shop-prod-eu-*");
  expect(synthesized("prod-eu")).not.toContain("ArnNotLike");
});

describe("metric namespaces: what a server publishes and its alarms read is its environment's own", () => {
  /** The namespaces the servers' role may publish to (its PublishMetrics statement). */
  const publishable = (json: Synthesized): string[] => {
    const documents = Object.entries(json.doc.data.aws_iam_policy_document) as [string, any][];
    const agent = documents.find(([id]) => id.includes("CloudWatchAgentPolicy"))![1];
    return agent.statement.find((s: any) => s.sid === "PublishMetrics").condition[0].values;
  };
  /** Every namespace the servers publish to, as the boot script writes it (the agent, the probe, db-backup). */
  const published = (json: Synthesized): string[] => {
    const script = bootScriptOf(json);
    const agent = JSON.parse(/amazon-cloudwatch-agent\.json <<'(\w+)'\n([\s\S]*?)\n\1\n/.exec(script)![2]).metrics
      .namespace;
    const cli = [...script.matchAll(/put-metric-data (?:--region \S+ )?--namespace (\S+)/g)].map((m) => m[1]);
    return [agent, ...cli];
  };
  /** Every namespace an alarm or the dashboard reads that a server (not AWS, not a log filter) publishes. */
  const read = (json: Synthesized): string[] => {
    const fromAlarms = Object.values(alarmsOf(json)).flatMap((alarm) =>
      [readsOf(json, alarm)].flat().map((r) => r.namespace),
    );
    const body = JSON.parse(json.resources("aws_cloudwatch_dashboard")[0].values.dashboard_body);
    const fromDashboard = body.widgets
      .filter((w: any) => w.type === "metric")
      .flatMap((w: any) => w.properties.metrics.map((l: unknown[]) => l[0]));
    return [...fromAlarms, ...fromDashboard].filter((ns: string) => !ns.startsWith("AWS/") && !ns.endsWith("/nginx"));
  };

  test.each(Object.keys(LAYOUT_FILES))(
    "%s: the role may publish only to <project>/<env>/..., the servers publish there, and every alarm and graph reads there",
    (name) => {
      const json = layout(name);
      const own = publishable(json);
      expect(own).toEqual(["shop/test/CWAgent", "shop/test/AppHealth", "shop/test/AppBackups"]);
      const written = published(json);
      expect(written.length).toBeGreaterThanOrEqual(name === "load-balanced" ? 1 : 2);
      for (const namespace of [...written, ...read(json)]) expect(own).toContain(namespace);
      // and the alarms read the agent's memory and disk there (not CWAgent, which every environment may write)
      expect(alarmsOf(json)["shop-test-app-memory"].namespace).toBe("shop/test/CWAgent");
    },
  );

  test("two environments' servers may publish to none of each other's namespaces, nor to the shared ones", () => {
    const dev = publishable(layout("single-server", {}, "dev"));
    const prod = publishable(layout("load-balanced", {}, "prod"));
    const devEu = publishable(layout("single-server", {}, "dev-eu"));
    expect(dev.filter((ns) => prod.includes(ns) || devEu.includes(ns))).toEqual([]);
    for (const ns of ["CWAgent", "AppHealth", "AppBackups"]) expect([...dev, ...prod, ...devEu]).not.toContain(ns);
  });

  test.each(Object.keys(LAYOUT_FILES))(
    "%s with metricNamespaces: shared keeps the namespaces of servers made before: CWAgent, AppHealth, AppBackups, everywhere",
    (name) => {
      const json = layout(name, { monitoring: { alarmEmails: ["oncall@example.com"], metricNamespaces: "shared" } });
      const shared = publishable(json);
      expect(shared).toEqual(["CWAgent", "AppHealth", "AppBackups"]);
      for (const namespace of [...published(json), ...read(json)]) expect(shared).toContain(namespace);
      expect(alarmsOf(json)["shop-test-app-memory"].namespace).toBe("CWAgent");
    },
  );
});

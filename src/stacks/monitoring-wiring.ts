import { TerraformOutput } from "cdktf";
import { AGENT_START_SECONDS } from "../userdata/boot-script";
import { CloudwatchEventRule } from "@cdktf/provider-aws/lib/cloudwatch-event-rule";
import { CloudwatchEventTarget } from "@cdktf/provider-aws/lib/cloudwatch-event-target";
import { DbEventSubscription } from "@cdktf/provider-aws/lib/db-event-subscription";
import { AccessLogAlarms, accessLogNamespace } from "../constructs/access-log-alarms";
import { AlarmTopic } from "../constructs/alarm-topic";
import { AppAlarms, type AppServers } from "../constructs/app-alarms";
import { AppFleet } from "../constructs/app-fleet";
import { LocalDatabaseAlarms } from "../constructs/local-database-alarms";
import { CertificateAlarms } from "../constructs/certificate-alarms";
import type { AppServer } from "../constructs/app-server";
import { Dashboard } from "../constructs/dashboard";
import type { Database } from "../constructs/database";
import { DatabaseAlarms } from "../constructs/database-alarms";
import type { LoadBalancer } from "../constructs/load-balancer";
import { LoadBalancerAlarms } from "../constructs/load-balancer-alarms";
import { classMaxConnections } from "../config/db-memory";
import type { LocalDatabase } from "../userdata/app-host";
import type { EnvironmentStack } from "./environment-stack";

/** The RDS event categories sent to the alarm topic: what pages, not routine maintenance or backups. */
export const DATABASE_EVENT_CATEGORIES = ["availability", "failover", "failure", "low storage"] as const;

/** The tiers of a layout that monitoring watches. */
export interface MonitoredTiers {
  /** The one app server, or the Auto Scaling group of them. */
  readonly app: AppServer | AppFleet;
  readonly loadBalancer?: LoadBalancer;
  readonly database?: Database;
  /**
   * The one app server's own database (single-server): alarms when it does not answer the
   * server's health probe, and when its nightly dump is missing.
   */
  readonly localDatabase?: Pick<LocalDatabase, "engine" | "port">;
  /**
   * The nginx access log's group of a server clients reach directly (no load balancer counts its
   * errors): its 5xx rate is read from the log.
   */
  readonly accessLogGroupName?: string;
}

/**
 * The environment's monitoring: its alarm topic and email subscribers, the alarms of each tier
 * present (thresholds from `monitoring.thresholds`, resolved per environment), the dashboard, and
 * the outputs `alarm_topic_arn` and `dashboard_url`.
 */
export function addMonitoring(stack: EnvironmentStack, tiers: MonitoredTiers): void {
  const { env, naming } = stack;
  const t = env.monitoring.thresholds;
  const fleet = tiers.app instanceof AppFleet ? tiers.app : undefined;
  const topic = new AlarmTopic(stack, "AlarmTopic", {
    naming,
    region: env.region,
    emails: env.monitoring.alarmEmails,
    databaseEvents: tiers.database !== undefined,
    eventRules: fleet !== undefined,
    neighbours: stack.neighbours,
  });
  const common = {
    naming,
    topicArn: topic.topicArn,
    evaluationPeriods: t.evaluationPeriods,
    datapointsToAlarm: t.datapointsToAlarm,
  };
  const servers: AppServers =
    tiers.app instanceof AppFleet
      ? { autoScalingGroupName: tiers.app.autoScalingGroupName }
      : { instanceId: tiers.app.instanceId, region: env.region };

  // ---- Alarms, tier by tier ----
  const alarms = [
    new AppAlarms(stack, "AppAlarms", {
      ...common,
      servers,
      cpuPercent: t.cpuPercent,
      memoryPercent: t.memoryPercent,
      diskPercent: t.diskPercent,
      detailedMonitoring: env.app.detailedMonitoring,
      bootSeconds: AGENT_START_SECONDS,
      metricNamespaces: stack.metricNamespaces,
      launchSeconds: fleet?.bootTimeoutSeconds,
    }),
  ];
  if (tiers.loadBalancer) {
    alarms.push(
      new LoadBalancerAlarms(stack, "LoadBalancerAlarms", {
        ...common,
        minHealthyHosts: env.app.count.min,
        healthCheckGracePeriodSeconds: fleet?.healthCheckGracePeriod,
        autoScalingGroupName: fleet?.autoScalingGroupName,
        replacementSeconds: fleet?.bootTimeoutSeconds,
        albAccessLogs: env.loadBalancer.accessLogs,
        loadBalancerArnSuffix: tiers.loadBalancer.arnSuffix,
        targetGroupArnSuffix: tiers.loadBalancer.targetGroupArnSuffix,
        loadBalancer5xxPercent: t.loadBalancer5xxPercent,
        target5xxPercent: t.target5xxPercent,
        latencyP95Ms: t.latencyP95Ms,
        latencyP99Ms: t.latencyP99Ms,
      }),
    );
  }
  if (tiers.loadBalancer?.certificateArn) {
    alarms.push(
      new CertificateAlarms(stack, "CertificateAlarms", {
        ...common,
        certificateArn: tiers.loadBalancer.certificateArn,
        configured: env.loadBalancer.certificateArn !== undefined,
      }),
    );
  }
  if (!tiers.loadBalancer && tiers.accessLogGroupName) {
    alarms.push(
      new AccessLogAlarms(stack, "AccessLogAlarms", {
        ...common,
        accessLogGroupName: tiers.accessLogGroupName,
        errorPercent: t.target5xxPercent,
        latencyP95Ms: t.latencyP95Ms,
        latencyP99Ms: t.latencyP99Ms,
      }),
    );
  }
  if (fleet) {
    // An instance refresh that fails, wherever it was started (a cdktf deploy by hand has no
    // wait-rollout after it): one message each. A cancelled one was cancelled by someone.
    const rule = new CloudwatchEventRule(stack, "RefreshFailed", {
      name: naming.name("refresh-failed"),
      description: "The app servers' instance refresh failed: the group runs two launch template versions",
      eventPattern: JSON.stringify({
        source: ["aws.autoscaling"],
        "detail-type": ["EC2 Auto Scaling Instance Refresh Failed"],
        detail: { AutoScalingGroupName: [fleet.autoScalingGroupName] },
      }),
      tags: naming.tags("refresh-failed"),
    });
    new CloudwatchEventTarget(stack, "RefreshFailedTopic", {
      rule: rule.name,
      arn: topic.topicArn,
      // after the topic's policy lets the rule publish
      dependsOn: [topic.policy],
    });
  }
  if (tiers.database) {
    // What no metric shows: a Multi-AZ failover, the instance failing or becoming unavailable, its
    // storage running low (autoscaling at its ceiling). Each such event is one message.
    new DbEventSubscription(stack, "DatabaseEvents", {
      name: naming.name("db-events"),
      snsTopic: topic.topicArn,
      sourceType: "db-instance",
      sourceIds: [tiers.database.instanceIdentifier],
      eventCategories: [...DATABASE_EVENT_CATEGORIES],
      tags: naming.tags("db-events"),
      // RDS may refuse a topic that does not yet let it publish
      dependsOn: [topic.policy],
    });
    if (t.dbFreeableMemoryMb === undefined || t.dbConnections === undefined) {
      // The config rules reject this before any stack exists; this guards direct use of the stacks.
      throw new Error(`${env.name}: monitoring.thresholds.dbFreeableMemoryMb and dbConnections are required with RDS`);
    }
    alarms.push(
      new DatabaseAlarms(stack, "DatabaseAlarms", {
        ...common,
        dbInstanceIdentifier: tiers.database.instanceIdentifier,
        cpuPercent: t.dbCpuPercent,
        freeStorageGb: t.dbFreeStorageGb,
        freeableMemoryMb: t.dbFreeableMemoryMb,
        maxConnections: t.dbConnections,
        defaultMaxConnections: classMaxConnections(env.database.engine, env.database.instanceClass),
        performanceInsights: tiers.database.performanceInsights,
      }),
    );
  }

  if (tiers.localDatabase) {
    if (!("instanceId" in servers)) throw new Error(`${env.name}: a local database's alarms need the one app server`);
    alarms.push(
      // (its id from when it held the backup alarm alone: another would replace that alarm)
      new LocalDatabaseAlarms(stack, "BackupAlarms", {
        ...common,
        instanceId: servers.instanceId,
        namespace: stack.metricNamespaces.backups,
        database: tiers.localDatabase,
        healthNamespace: stack.metricNamespaces.health,
      }),
    );
  }

  // ---- Dashboard, outputs ----
  const dashboard = new Dashboard(stack, "Dashboard", {
    naming,
    region: env.region,
    alarmArns: alarms.flatMap((a) => a.alarmArns),
    servers,
    detailedMonitoring: env.app.detailedMonitoring,
    metricNamespaces: stack.metricNamespaces,
    loadBalancer: tiers.loadBalancer && {
      arnSuffix: tiers.loadBalancer.arnSuffix,
      targetGroupArnSuffix: tiers.loadBalancer.targetGroupArnSuffix,
    },
    dbInstanceIdentifier: tiers.database?.instanceIdentifier,
    accessLogNamespace: !tiers.loadBalancer && tiers.accessLogGroupName ? accessLogNamespace(naming) : undefined,
  });
  new TerraformOutput(stack, "alarm_topic_arn", {
    value: topic.topicArn,
    description: "SNS topic of every alarm; subscribers must confirm the email AWS sends them",
  });
  new TerraformOutput(stack, "dashboard_url", {
    value: dashboard.url,
    description: "The environment's CloudWatch dashboard",
  });
}

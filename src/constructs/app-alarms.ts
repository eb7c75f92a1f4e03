import type { Construct } from "constructs";
import { SERVER_PATHS } from "../userdata/app-host";
import { AGENT_START_SECONDS } from "../userdata/boot-script";
import { HEALTH_METRIC, HEALTH_PROBE_INTERVAL_SECONDS } from "../userdata/health-probe";
import type { MetricNamespaces } from "../userdata/metric-namespaces";
import { ec2Period, minuteMetric, minutesPast, TierAlarms, type TierAlarmsProps } from "./tier-alarms";

/** The app servers an `AppAlarms` watches: an Auto Scaling group, or one instance. */
export type AppServers =
  | { readonly autoScalingGroupName: string }
  | {
      readonly instanceId: string;
      /** The instance's region, for the EC2 recover action's ARN. */
      readonly region: string;
    };

export interface AppAlarmsProps extends TierAlarmsProps {
  /** The servers watched: the Auto Scaling group, or the one instance (which then recovers itself). */
  readonly servers: AppServers;
  /** Alarm when average CPU stays above this percentage. */
  readonly cpuPercent: number;
  /** Alarm when memory use (from the CloudWatch agent) stays above this percentage. */
  readonly memoryPercent: number;
  /**
   * Alarm when the root disk (from the CloudWatch agent; on a single server it holds the database
   * too) is fuller than this percentage on any server (environment config: production's default
   * is stricter).
   */
  readonly diskPercent: number;
  /** Whether the instances send 1-minute metrics (otherwise CPU is evaluated over 5-minute periods). */
  readonly detailedMonitoring: boolean;
  /**
   * Seconds from a new server's launch until its CloudWatch agent reports (the boot script starts
   * it right after the packages): the silent-agent alarm waits longer.
   * @default AGENT_START_SECONDS (src/userdata/boot-script.ts)
   */
  readonly bootSeconds?: number;
  /**
   * A fleet's: seconds a new server's boot may take before the launch hook abandons it. With it,
   * `app-capacity-shortfall` pages when the group has run fewer servers than it wants for longer
   * than a launch and such a boot take.
   * @default - no shortfall alarm
   */
  readonly launchSeconds?: number;
  /** Where the servers publish the agent's metrics and the health probe's (metric-namespaces.ts). */
  readonly metricNamespaces: Pick<MetricNamespaces, "agent" | "health">;
}

/**
 * Minutes a fleet's CPU must stay high before it pages: a scale-out's boot (about 5 minutes),
 * its warmup and target tracking's own look-back, with room to spare.
 */
export const FLEET_CPU_SUSTAINED_MINUTES = 15;

/** The dimensions that pin EC2 and agent metrics to these servers. */
export function appDimensions(servers: AppServers): Record<string, string> {
  return "autoScalingGroupName" in servers
    ? { AutoScalingGroupName: servers.autoScalingGroupName }
    : { InstanceId: servers.instanceId };
}

/**
 * The app tier's alarms, over the Auto Scaling group or the one server: CPU, memory and root disk;
 * a silent CloudWatch agent (without which the memory and disk alarms are blind); the fleet's
 * capacity shortfall (with `launchSeconds`); EC2 status checks; and, on a single server, its own
 * health probe through nginx (a fleet's load balancer checks its servers). A single server also recovers itself: when AWS's own hardware or network under it fails
 * (the system status check), the alarm moves it to healthy hardware, keeping its instance id,
 * private and Elastic IPs and EBS volumes, and tells the topic.
 *
 * @example
 * new AppAlarms(this, "AppAlarms", { naming, topicArn, evaluationPeriods: 3, datapointsToAlarm: 2,
 *   servers: { autoScalingGroupName: fleet.autoScalingGroupName }, cpuPercent: 80, memoryPercent: 85, detailedMonitoring: true });
 */
export class AppAlarms extends TierAlarms {
  constructor(scope: Construct, id: string, props: AppAlarmsProps) {
    super(scope, id, props);
    const { servers } = props;
    const dimensions = appDimensions(servers);
    const fleet = "autoScalingGroupName" in servers;
    const { agent } = props.metricNamespaces;

    // ---- Saturation ----
    // A fleet's high CPU is first target tracking's to answer (it aims lower, and a scale-out takes
    // a boot and a warmup): it pages only when it lasts longer than that, when the group is at
    // app.count.max or cannot launch. A single server has no one else to answer it.
    const period = ec2Period(props.detailedMonitoring);
    const sustainedPeriods = Math.ceil((FLEET_CPU_SUSTAINED_MINUTES * 60) / period);
    this.alarm("Cpu", {
      what: "app-cpu",
      description: fleet
        ? `CPU of the app servers (Auto Scaling group average) has stayed above ${props.cpuPercent}% for ` +
          `${FLEET_CPU_SUSTAINED_MINUTES} minutes, longer than a scale-out takes: the group is at app.count.max, or its ` +
          `new servers do not come into service. Look first at: the group's desired and maximum size and its ` +
          `activity history, request count and latency on the dashboard (traffic or a slow code path?), and the ` +
          `busiest processes on a server (top, through Session Manager).`
        : `CPU of the app server stays above ${props.cpuPercent}%. Look first at: request count and latency on the ` +
          `dashboard (traffic or a slow code path?), and the busiest processes on the server (top, through Session Manager).`,
      comparison: "GreaterThanThreshold",
      threshold: props.cpuPercent,
      treatMissingData: "missing",
      evaluation: fleet ? { periods: sustainedPeriods, datapoints: sustainedPeriods } : undefined,
      metric: {
        namespace: "AWS/EC2",
        metricName: "CPUUtilization",
        dimensions,
        statistic: "Average",
        period,
      },
    });
    // Relies on the CloudWatch agent configured in the user data, which publishes mem_used_percent
    // aggregated by exactly these dimensions (AutoScalingGroupName, or InstanceId). Without the
    // agent there is no data: this alarm stays in INSUFFICIENT_DATA, and AgentSilent pages instead.
    // Maximum, as for the disk: in a fleet, one server running out of memory is the page, and an
    // average with two idle ones (98, 40 and 40% make 59%) would hide it until the OOM killer acts.
    this.alarm("Memory", {
      what: "app-memory",
      description:
        `Memory use of ${fleet ? "an app server (the fullest one of the group)" : "the app server"} stays above ` +
        `${props.memoryPercent}% (CloudWatch agent, mem_used_percent). Look ` +
        `first at: the largest processes (ps aux --sort=-rss through Session Manager), a leak growing since the last deploy, ` +
        `and whether the kernel's OOM killer has fired (journalctl -k).`,
      comparison: "GreaterThanThreshold",
      threshold: props.memoryPercent,
      treatMissingData: "missing",
      metric: { namespace: agent, metricName: "mem_used_percent", dimensions, statistic: "Maximum", period: 60 },
    });

    // The same agent publishes disk_used_percent for "/" by the same aggregation dimensions.
    const { diskPercent } = props;
    this.alarm("Disk", {
      what: "app-disk",
      description:
        `The root disk of ${fleet ? "an app server" : "the app server"} is over ${diskPercent}% full (CloudWatch ` +
        `agent, disk_used_percent of /). Look first at: logs in /var/log (app, nginx, journal), old releases in ` +
        `${SERVER_PATHS.appRoot}/releases${fleet ? "" : ", and the database's data directory, which shares this disk"}; then grow ` +
        `app.rootVolumeGb.`,
      comparison: "GreaterThanThreshold",
      threshold: diskPercent,
      treatMissingData: "missing",
      metric: { namespace: agent, metricName: "disk_used_percent", dimensions, statistic: "Maximum", period: 300 },
    });

    // ---- The agent itself: memory and disk alarms are blind without it ----
    // Each server's agent sends mem_used_percent once a minute, so the minute's SampleCount is
    // the number of servers reporting. A dead agent (or a stopped server) is a gap, which the
    // memory and disk alarms would read as "no data", never as a page.
    const silentMinutes = minutesPast(props.bootSeconds ?? AGENT_START_SECONDS, 2);
    const reporting = minuteMetric("reporting", agent, "mem_used_percent", "SampleCount", dimensions);
    const group = (queryId: string, metricName: string, stat: string) =>
      minuteMetric(queryId, "AWS/AutoScaling", metricName, stat, dimensions);
    this.alarm("AgentSilent", {
      what: "app-agent-silent",
      description:
        `${fleet ? "At least one app server (in service, booting or leaving) has" : "The app server has"} sent no ` +
        `CloudWatch agent metrics for ${silentMinutes} minutes (longer than a new server takes to install its ` +
        `packages and start the agent), so the memory and disk alarms cannot see it. Look first at: systemctl ` +
        `status amazon-cloudwatch-agent on the server (Session Manager), /opt/aws/amazon-cloudwatch-agent/logs/, ` +
        `whether the server is running at all${fleet ? ", and the boot log of a server still booting (a package install stuck on its repositories)" : ""}. ` +
        `${fleet ? "Several servers at once, or all in one AZ: their way out (the NAT gateway, its subnet's 0.0.0.0/0 route), without which no agent reaches CloudWatch and no new server completes its launch hook." : "It and the health probe silent together: the server's way out (its Elastic IP, the public route)."}`,
      comparison: fleet ? "GreaterThanThreshold" : "LessThanThreshold",
      threshold: fleet ? 0 : 1,
      treatMissingData: fleet ? "notBreaching" : "breaching",
      evaluation: { periods: silentMinutes, datapoints: silentMinutes },
      metric: fleet
        ? {
            query: [
              reporting,
              group("inService", "GroupInServiceInstances", "Minimum"),
              // A booting server (held out of service by the launch hook) runs its agent from its
              // first minutes, and a leaving one until it stops: counted among the servers, neither
              // hides a silent one in service.
              group("pending", "GroupPendingInstances", "Minimum"),
              group("terminating", "GroupTerminatingInstances", "Minimum"),
              {
                id: "silent",
                expression: "FILL(inService, 0) + FILL(pending, 0) + FILL(terminating, 0) - FILL(reporting, 0)",
                label: "Servers (in service, booting or leaving) without agent metrics",
                returnData: true,
              },
            ],
          }
        : { namespace: agent, metricName: "mem_used_percent", dimensions, statistic: "SampleCount", period: 60 },
    });

    // ---- Capacity the group wants and does not get (launches that fail, boots abandoned) ----
    // Target tracking raised the desired count, or a server was replaced, and the new ones never
    // come into service: with desired above app.count.min, no other alarm sees it. A launch and a
    // whole boot take at most launchSeconds; a refresh launches before it terminates (in service
    // stays at or above desired), so it never counts.
    if (fleet && props.launchSeconds !== undefined) {
      const shortfall = minutesPast(props.launchSeconds, 5);
      this.alarm("CapacityShortfall", {
        what: "app-capacity-shortfall",
        description:
          `The Auto Scaling group has run fewer servers in service than it wants (its desired capacity) for ` +
          `${shortfall} minutes, longer than a launch and a whole boot take: its new servers fail to launch or ` +
          `to boot. Look first at: the group's activity history (capacity or quota errors, abandoned boots), and ` +
          `the boot log of a new server (the environment's /boot log group).`,
        comparison: "GreaterThanThreshold",
        threshold: 0,
        treatMissingData: "notBreaching",
        evaluation: { periods: shortfall, datapoints: shortfall },
        metric: {
          query: [
            group("desired", "GroupDesiredCapacity", "Minimum"),
            group("inService", "GroupInServiceInstances", "Maximum"),
            {
              id: "shortfall",
              expression: "FILL(desired, 0) - FILL(inService, 0)",
              label: "Servers wanted and not in service",
              returnData: true,
            },
          ],
        },
      });
    }

    // ---- Status checks (published every minute, with or without detailed monitoring) ----
    if (fleet) {
      this.alarm("StatusCheck", {
        what: "app-status-check",
        description:
          `An app server fails an EC2 status check (its OS, or AWS's hardware under it). The Auto Scaling group ` +
          `replaces it. Look first at: the group's activity history, and the instance's system log (EC2 console, ` +
          `Actions > Monitor and troubleshoot > Get system log) if it keeps happening.`,
        comparison: "GreaterThanOrEqualToThreshold",
        threshold: 1,
        treatMissingData: "missing",
        metric: { namespace: "AWS/EC2", metricName: "StatusCheckFailed", dimensions, statistic: "Maximum", period: 60 },
      });
    } else {
      this.alarm("InstanceStatusCheck", {
        what: "app-status-instance",
        description:
          `The app server's operating system stopped answering (instance status check): exhausted memory, a full ` +
          `disk, a kernel panic or broken networking. Look first at: the system log and instance screenshot in the ` +
          `EC2 console; a reboot usually recovers it, and the memory alarm says whether it ran out.`,
        comparison: "GreaterThanOrEqualToThreshold",
        threshold: 1,
        treatMissingData: "missing",
        metric: {
          namespace: "AWS/EC2",
          metricName: "StatusCheckFailed_Instance",
          dimensions,
          statistic: "Maximum",
          period: 60,
        },
      });
      this.alarm("SystemStatusCheck", {
        what: "app-status-system",
        description:
          `AWS's hardware, power or network under the app server failed (system status check). This alarm recovers ` +
          `the instance onto healthy hardware (same instance id, IPs and volumes; a reboot for the server). Look ` +
          `first at: the AWS Health Dashboard, then that the app came back once the alarm returns to OK.`,
        comparison: "GreaterThanOrEqualToThreshold",
        threshold: 1,
        treatMissingData: "missing",
        metric: {
          namespace: "AWS/EC2",
          metricName: "StatusCheckFailed_System",
          dimensions,
          statistic: "Maximum",
          period: 60,
        },
        extraAlarmActions: [ec2RecoverAction(servers.region)],
      });

      // ---- Is the site answering? (a fleet's load balancer asks; a lone server asks itself) ----
      // The server's health probe (src/userdata/health-probe.ts) requests the health check through
      // nginx every minute and publishes 1 or 0. Two failed minutes of three fire the alarm, within
      // 5 minutes of the failure whatever the environment's look-back; no data at all (server
      // stopped, probe gone) counts as failing.
      this.alarm("Health", {
        what: "app-health",
        description:
          `The app server stopped answering its health check through nginx (the server's own probe, every minute): ` +
          `nginx is down, every app process is down, or the app's health check fails, or the server publishes ` +
          `nothing at all. Look first at: the probe's log (journalctl -u app-health-probe), systemctl status nginx ` +
          `'app@*', and the app's log group; a new server reports only once it has booted.`,
        comparison: "LessThanThreshold",
        threshold: 1,
        treatMissingData: "breaching",
        metric: {
          namespace: props.metricNamespaces.health,
          metricName: HEALTH_METRIC.metricName,
          dimensions,
          statistic: "Minimum",
          period: HEALTH_PROBE_INTERVAL_SECONDS,
        },
        evaluation: { periods: 3, datapoints: 2 },
      });
    }
  }
}

/** The alarm action that moves an instance onto healthy hardware (EBS-backed, no instance store). */
export function ec2RecoverAction(region: string): string {
  return `arn:aws:automate:${region}:ec2:recover`;
}

import { AutoscalingGroup } from "@cdktf/provider-aws/lib/autoscaling-group";
import { AutoscalingLifecycleHook } from "@cdktf/provider-aws/lib/autoscaling-lifecycle-hook";
import { AutoscalingPolicy } from "@cdktf/provider-aws/lib/autoscaling-policy";
import { LaunchTemplate } from "@cdktf/provider-aws/lib/launch-template";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { FLEET_MAX_HEALTHY_PERCENT } from "../config/rules";
import type { Naming } from "../naming";
import { userDataBase64 } from "../userdata/encode";
import { LAUNCH_HOOK_NAME, MAX_LAUNCH_HOOK_SECONDS } from "../userdata/launch-hook";

/** The prefix of the app servers' group name (Auto Scaling adds a unique suffix). */
export function fleetNamePrefix(naming: Naming): string {
  return `${naming.name("app")}-`;
}

export interface AppFleetProps {
  readonly naming: Naming;
  /**
   * Tags every server and volume of the group carries, besides its `Name` (the environment's
   * shared tags: the provider's default tags reach neither the group nor what it launches).
   */
  readonly tags: Readonly<Record<string, string>>;
  /** Private app subnets, one per AZ: the group spreads instances across them. */
  readonly subnetIds: readonly string[];
  readonly instanceType: string;
  readonly imageId: string;
  readonly securityGroupId: string;
  readonly instanceProfileName: string;
  /**
   * First-boot script, as plain text (base64-encoded here). It must end the launch hook
   * (`LAUNCH_HOOK_NAME`) when it exits, as `bootScript` does with `autoScaling` set: CONTINUE
   * when it succeeded, ABANDON when it failed.
   */
  readonly userData: string;
  /**
   * Seconds from a new server's launch to the end of its boot (`bootTimeoutSeconds` of its host):
   * the group holds it out of service (`Pending:Wait`) this long for the boot script to end its
   * launch hook, then abandons the launch. At most 7,200.
   */
  readonly bootTimeoutSeconds: number;
  /** Instance counts; `desired` applies at creation, then belongs to autoscaling. */
  readonly count: { readonly min: number; readonly desired: number; readonly max: number };
  /** Target groups the instances register with; their health decides replacement. */
  readonly targetGroupArns: readonly string[];
  /** 1-minute CloudWatch metrics. */
  readonly detailedMonitoring: boolean;
  /** Average CPU the group scales to hold. */
  readonly targetCpuPercent: number;
  /** Size of the root volume in GiB (environment config: app.rootVolumeGb). */
  readonly rootVolumeGb: number;
  /** SSH key pair. @default - none */
  readonly keyName?: string;
  /**
   * Seconds after a server is put in service (its boot script has ended the launch hook, every
   * process started and healthy) before the load balancer's health checks count: its
   * registration and the checks it must pass first.
   * @default 300
   */
  readonly healthCheckGracePeriod?: number;
  /**
   * Seconds after a server is put in service before its metrics count for target tracking and an
   * instance refresh counts it ready. Its boot has already started every process and checked its
   * health (the launch hook), so this covers the load balancer's first health checks.
   * @default 60
   */
  readonly instanceWarmupSeconds?: number;
  /**
   * Share of capacity kept healthy while servers are replaced: by an instance refresh, and (the
   * group's instance maintenance policy) when it replaces a server that failed its health checks.
   * @default 100 - never below full capacity
   */
  readonly minHealthyPercentage?: number;
  /**
   * Capacity an instance refresh may launch above the desired count (new servers start before old
   * ones stop).
   * @default 150 - half the group's size of new servers at a time
   */
  readonly maxHealthyPercentage?: number;
  /** What must exist before instances boot, such as the release they download. @default - nothing */
  readonly bootDependsOn?: readonly ITerraformDependable[];
}

/**
 * App servers in an Auto Scaling group across the private app subnets, launched from a launch
 * template (IMDSv2 only, hop limit 1; encrypted gp3 root volume) and replaced when the load
 * balancer finds them unhealthy.
 *
 * A new server waits out of service until its boot script has finished (a launch lifecycle hook,
 * created with the group so that its very first servers wait too): the group puts it in service,
 * registered with the load balancer, once the boot succeeded, and terminates it and launches
 * another when the boot failed or outran `bootTimeoutSeconds`. The health-check grace period starts
 * only then, so a boot that runs long migrations is not taken for an unhealthy server.
 *
 * Any change to the launch template (new AMI, instance type, user data) makes a new template
 * version; the group references `latest_version` (not `$Latest`, which never triggers a refresh), so
 * the change rolls out as a rolling instance refresh that keeps `minHealthyPercentage` serving,
 * pauses at checkpoints, and stops on failure. The servers it had not replaced still run the old
 * version; those it replaced, and any the group launches after, run the new one (see below).
 *
 * @example
 * new AppFleet(this, "Fleet", { naming, subnetIds, count: { min: 2, desired: 2, max: 6 }, targetGroupArns: [tg.arn], ... });
 */
export class AppFleet extends Construct {
  public readonly autoScalingGroupName: string;
  public readonly launchTemplateId: string;
  /** Seconds a new server has before health checks count: how long a launch may look unhealthy. */
  public readonly healthCheckGracePeriod: number;
  /** Seconds a new server's boot may take before the launch hook abandons it. */
  public readonly bootTimeoutSeconds: number;

  constructor(scope: Construct, id: string, props: AppFleetProps) {
    super(scope, id);
    this.bootTimeoutSeconds = props.bootTimeoutSeconds;
    const { rootVolumeGb } = props;
    const healthCheckGracePeriod = props.healthCheckGracePeriod ?? 300;
    if (
      !Number.isInteger(props.bootTimeoutSeconds) ||
      props.bootTimeoutSeconds < 30 ||
      props.bootTimeoutSeconds > MAX_LAUNCH_HOOK_SECONDS
    ) {
      throw new Error(
        `AppFleet: bootTimeoutSeconds must be whole seconds from 30 to ${MAX_LAUNCH_HOOK_SECONDS}, what a launch hook may wait (got ${props.bootTimeoutSeconds})`,
      );
    }
    this.healthCheckGracePeriod = healthCheckGracePeriod;
    const minHealthyPercentage = props.minHealthyPercentage ?? 100;
    const maxHealthyPercentage = props.maxHealthyPercentage ?? FLEET_MAX_HEALTHY_PERCENT;
    const { naming } = props;
    const launchedTags = { ...props.tags, ...naming.tags("app") };

    const template = new LaunchTemplate(this, "LaunchTemplate", {
      namePrefix: `${naming.name("app")}-`,
      imageId: props.imageId,
      instanceType: props.instanceType,
      keyName: props.keyName,
      vpcSecurityGroupIds: [props.securityGroupId],
      iamInstanceProfile: { name: props.instanceProfileName },
      metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
      blockDeviceMappings: [
        {
          deviceName: "/dev/xvda",
          ebs: { volumeType: "gp3", volumeSize: rootVolumeGb, encrypted: "true", deleteOnTermination: "true" },
        },
      ],
      monitoring: { enabled: props.detailedMonitoring },
      userData: userDataBase64(props.userData),
      updateDefaultVersion: true,
      // Tagged as they are created (RunInstances), so a tag-enforcing SCP lets them launch.
      tagSpecifications: ["instance", "volume", "network-interface"].map((resourceType) => ({
        resourceType,
        tags: launchedTags,
      })),
      tags: naming.tags("app"),
      // Replaced (a -replace by hand), the new one first: deleted first, the group would point at no
      // template until the new one exists, and a scale-out or replacement then would fail. Its name
      // is a prefix, so the two never collide.
      lifecycle: { createBeforeDestroy: true },
    });
    this.launchTemplateId = template.id;

    const launchHook = {
      name: LAUNCH_HOOK_NAME,
      lifecycleTransition: "autoscaling:EC2_INSTANCE_LAUNCHING",
      heartbeatTimeout: props.bootTimeoutSeconds,
      defaultResult: "ABANDON",
    };
    const group = new AutoscalingGroup(this, "Group", {
      namePrefix: fleetNamePrefix(naming),
      vpcZoneIdentifier: [...props.subnetIds],
      minSize: props.count.min,
      maxSize: props.count.max,
      desiredCapacity: props.count.desired,
      healthCheckType: "ELB",
      healthCheckGracePeriod,
      defaultInstanceWarmup: props.instanceWarmupSeconds ?? 60,
      targetGroupArns: [...props.targetGroupArns],
      // Created with the group, so that its very first servers wait too (a hook of its own is
      // created only after the group, whose first servers would already be in service).
      initialLifecycleHook: [launchHook],
      // At creation Terraform waits for the servers to be in service, as long as a boot may take
      // and 5 minutes for the group to act on it: a first boot that fails fails the apply (its
      // default, 10 minutes, would fail a boot whose migrations run longer).
      waitForCapacityTimeout: `${Math.ceil(props.bootTimeoutSeconds / 60) + 5}m`,
      launchTemplate: { id: template.id, version: template.latestVersion.toString() },
      // Replacing servers that failed their health checks, launch first too. AWS's default
      // terminates them first: when every server fails at once (a new app.healthCheckPath, which
      // the load balancer asks at the apply while the running servers' nginx knows the old one),
      // it would stop them all and leave nothing until replacements boot. With this they keep
      // serving (a load balancer with no healthy target sends to them all) until new ones are in.
      instanceMaintenancePolicy: { minHealthyPercentage, maxHealthyPercentage },
      instanceRefresh: {
        strategy: "Rolling",
        preferences: {
          // Launch before terminating: new instances must be healthy before old ones go.
          minHealthyPercentage,
          maxHealthyPercentage,
          checkpointPercentages: [50, 100],
          checkpointDelay: "300",
          // Not autoRollback: the provider moves the group to the new template version before it
          // starts the refresh, so a "rollback" would return to that same version
          // (hashicorp/terraform-provider-aws#34189). A failed refresh stops; the group keeps the
          // new version for the servers it replaced and any it launches after: deploy the previous
          // app.version to undo (wait-rollout says so).
          autoRollback: false,
        },
      },
      enabledMetrics: [
        "GroupDesiredCapacity",
        "GroupInServiceInstances",
        "GroupPendingInstances",
        "GroupTerminatingInstances",
        "GroupTotalInstances",
      ],
      // The group's own tags, each also propagated to the instances it launches.
      tag: Object.entries(launchedTags).map(([key, value]) => ({ key, value, propagateAtLaunch: true })),
      // Target tracking moves desired capacity; re-applying the config value would undo its work.
      // The initial hook only matters at creation, and the provider replaces the whole group for a
      // change to it (a group created before it existed would go, servers and all): the hook's own
      // resource below manages it from then on.
      lifecycle: { ignoreChanges: ["desired_capacity", "initial_lifecycle_hook"] },
      dependsOn: props.bootDependsOn ? [...props.bootDependsOn] : undefined,
    });
    this.autoScalingGroupName = group.name;

    // The same hook, managed on its own: PutLifecycleHook creates or updates it, so on a new group
    // this changes nothing, and on a group created before the hook existed it adds it in place. A
    // new boot timeout (more processes, a database) changes it here.
    new AutoscalingLifecycleHook(this, "LaunchHook", { ...launchHook, autoscalingGroupName: group.name });

    new AutoscalingPolicy(this, "CpuTargetTracking", {
      name: naming.name("app-cpu"),
      autoscalingGroupName: group.name,
      policyType: "TargetTrackingScaling",
      targetTrackingConfiguration: {
        predefinedMetricSpecification: { predefinedMetricType: "ASGAverageCPUUtilization" },
        targetValue: props.targetCpuPercent,
      },
    });
  }
}

import { AutoscalingGroup } from "@cdktf/provider-aws/lib/autoscaling-group";
import { AutoscalingPolicy } from "@cdktf/provider-aws/lib/autoscaling-policy";
import { LaunchTemplate } from "@cdktf/provider-aws/lib/launch-template";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { Naming } from "../naming";
import { userDataBase64 } from "../userdata/encode";

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
  /** First-boot script, as plain text (base64-encoded here). */
  readonly userData: string;
  /** Instance counts; `desired` applies at creation, then belongs to autoscaling. */
  readonly count: { readonly min: number; readonly desired: number; readonly max: number };
  /** Target groups the instances register with; their health decides replacement. */
  readonly targetGroupArns: readonly string[];
  /** 1-minute CloudWatch metrics. */
  readonly detailedMonitoring: boolean;
  /** Average CPU the group scales to hold. */
  readonly targetCpuPercent: number;
  /** @default 20 */
  readonly rootVolumeGb?: number;
  /** SSH key pair. @default - none */
  readonly keyName?: string;
  /**
   * Seconds after launch before health checks count (boot script + app start).
   * @default 300
   */
  readonly healthCheckGracePeriod?: number;
  /**
   * Share of capacity kept healthy while an instance refresh replaces servers.
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

  constructor(scope: Construct, id: string, props: AppFleetProps) {
    super(scope, id);
    const rootVolumeGb = props.rootVolumeGb ?? 20;
    const healthCheckGracePeriod = props.healthCheckGracePeriod ?? 300;
    this.healthCheckGracePeriod = healthCheckGracePeriod;
    const minHealthyPercentage = props.minHealthyPercentage ?? 100;
    const maxHealthyPercentage = props.maxHealthyPercentage ?? 150;
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
    });
    this.launchTemplateId = template.id;

    const group = new AutoscalingGroup(this, "Group", {
      namePrefix: `${naming.name("app")}-`,
      vpcZoneIdentifier: [...props.subnetIds],
      minSize: props.count.min,
      maxSize: props.count.max,
      desiredCapacity: props.count.desired,
      healthCheckType: "ELB",
      healthCheckGracePeriod,
      defaultInstanceWarmup: healthCheckGracePeriod,
      targetGroupArns: [...props.targetGroupArns],
      launchTemplate: { id: template.id, version: template.latestVersion.toString() },
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
      lifecycle: { ignoreChanges: ["desired_capacity"] },
      dependsOn: props.bootDependsOn ? [...props.bootDependsOn] : undefined,
    });
    this.autoScalingGroupName = group.name;

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

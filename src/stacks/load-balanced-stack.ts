import { TerraformOutput } from "cdktf";
import type { Construct } from "constructs";
import { AppFleet, fleetNamePrefix } from "../constructs/app-fleet";
import { Database } from "../constructs/database";
import { LoadBalancer } from "../constructs/load-balancer";
import { SecurityGroupLink } from "../constructs/security-group-link";
import { SiteDomain } from "../constructs/site-domain";
import { hostedZoneOf } from "../config/rules";
import { bootTimeoutSeconds } from "../userdata/boot-script";
import { addAppIdentity, addAppRelease, appBootScript, appHost } from "./app-wiring";
import { ssmCommandForGroup } from "./connect";
import { addDatabaseOutputs, databaseProps, rdsDatabaseWiring } from "./database-wiring";
import { EnvironmentStack, type EnvironmentStackProps } from "./environment-stack";
import { addMonitoring } from "./monitoring-wiring";

/**
 * Layout `load-balanced`: an internet-facing ALB in the public subnets of every AZ, app servers
 * in an Auto Scaling group across the private app subnets, and RDS in the private data subnets.
 * The security groups form the chain internet -> ALB -> app -> DB. Scaling out is a change of
 * `app.count` in the environment folder.
 */
export class LoadBalancedStack extends EnvironmentStack {
  constructor(scope: Construct, id: string, props: EnvironmentStackProps) {
    super(scope, id, props);
    const { env, naming, network } = this;

    const database = new Database(this, "Database", databaseProps(this));
    // With a domain (and no certificate of the user's own), ACM issues one for it, validated in
    // the zone; the HTTPS listener is created only once it is issued.
    const domain = env.domain
      ? new SiteDomain(this, "Domain", {
          naming,
          name: env.domain.name,
          hostedZone: hostedZoneOf(env.domain),
          certificate: env.loadBalancer.https && env.loadBalancer.certificateArn === undefined,
        })
      : undefined;
    const loadBalancer = new LoadBalancer(this, "LoadBalancer", {
      naming,
      vpcId: network.vpcId,
      subnetIds: network.publicSubnets.ids,
      internetRoute: network.internetRoute,
      targetPort: env.app.port,
      healthCheckPath: env.app.healthCheckPath,
      certificateArn: env.loadBalancer.https ? (env.loadBalancer.certificateArn ?? domain?.certificateArn) : undefined,
      deletionProtection: env.loadBalancer.deletionProtection,
      accessLogs: env.loadBalancer.accessLogs,
      // Outside production a destroy takes the logs with it; production's logs outlive a destroy.
      forceDestroyLogs: !env.production,
    });
    const release = addAppRelease(this);
    const wiring = rdsDatabaseWiring(this, database);
    const identity = addAppIdentity(this, release, {
      database: wiring.access,
      launchHook: {
        region: env.region,
        groupNamePrefix: fleetNamePrefix(naming),
        groupNameTag: naming.tags("app").Name,
      },
    });

    // ---- Security group chain: internet -> ALB (in LoadBalancer) -> app -> DB ----
    new SecurityGroupLink(this, "AlbToApp", {
      fromSecurityGroupId: loadBalancer.securityGroupId,
      toSecurityGroupId: identity.securityGroupId,
      port: env.app.port,
      description: "HTTP from the load balancer to the app servers",
    });
    const appToDatabase = new SecurityGroupLink(this, "AppToDatabase", {
      fromSecurityGroupId: identity.securityGroupId,
      toSecurityGroupId: database.securityGroupId,
      port: database.port,
      description: `${env.database.engine} from the app servers`,
    });

    const host = appHost(this, release, wiring.host, true);
    const fleet = new AppFleet(this, "AppFleet", {
      naming,
      tags: this.sharedTags,
      subnetIds: network.privateAppSubnets.ids,
      instanceType: env.app.instanceType,
      imageId: identity.imageId,
      securityGroupId: identity.securityGroupId,
      instanceProfileName: identity.instanceProfileName,
      keyName: identity.keyName,
      // The version is in the user data: a new app.version is a new launch template version,
      // which the group rolls out as an instance refresh.
      userData: appBootScript(this, release, { autoScaling: true, host }),
      bootTimeoutSeconds: bootTimeoutSeconds(host),
      count: env.app.count,
      targetGroupArns: [loadBalancer.targetGroupArn],
      detailedMonitoring: env.app.detailedMonitoring,
      targetCpuPercent: env.app.targetCpuPercent,
      rootVolumeGb: env.app.rootVolumeGb,
      // Each server's first boot runs the migrations: the rules to RDS exist before any boots; it
      // fetches the release through NAT: the routes out exist too.
      bootDependsOn: [
        ...network.appEgressRoutes,
        ...release.bootDependsOn,
        ...identity.permissions,
        ...wiring.bootDependsOn,
        ...appToDatabase.rules,
      ],
    });

    domain?.aliasTo("AliasRecord", { dnsName: loadBalancer.dnsName, zoneId: loadBalancer.zoneId });
    new TerraformOutput(this, "url", {
      value: `${loadBalancer.scheme}://${domain ? domain.name : loadBalancer.dnsName}`,
      description: domain ? "The site's address" : "The load balancer's address",
    });
    new TerraformOutput(this, "connect_ssm", { value: ssmCommandForGroup(env.region, fleet.autoScalingGroupName) });
    new TerraformOutput(this, "app_autoscaling_group", {
      value: fleet.autoScalingGroupName,
      description: "The app servers' group: npm run wait-rollout waits for its instance refresh",
    });
    addDatabaseOutputs(this, database);
    addMonitoring(this, { app: fleet, loadBalancer, database });
  }
}

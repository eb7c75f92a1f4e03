import { TerraformOutput } from "cdktf";
import type { Construct } from "constructs";
import { AppIdentity } from "../constructs/app-identity";
import { AppServer } from "../constructs/app-server";
import { bootScript } from "../userdata/boot-script";
import { ssmCommand, sshCommand } from "./connect";
import { EnvironmentStack, type EnvironmentStackProps } from "./environment-stack";

/**
 * Layout `single-server`: one EC2 instance in a public subnet, with an Elastic IP, running both
 * the app (behind nginx) and the database engine. The cheapest start, and a single point of
 * failure: see the README for its risks.
 */
export class SingleServerStack extends EnvironmentStack {
  constructor(scope: Construct, id: string, props: EnvironmentStackProps) {
    super(scope, id, props);
    const { env, naming, network } = this;

    const identity = new AppIdentity(this, "AppIdentity", {
      naming,
      vpcId: network.vpcId,
      ami: env.app.ami,
      architecture: env.app.architecture,
      publicPorts: [...new Set([env.app.port, 443])],
      ssh: env.access.ssh,
    });
    const server = new AppServer(this, "AppServer", {
      naming,
      subnetId: network.publicSubnets.ids[0],
      instanceType: env.app.instanceType,
      imageId: identity.imageId,
      securityGroupId: identity.securityGroupId,
      instanceProfileName: identity.instanceProfileName,
      keyName: identity.keyName,
      userData: bootScript({
        environment: env.name,
        port: env.app.port,
        healthCheckPath: env.app.healthCheckPath,
        localDatabase: env.database.engine,
      }),
      elasticIp: true,
      detailedMonitoring: env.app.detailedMonitoring,
      // The database lives on this box: protect it as the database would be.
      terminationProtection: env.database.deletionProtection,
      rootVolumeGb: env.app.rootVolumeGb,
    });

    new TerraformOutput(this, "url", { value: `http://${server.publicDns}`, description: "The server's address" });
    new TerraformOutput(this, "connect_ssm", { value: ssmCommand(env.region, server.instanceId) });
    if (identity.keyName)
      new TerraformOutput(this, "connect_ssh", { value: sshCommand(identity.keyName, server.address) });
  }
}

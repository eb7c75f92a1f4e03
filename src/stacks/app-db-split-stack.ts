import { TerraformOutput } from "cdktf";
import type { Construct } from "constructs";
import { AppIdentity } from "../constructs/app-identity";
import { AppServer } from "../constructs/app-server";
import { Database } from "../constructs/database";
import { SecurityGroupLink } from "../constructs/security-group-link";
import { bootScript } from "../userdata/boot-script";
import { ssmCommand, sshCommand } from "./connect";
import { addDatabaseOutputs, databaseProps } from "./database-wiring";
import { EnvironmentStack, type EnvironmentStackProps } from "./environment-stack";

/**
 * Layout `app-db-split`: one app server in a public subnet with an Elastic IP, and the database
 * moved to RDS in the private data subnets, reachable only from the app server's security group.
 */
export class AppDbSplitStack extends EnvironmentStack {
  constructor(scope: Construct, id: string, props: EnvironmentStackProps) {
    super(scope, id, props);
    const { env, naming, network } = this;

    const database = new Database(this, "Database", databaseProps(this));
    const identity = new AppIdentity(this, "AppIdentity", {
      naming,
      vpcId: network.vpcId,
      ami: env.app.ami,
      architecture: env.app.architecture,
      publicPorts: [...new Set([env.app.port, 443])],
      ssh: env.access.ssh,
      readableSecretArns: [database.masterSecretArn],
    });
    new SecurityGroupLink(this, "AppToDatabase", {
      fromSecurityGroupId: identity.securityGroupId,
      toSecurityGroupId: database.securityGroupId,
      port: database.port,
      description: `${env.database.engine} from the app server`,
    });
    const server = new AppServer(this, "AppServer", {
      naming,
      subnetId: network.publicSubnets.ids[0],
      instanceType: env.app.instanceType,
      imageId: identity.imageId,
      securityGroupId: identity.securityGroupId,
      instanceProfileName: identity.instanceProfileName,
      keyName: identity.keyName,
      userData: bootScript({ environment: env.name, port: env.app.port, healthCheckPath: env.app.healthCheckPath }),
      elasticIp: true,
      detailedMonitoring: env.app.detailedMonitoring,
      terminationProtection: false,
      rootVolumeGb: env.app.rootVolumeGb,
    });

    new TerraformOutput(this, "url", { value: `http://${server.publicDns}`, description: "The app server's address" });
    new TerraformOutput(this, "connect_ssm", { value: ssmCommand(env.region, server.instanceId) });
    if (identity.keyName)
      new TerraformOutput(this, "connect_ssh", { value: sshCommand(identity.keyName, server.address) });
    addDatabaseOutputs(this, database);
  }
}

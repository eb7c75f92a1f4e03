import { TerraformOutput } from "cdktf";
import { AppIdentity, type AppIdentityProps } from "../constructs/app-identity";
import { AppServer } from "../constructs/app-server";
import type { Engine } from "../config/schema";
import { bootScript } from "../userdata/boot-script";
import { ssmCommand, sshCommand } from "./connect";
import type { EnvironmentStack } from "./environment-stack";

/** The app servers' identity (security group, role, AMI, SSH) as the environment's config gives it. */
export function addAppIdentity(
  stack: EnvironmentStack,
  extra: Pick<AppIdentityProps, "publicPorts" | "readableSecretArns">,
): AppIdentity {
  const { env, naming, network } = stack;
  return new AppIdentity(stack, "AppIdentity", {
    naming,
    vpcId: network.vpcId,
    ami: env.app.ami,
    architecture: env.app.architecture,
    ssh: env.access.ssh,
    ...extra,
  });
}

/** The boot script of this environment's app servers. */
export function appBootScript(stack: EnvironmentStack, localDatabase?: Engine): string {
  const { env } = stack;
  return bootScript({
    environment: env.name,
    port: env.app.port,
    healthCheckPath: env.app.healthCheckPath,
    localDatabase,
  });
}

/**
 * The one app server of the layouts without a load balancer: in the first public subnet, with an
 * Elastic IP, and outputs for its URL and how to get onto it.
 */
export function addPublicAppServer(
  stack: EnvironmentStack,
  identity: AppIdentity,
  options: { readonly localDatabase?: Engine; readonly terminationProtection: boolean },
): AppServer {
  const { env, naming, network } = stack;
  const server = new AppServer(stack, "AppServer", {
    naming,
    subnetId: network.publicSubnets.ids[0],
    instanceType: env.app.instanceType,
    imageId: identity.imageId,
    securityGroupId: identity.securityGroupId,
    instanceProfileName: identity.instanceProfileName,
    keyName: identity.keyName,
    userData: appBootScript(stack, options.localDatabase),
    elasticIp: true,
    internetRoute: network.internetRoute,
    detailedMonitoring: env.app.detailedMonitoring,
    terminationProtection: options.terminationProtection,
    rootVolumeGb: env.app.rootVolumeGb,
  });
  new TerraformOutput(stack, "url", { value: `http://${server.publicDns}`, description: "The app server's address" });
  new TerraformOutput(stack, "connect_ssm", { value: ssmCommand(env.region, server.instanceId) });
  if (identity.keyName)
    new TerraformOutput(stack, "connect_ssh", { value: sshCommand(identity.keyName, server.address) });
  return server;
}

/** Ports a server without a load balancer in front opens to the internet. */
export function publicPorts(stack: EnvironmentStack): number[] {
  return [...new Set([stack.env.app.port, 443])];
}

import { TerraformOutput, type ITerraformDependable } from "cdktf";
import { AppDeployment } from "../constructs/app-deployment";
import { OsUpdate } from "../constructs/os-update";
import { osUpdateBootSeconds } from "../userdata/os-update-script";
import { AppIdentity, type AppIdentityProps } from "../constructs/app-identity";
import { AppServer } from "../constructs/app-server";
import { ArtifactsBucket, RELEASE_KEY } from "../constructs/artifacts-bucket";
import { ServerLogs } from "../constructs/server-logs";
import { SiteDomain } from "../constructs/site-domain";
import { hostedZoneOf } from "../config/rules";
import { appPorts, PASSIVE_HEALTH_CHECK, SERVER_PATHS, type AppDatabase, type AppHost } from "../userdata/app-host";
import { bootScript, setUpMarker } from "../userdata/boot-script";
import { DEPLOY_LOCK, DEPLOY_SCRIPT, deployTimeoutSeconds } from "../userdata/deploy-script";
import { ssmCommand, sshCommand } from "./connect";
import type { AppDatabaseWiring } from "./database-wiring";
import type { EnvironmentStack } from "./environment-stack";

/** What every layout's app servers need before they boot: the release to run and log groups. */
export interface AppRelease {
  readonly artifacts: ArtifactsBucket;
  readonly logs: ServerLogs;
  /** The servers boot after these exist. */
  readonly bootDependsOn: readonly ITerraformDependable[];
}

/**
 * The environment's release (`app.version`'s tarball, copied into the stack's folder and uploaded
 * to the artifacts bucket) and
 * the log groups its servers ship to.
 */
export function addAppRelease(stack: EnvironmentStack): AppRelease {
  const { env, naming } = stack;
  const artifacts = new ArtifactsBucket(stack, "Artifacts", {
    naming,
    release: stack.release,
    bucketParameterName: naming.path("app/artifacts-bucket"),
    forceDestroy: !env.production,
    // the project's own tags only: the environment's would take the object past S3's 10
    object: { provider: stack.objectProvider, tags: naming.defaultTags() },
  });
  const logs = new ServerLogs(stack, "ServerLogs", { naming, retentionDays: env.app.logRetentionDays });
  new TerraformOutput(stack, "artifacts_bucket", { value: artifacts.bucketName, description: "Where releases live" });
  new TerraformOutput(stack, "app_version", {
    value: env.app.version,
    description: "The release this environment runs",
  });
  return { artifacts, logs, bootDependsOn: [...artifacts.bootDependsOn, ...logs.logGroups] };
}

/** The app servers' identity (security group, role, AMI, SSH) as the environment's config gives it. */
export function addAppIdentity(
  stack: EnvironmentStack,
  release: AppRelease,
  extra: Pick<AppIdentityProps, "publicPorts" | "database" | "launchHook">,
): AppIdentity {
  const { env, naming, network } = stack;
  return new AppIdentity(stack, "AppIdentity", {
    naming,
    boundary: stack.boundary,
    metricNamespaces: stack.metricNamespaces,
    vpcId: network.vpcId,
    ami: env.app.ami,
    amiPinnedAt: env.app.amiUpdates === "pinned" ? env.app.amiPinnedAt : undefined,
    architecture: env.app.architecture,
    ssh: env.access.ssh,
    releases: {
      bucketArn: release.artifacts.bucketArn,
      bucketArnPattern: release.artifacts.bucketArnPattern,
      key: RELEASE_KEY,
      parameterArn: release.artifacts.parameterArn,
    },
    ...extra,
  });
}

/** What runs inside this environment's app servers: nginx on `app.port` over `app.processes` processes. */
export function appHost(
  stack: EnvironmentStack,
  release: AppRelease,
  database?: AppDatabase,
  /** The servers are behind the load balancer (the fleet), not reached directly. @default false */
  behindLoadBalancer = false,
): AppHost {
  const { env } = stack;
  return {
    environment: env.name,
    version: env.app.version,
    releaseSha256: stack.release.sha256,
    listenPort: env.app.port,
    behindLoadBalancer,
    healthCheckPath: env.app.healthCheckPath,
    appPorts: appPorts(env.app.processes),
    nginxUser: "nginx",
    appUser: "app",
    passiveHealthCheck: PASSIVE_HEALTH_CHECK,
    paths: SERVER_PATHS,
    artifacts: { region: env.region, bucketParameter: release.artifacts.parameterName, releaseKey: RELEASE_KEY },
    database,
  };
}

/** The boot script of this environment's app servers. */
export function appBootScript(
  stack: EnvironmentStack,
  release: AppRelease,
  options: { readonly autoScaling: boolean; readonly host: AppHost },
): string {
  return bootScript({
    host: options.host,
    logGroups: release.logs.groups,
    autoScaling: options.autoScaling ? { region: stack.env.region } : undefined,
    // A fleet is health-checked by its load balancer; a lone server probes itself (the health alarm).
    healthProbe: options.autoScaling ? undefined : { region: stack.env.region },
    metricNamespaces: stack.metricNamespaces,
  });
}

/**
 * The one app server of the layouts without a load balancer: in the first public subnet, with an
 * Elastic IP, and outputs for its URL and how to get onto it.
 */
export function addPublicAppServer(
  stack: EnvironmentStack,
  identity: AppIdentity,
  release: AppRelease,
  options: {
    readonly database: AppDatabaseWiring;
    readonly terminationProtection: boolean;
    /** What the server also needs before it boots (the rules that let it reach RDS). @default - nothing more */
    readonly bootDependsOn?: readonly ITerraformDependable[];
  },
): AppServer {
  const { env, naming, network } = stack;
  const host = appHost(stack, release, options.database.host);
  const server = new AppServer(stack, "AppServer", {
    naming,
    tags: stack.sharedTags,
    subnetId: network.publicSubnets.ids[0],
    instanceType: env.app.instanceType,
    imageId: identity.imageId,
    securityGroupId: identity.securityGroupId,
    instanceProfileName: identity.instanceProfileName,
    keyName: identity.keyName,
    userData: appBootScript(stack, release, { autoScaling: false, host }),
    elasticIp: true,
    internetRoute: network.internetRoute,
    detailedMonitoring: env.app.detailedMonitoring,
    terminationProtection: options.terminationProtection,
    rootVolumeGb: env.app.rootVolumeGb,
    bootDependsOn: [
      // in a public subnet: its route out exists before the first boot installs packages
      ...network.publicEgress,
      ...release.bootDependsOn,
      ...identity.permissions,
      ...options.database.bootDependsOn,
      ...(options.bootDependsOn ?? []),
    ],
  });
  // The server is never replaced to deploy: a new app.version reaches it through SSM.
  const deployment = new AppDeployment(stack, "AppDeployment", {
    naming,
    instanceId: server.instanceId,
    version: env.app.version,
    releaseSha256: stack.release.sha256,
    release: release.artifacts.release,
    deployCommand: `${SERVER_PATHS.appRoot}/${DEPLOY_SCRIPT}`,
    setUpMarker: setUpMarker(SERVER_PATHS),
    deployTimeoutSeconds: deployTimeoutSeconds(host),
  });
  // Its packages move to a newer Amazon Linux 2023 release only when the file names one, after the deploy.
  if (env.app.osRelease) {
    new OsUpdate(stack, "OsUpdate", {
      naming,
      server: server.instance,
      release: env.app.osRelease,
      deployLock: `${SERVER_PATHS.appRoot}/${DEPLOY_LOCK}`,
      after: deployment.association,
      bootSeconds: osUpdateBootSeconds(host),
      setUpMarker: setUpMarker(SERVER_PATHS),
    });
  }
  // A domain points at the Elastic IP (plain HTTP: a server without a load balancer has no certificate).
  const domain = env.domain
    ? new SiteDomain(stack, "Domain", { naming, name: env.domain.name, hostedZone: hostedZoneOf(env.domain) })
    : undefined;
  domain?.addressRecord("AddressRecord", server.address);
  // nginx's port, the one the security group opens (publicPorts): a URL without it would lead to a closed 80
  const port = env.app.port === 80 ? "" : `:${env.app.port}`;
  new TerraformOutput(stack, "url", {
    value: `http://${domain ? domain.name : server.publicDns}${port}`,
    description: "The app server's address",
  });
  new TerraformOutput(stack, "connect_ssm", { value: ssmCommand(env.region, server.instanceId) });
  if (identity.keyName)
    new TerraformOutput(stack, "connect_ssh", {
      value: sshCommand(identity.keyName, server.address, env.access.ssh?.publicKey !== undefined),
    });
  return server;
}

/**
 * Ports a server without a load balancer in front opens to the internet: only nginx's HTTP port.
 * 443 stays closed because nothing on such a server terminates TLS (a domain gives it an address
 * record, not a certificate); an open port with nothing behind it is only attack surface.
 */
export function publicPorts(stack: EnvironmentStack): number[] {
  return [stack.env.app.port];
}

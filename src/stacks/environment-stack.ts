import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { TerraformOutput } from "cdktf";
import type { Construct } from "constructs";
import { resolveRelease, type ReleaseArtifact } from "../artifact/releases";
import { PROJECT_ROOT } from "../project-root";
import type { EnvironmentConfig } from "../config/load";
import { Network } from "../constructs/network";
import { RoleBoundary } from "../constructs/role-boundary";
import { Naming } from "../naming";
import { metricNamespaces, type MetricNamespaces } from "../userdata/metric-namespaces";
import { addAwsProvider, addObjectProvider } from "./aws-provider";
import { addStateBackend } from "./state-backend";
import { ec2InstancesUrl } from "./console-links";
import { IndependentStack } from "./independent-stack";
import { regionWithCity } from "../config/regions";

export interface EnvironmentStackProps {
  /** The validated environment this stack deploys. */
  readonly env: EnvironmentConfig;
  /**
   * Path from this stack's Terraform working directory to the project root (for local state).
   * @default "../../.." - the project root, seen from `cdktf.out/stacks/<env>`
   */
  readonly projectRootFromStack?: string;
  /**
   * The tarball of `env.app.version` the stack uploads (`main.ts` resolves every environment's
   * before it builds a stack, so a missing release is reported with the other problems).
   * @default - rebuilt (or taken from the release cache) from this repository's releases.yaml
   */
  readonly release?: ReleaseArtifact;
  /**
   * The project's other environments whose names begin with this one's and a hyphen (`prod-eu`
   * beside `prod`): the names of their alarms and rules match this one's patterns (`shop-prod-*`),
   * so what admits this environment's by pattern excludes theirs (`neighboursOf`).
   * @default - none
   */
  readonly neighbours?: readonly string[];
}

/**
 * The ground every server layout stands on: the AWS provider for the environment's region (with
 * allowed account and shared tags), its state backend, and the network. Layout stacks extend it
 * and add their tiers (see `LAYOUT_STACKS` in layouts.ts).
 *
 * @example
 * class MyLayoutStack extends EnvironmentStack { ... }
 */
export class EnvironmentStack extends IndependentStack {
  public readonly env: EnvironmentConfig;
  public readonly naming: Naming;
  public readonly network: Network;
  /** The permissions boundary every role of the environment carries (its deploy role can raise none). */
  public readonly boundary: RoleBoundary;
  /** Path from this stack's Terraform working directory to the project root. */
  public readonly projectRootFromStack: string;
  /**
   * The tags every resource carries (`Project`, `Environment`, `ManagedBy` and the environment's
   * `tags`): the provider's default tags, which do not reach what an Auto Scaling group launches
   * or a server's volumes at creation, so those constructs take them explicitly.
   */
  public readonly sharedTags: Readonly<Record<string, string>>;
  /** The release this environment runs: `env.app.version`'s tarball. */
  public readonly release: ReleaseArtifact;
  /** The provider for S3 objects, which set their own tags (aws-provider.ts: addObjectProvider). */
  public readonly objectProvider: AwsProvider;
  /** See `EnvironmentStackProps.neighbours`. */
  public readonly neighbours: readonly string[];
  /** Where the servers publish their own metrics and the alarms read them (`monitoring.metricNamespaces`). */
  public readonly metricNamespaces: MetricNamespaces;

  constructor(scope: Construct, id: string, props: EnvironmentStackProps) {
    super(scope, id);
    const { env } = props;
    const projectRootFromStack = props.projectRootFromStack ?? "../../..";
    this.projectRootFromStack = projectRootFromStack;
    this.env = env;
    this.neighbours = props.neighbours ?? [];
    this.release = props.release ?? resolveRelease(env.app.version, { root: PROJECT_ROOT });
    this.naming = new Naming(env.project, env.name);
    this.metricNamespaces = metricNamespaces(env.project, env.name, env.monitoring.metricNamespaces);

    // ---- Provider, state ----
    this.sharedTags = this.naming.defaultTags(env.tags);
    addAwsProvider(this, { region: env.region, accountId: env.accountId, defaultTags: { ...this.sharedTags } });
    this.objectProvider = addObjectProvider(this, { region: env.region, accountId: env.accountId });
    addStateBackend(this, env.state, {
      projectRootFromStack,
      allowedAccountIds: env.accountId ? [env.accountId] : undefined,
    });

    // ---- Tiers ----
    this.boundary = new RoleBoundary(this, "RoleBoundary", { naming: this.naming });
    this.network = new Network(this, "Network", {
      naming: this.naming,
      cidr: env.network.cidr,
      region: env.region,
      availabilityZones: env.network.availabilityZones,
      natGateways: env.network.natGateways,
      flowLogs: env.network.flowLogs.enabled
        ? { retentionDays: env.network.flowLogs.retentionDays, boundary: this.boundary }
        : undefined,
    });

    // ---- Outputs ----
    new TerraformOutput(this, "vpc_id", { value: this.network.vpcId, description: "VPC id" });
    new TerraformOutput(this, "public_subnet_ids", { value: this.network.publicSubnets.ids });
    new TerraformOutput(this, "private_app_subnet_ids", { value: this.network.privateAppSubnets.ids });
    new TerraformOutput(this, "private_data_subnet_ids", { value: this.network.privateDataSubnets.ids });
    new TerraformOutput(this, "layout", { value: env.layout });
    new TerraformOutput(this, "region", {
      value: env.region,
      description: `Where this environment runs (${regionWithCity(env.region)}): pick this region in the console`,
    });
    new TerraformOutput(this, "console_instances_url", {
      value: ec2InstancesUrl(env.region, this.naming.name("app")),
      description: "The EC2 console, in this environment's region, filtered to its app servers",
    });
    if (env.exceptions.length > 0) {
      // Waived production rules stay visible in every plan and in `cdktf output`.
      new TerraformOutput(this, "policy_exceptions", {
        value: env.exceptions.map((e) => `${e.rule}: ${e.reason}`),
        description: "Production rules this environment waives, with the reason given",
      });
    }
  }
}

import { DefaultSecurityGroup } from "@cdktf/provider-aws/lib/default-security-group";
import { Eip } from "@cdktf/provider-aws/lib/eip";
import { InternetGateway } from "@cdktf/provider-aws/lib/internet-gateway";
import { NatGateway } from "@cdktf/provider-aws/lib/nat-gateway";
import { Route } from "@cdktf/provider-aws/lib/route";
import { RouteTable } from "@cdktf/provider-aws/lib/route-table";
import { RouteTableAssociation } from "@cdktf/provider-aws/lib/route-table-association";
import { Subnet } from "@cdktf/provider-aws/lib/subnet";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import { VpcEndpoint } from "@cdktf/provider-aws/lib/vpc-endpoint";
import { Token, type ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { subnetCidr, vpcCidrProblem, type SubnetTier } from "../cidr";
import { azSuffix } from "../config/regions";
import type { NatStrategy } from "../config/schema";
import type { Naming } from "../naming";
import { FlowLogs } from "./flow-logs";
import type { RoleBoundary } from "./role-boundary";

export interface NetworkProps {
  /** Builds physical names. */
  readonly naming: Naming;
  /** The VPC's IPv4 block: a literal /16 to /22 inside a private range. */
  readonly cidr: string;
  /** The VPC's region, e.g. `ap-northeast-2` (its S3 endpoint's service name). */
  readonly region: string;
  /** Concrete AZ names (at least two distinct); one subnet per tier is made in each. */
  readonly availabilityZones: readonly string[];
  /** `single`: one NAT gateway shared by all AZs; `per-az`: one in each AZ; `none`: private subnets have no egress. */
  readonly natGateways: NatStrategy;
  /**
   * VPC flow logs to CloudWatch Logs, written by a role under the environment's permissions
   * boundary; `undefined` records none.
   */
  readonly flowLogs: { readonly retentionDays: number; readonly boundary: RoleBoundary } | undefined;
}

/** The subnets of one tier, in AZ order. */
export interface TierSubnets {
  readonly ids: string[];
  readonly cidrs: string[];
}

/**
 * A VPC across the given AZs with three subnet tiers per AZ: public (ALB, NAT, a single server),
 * private app (EC2, egress through NAT) and private data (RDS, no route out of the VPC).
 *
 * Construct ids are keyed by AZ letter (`PublicA`, `AppC`), and CIDRs by the same letter, so adding
 * or dropping an AZ, or switching the NAT strategy, leaves every other resource where it is.
 * The VPC's default security group is adopted and stripped of all rules.
 *
 * @example
 * const network = new Network(this, "Network", {
 *   naming, cidr: "10.20.0.0/16", region: "ap-northeast-2", availabilityZones: ["ap-northeast-2a", "ap-northeast-2c"],
 *   natGateways: "single", flowLogs: { retentionDays: 90, boundary },
 * });
 * network.privateAppSubnets.ids; // one per AZ
 */
export class Network extends Construct {
  public readonly vpcId: string;
  public readonly vpcCidr: string;
  public readonly availabilityZones: string[];
  /** Public subnets: default route to the internet gateway. */
  public readonly publicSubnets: TierSubnets;
  /** Private app subnets: default route to a NAT gateway (unless `natGateways` is `none`). */
  public readonly privateAppSubnets: TierSubnets;
  /** Private data subnets: no route leaves the VPC. */
  public readonly privateDataSubnets: TierSubnets;
  /** NAT gateway ids, one per AZ that holds one. */
  public readonly natGatewayIds: string[];
  /**
   * The public subnets' route to the internet: depend on it for anything that needs the IGW (an
   * Elastic IP, an internet-facing load balancer, which AWS refuses in a VPC with none attached).
   */
  public readonly internetRoute: ITerraformDependable;
  /**
   * The public subnets' way out: the route to the internet gateway and each subnet's association
   * with its table (until which a subnet has the VPC's main table, with the local route only). A
   * server there depends on them, or its first boot could run before it can install packages.
   */
  public readonly publicEgress: readonly ITerraformDependable[];
  /**
   * The private app subnets' way out through NAT and to S3 (none without NAT gateways): their
   * routes, their associations with those tables, and the public route the NAT gateways forward
   * through. Servers there depend on them, or the first boot could run before it can fetch the
   * release.
   */
  public readonly appEgressRoutes: readonly ITerraformDependable[];

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const { naming, cidr, natGateways } = props;
    const azs = [...props.availabilityZones];

    // ---- Invariants: the CIDR plan and AZ spread must be concrete at synth time ----
    if (Token.isUnresolved(cidr)) {
      throw new Error(`Network: cidr must be a literal CIDR block, not a token (got ${cidr})`);
    }
    const cidrProblem = vpcCidrProblem(cidr);
    if (cidrProblem) throw new Error(`Network: cidr ${cidrProblem}`);
    if (azs.some((az) => Token.isUnresolved(az)) || new Set(azs).size < 2 || new Set(azs).size !== azs.length) {
      throw new Error(
        `Network: availabilityZones must list at least 2 distinct availability zones (got ${JSON.stringify(azs)})`,
      );
    }

    const vpc = new Vpc(this, "Vpc", {
      cidrBlock: cidr,
      enableDnsSupport: true,
      enableDnsHostnames: true,
      tags: naming.tags("vpc"),
    });
    this.vpcId = vpc.id;
    this.vpcCidr = cidr;
    this.availabilityZones = azs;

    // Adopting the default SG with no rule blocks makes Terraform remove every rule AWS put in it,
    // so nothing can use it by accident (CIS AWS 5.4).
    new DefaultSecurityGroup(this, "DefaultSecurityGroup", {
      vpcId: vpc.id,
      ingress: [],
      egress: [],
      tags: naming.tags("default-unused"),
    });

    // One subnet per AZ for a tier; the CIDR is computed once and both used and exposed.
    const subnets = (tier: SubnetTier): { list: Subnet[]; tier: TierSubnets } => {
      const cidrs = azs.map((az) => subnetCidr(cidr, tier, az));
      const list = azs.map(
        (az, i) =>
          new Subnet(this, `${pascal(tier)}${azSuffix(az).toUpperCase()}`, {
            vpcId: vpc.id,
            availabilityZone: az,
            cidrBlock: cidrs[i],
            // Nothing gets a public IP by accident; a public server gets an Elastic IP on purpose.
            mapPublicIpOnLaunch: false,
            tags: { ...naming.tags(tier, az), Tier: tier },
          }),
      );
      return { list, tier: { ids: list.map((s) => s.id), cidrs } };
    };
    const { list: publicSubnets, tier: publicTier } = subnets("public");
    const { list: appSubnets, tier: appTier } = subnets("app");
    const { list: dataSubnets, tier: dataTier } = subnets("data");
    this.publicSubnets = publicTier;
    this.privateAppSubnets = appTier;
    this.privateDataSubnets = dataTier;

    // ---- Public tier: one route table, default route to the internet gateway ----
    const igw = new InternetGateway(this, "InternetGateway", { vpcId: vpc.id, tags: naming.tags("igw") });
    const publicRoutes = new RouteTable(this, "PublicRouteTable", { vpcId: vpc.id, tags: naming.tags("public") });
    this.internetRoute = new Route(this, "PublicDefaultRoute", {
      routeTableId: publicRoutes.id,
      destinationCidrBlock: "0.0.0.0/0",
      gatewayId: igw.id,
    });
    const publicAssociations = azs.map(
      (az, i) =>
        new RouteTableAssociation(this, `PublicRouteTableAssociation${azSuffix(az).toUpperCase()}`, {
          subnetId: publicSubnets[i].id,
          routeTableId: publicRoutes.id,
        }),
    );
    this.publicEgress = [this.internetRoute, ...publicAssociations];

    // ---- NAT gateways: in the first AZ only (single) or in every AZ (per-az) ----
    const natAzs = natGateways === "per-az" ? azs : natGateways === "single" ? [azs[0]] : [];
    const nats = new Map<string, NatGateway>();
    for (const az of natAzs) {
      const letter = azSuffix(az).toUpperCase();
      const eip = new Eip(this, `NatEip${letter}`, { domain: "vpc", tags: naming.tags("nat", az) });
      nats.set(
        az,
        new NatGateway(this, `Nat${letter}`, {
          allocationId: eip.allocationId,
          subnetId: publicSubnets[azs.indexOf(az)].id,
          connectivityType: "public",
          tags: naming.tags("nat", az),
          dependsOn: [igw], // a NAT gateway cannot pass traffic before the IGW is attached
        }),
      );
    }
    this.natGatewayIds = [...nats.values()].map((n) => n.id);

    // ---- Private app tier: a route table per AZ, default route to the NAT in that AZ (or the shared one) ----
    const appEgressRoutes: ITerraformDependable[] = [];
    const appTables: RouteTable[] = [];
    azs.forEach((az, i) => {
      const letter = azSuffix(az).toUpperCase();
      const table = new RouteTable(this, `AppRouteTable${letter}`, { vpcId: vpc.id, tags: naming.tags("app", az) });
      appTables.push(table);
      const nat = nats.get(az) ?? nats.get(natAzs[0]);
      if (nat) {
        appEgressRoutes.push(
          new Route(this, `AppDefaultRoute${letter}`, {
            routeTableId: table.id,
            destinationCidrBlock: "0.0.0.0/0",
            natGatewayId: nat.id,
          }),
        );
      }
      const association = new RouteTableAssociation(this, `AppRouteTableAssociation${letter}`, {
        subnetId: appSubnets[i].id,
        routeTableId: table.id,
      });
      if (nat) appEgressRoutes.push(association);
    });
    // a NAT gateway forwards through the public subnets' route to the internet gateway
    if (nats.size > 0) appEgressRoutes.push(...this.publicEgress);

    // S3 through a gateway endpoint, where the private app servers go out through NAT: their S3
    // traffic (releases, Amazon Linux's package repositories) stays off NAT, which charges for
    // every GB it passes, and a NAT gateway down stops no download. A gateway endpoint costs
    // nothing. Its policy is AWS's default (full access): the servers' role limits what they
    // reach, and a narrower one would have to name AWS's own repository buckets.
    if (nats.size > 0) {
      appEgressRoutes.push(
        new VpcEndpoint(this, "S3Endpoint", {
          vpcId: vpc.id,
          serviceName: `com.amazonaws.${props.region}.s3`,
          vpcEndpointType: "Gateway",
          routeTableIds: appTables.map((t) => t.id),
          tags: naming.tags("s3"),
        }),
      );
    }
    this.appEgressRoutes = appEgressRoutes;

    // ---- Private data tier: explicit route table with only the VPC-local route ----
    const dataRoutes = new RouteTable(this, "DataRouteTable", { vpcId: vpc.id, tags: naming.tags("data") });
    azs.forEach((az, i) => {
      new RouteTableAssociation(this, `DataRouteTableAssociation${azSuffix(az).toUpperCase()}`, {
        subnetId: dataSubnets[i].id,
        routeTableId: dataRoutes.id,
      });
    });

    if (props.flowLogs) {
      const { retentionDays, boundary } = props.flowLogs;
      new FlowLogs(this, "FlowLogs", { naming, vpcId: vpc.id, retentionDays, boundary });
    }
  }
}

function pascal(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

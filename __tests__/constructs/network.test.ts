import { DefaultSecurityGroup } from "@cdktf/provider-aws/lib/default-security-group";
import { FlowLog } from "@cdktf/provider-aws/lib/flow-log";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import { Testing, TerraformStack } from "cdktf";
import { cidrContains, cidrsOverlap } from "../../src/cidr";
import { Network, type NetworkProps } from "../../src/constructs/network";
import { RoleBoundary } from "../../src/constructs/role-boundary";
import { Naming } from "../../src/naming";
import { Synthesized } from "../helpers";

const AZS3 = ["ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c"];

const synthesized = new Map<string, string>();

/** Network's props as the tests give them: flow logs without the boundary, which the stack makes. */
type Overrides = Partial<Omit<NetworkProps, "flowLogs">> & { flowLogs?: { retentionDays: number } };

/**
 * The synthesized JSON of a Network with test defaults (3 AZs, per-AZ NAT, no flow logs), built
 * once per set of props (overrides that restate a default give the same props): the tests only
 * read it.
 */
function networkJson(overrides: Overrides = {}): string {
  const props = {
    cidr: "10.30.0.0/16",
    region: "ap-northeast-2",
    availabilityZones: AZS3,
    natGateways: "per-az" as const,
    flowLogs: undefined,
    ...overrides,
  };
  const key = JSON.stringify(props);
  const known = synthesized.get(key);
  if (known !== undefined) return known;
  const json = Testing.synthScope((scope) => {
    const naming = new Naming("shop", "test");
    const boundary = props.flowLogs && new RoleBoundary(scope, "RoleBoundary", { naming });
    const flowLogs = props.flowLogs && boundary && { ...props.flowLogs, boundary };
    new Network(scope, "Network", { naming, ...props, flowLogs });
  });
  synthesized.set(key, json);
  return json;
}

function network(overrides: Overrides = {}): Synthesized {
  return new Synthesized(networkJson(overrides));
}

/** The route tables associated with each subnet, by subnet resource name. */
function routeTableOf(json: Synthesized, subnetName: string) {
  const association = json
    .resources("aws_route_table_association")
    .filter((a) => a.values.subnet_id === `\${aws_subnet.${subnetName}.id}`);
  expect(association).toHaveLength(1);
  return json.referenced(association[0].values.route_table_id);
}

function defaultRoutesOf(json: Synthesized, tableName: string) {
  return json
    .resources("aws_route")
    .filter((r) => r.values.route_table_id === `\${aws_route_table.${tableName}.id}`)
    .map((r) => r.values);
}

describe("Network", () => {
  test("a VPC with DNS support and hostnames, for RDS endpoints and SSM", () => {
    expect(networkJson({ cidr: "10.0.0.0/16", natGateways: "none" })).toHaveResourceWithProperties(Vpc, {
      cidr_block: "10.0.0.0/16",
      enable_dns_support: true,
      enable_dns_hostnames: true,
    });
  });

  test.each([2, 3, 4])("with %i AZs: one public, one app and one data subnet in each AZ", (count) => {
    const azs = ["ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c", "ap-northeast-2d"].slice(0, count);
    const json = network({ availabilityZones: azs });
    const subnets = json.resources("aws_subnet");
    expect(subnets).toHaveLength(3 * count);
    for (const tier of ["public", "app", "data"]) {
      const ofTier = subnets.filter((s) => s.values.tags.Tier === tier);
      expect(ofTier.map((s) => s.values.availability_zone).sort()).toEqual(azs);
    }
  });

  test("subnet CIDRs lie inside the VPC and are pairwise disjoint", () => {
    const json = network({ availabilityZones: [...AZS3, "ap-northeast-2d"] });
    const cidrs = json.resources("aws_subnet").map((s) => s.values.cidr_block as string);
    expect(cidrs.filter((c) => !cidrContains("10.30.0.0/16", c))).toEqual([]);
    const overlapping = cidrs.flatMap((a, i) =>
      cidrs
        .slice(i + 1)
        .filter((b) => cidrsOverlap(a, b))
        .map((b) => `${a} ~ ${b}`),
    );
    expect(overlapping).toEqual([]);
  });

  test("no subnet hands out public IPs on launch", () => {
    const json = network();
    expect(json.resources("aws_subnet").every((s) => s.values.map_public_ip_on_launch === false)).toBe(true);
  });

  test("public subnets route 0.0.0.0/0 to the internet gateway", () => {
    const json = network();
    const igw = json.resources("aws_internet_gateway");
    expect(igw).toHaveLength(1);
    for (const subnet of json.resources("aws_subnet").filter((s) => s.values.tags.Tier === "public")) {
      const table = routeTableOf(json, subnet.name);
      expect(defaultRoutesOf(json, table.name)).toEqual([
        expect.objectContaining({
          destination_cidr_block: "0.0.0.0/0",
          gateway_id: `\${aws_internet_gateway.${igw[0].name}.id}`,
        }),
      ]);
    }
  });

  test("per-az: one NAT gateway with an Elastic IP in each AZ's public subnet, and each app subnet routes to its own AZ's NAT", () => {
    const json = network({ natGateways: "per-az" });
    const nats = json.resources("aws_nat_gateway");
    expect(nats).toHaveLength(3);
    expect(json.countOf("aws_eip")).toBe(3);
    for (const nat of nats) {
      const subnet = json.referenced(nat.values.subnet_id);
      expect(subnet.values.tags.Tier).toBe("public");
      expect(json.referenced(nat.values.allocation_id).values.domain).toBe("vpc");
    }
    for (const subnet of json.resources("aws_subnet").filter((s) => s.values.tags.Tier === "app")) {
      const routes = defaultRoutesOf(json, routeTableOf(json, subnet.name).name);
      expect(routes).toHaveLength(1);
      expect(routes[0].destination_cidr_block).toBe("0.0.0.0/0");
      const natSubnet = json.referenced(json.referenced(routes[0].nat_gateway_id).values.subnet_id);
      expect(natSubnet.values.availability_zone).toBe(subnet.values.availability_zone);
    }
  });

  test("single: one NAT gateway in the first AZ, shared by every app subnet", () => {
    const json = network({ natGateways: "single" });
    const nats = json.resources("aws_nat_gateway");
    expect(nats).toHaveLength(1);
    expect(json.countOf("aws_eip")).toBe(1);
    expect(json.referenced(nats[0].values.subnet_id).values.availability_zone).toBe("ap-northeast-2a");
    const targets = json
      .resources("aws_subnet")
      .filter((s) => s.values.tags.Tier === "app")
      .map((s) => defaultRoutesOf(json, routeTableOf(json, s.name).name)[0]?.nat_gateway_id);
    expect(targets).toEqual(Array(3).fill(`\${aws_nat_gateway.${nats[0].name}.id}`));
  });

  test("none: no NAT gateway and no route out of the app subnets", () => {
    const json = network({ natGateways: "none" });
    expect(json.countOf("aws_nat_gateway")).toBe(0);
    expect(json.countOf("aws_eip")).toBe(0);
    for (const subnet of json.resources("aws_subnet").filter((s) => s.values.tags.Tier === "app")) {
      expect(defaultRoutesOf(json, routeTableOf(json, subnet.name).name)).toEqual([]);
    }
  });

  test("behind NAT, the app subnets reach S3 through a gateway endpoint of the VPC's region (no NAT charge per GB, no NAT in the way of a download); the data subnets do not, and without NAT there is none", () => {
    for (const natGateways of ["single", "per-az"] as const) {
      const json = network({ natGateways });
      const endpoints = json.resources("aws_vpc_endpoint");
      expect(endpoints.map((e) => e.values)).toEqual([
        expect.objectContaining({
          service_name: "com.amazonaws.ap-northeast-2.s3",
          vpc_endpoint_type: "Gateway",
          vpc_id: `\${aws_vpc.${json.resources("aws_vpc")[0].name}.id}`,
        }),
      ]);
      // AWS's default policy (full access): no policy to name AWS's own repository buckets in
      expect(endpoints[0].values.policy).toBeUndefined();
      const tier = (name: string) =>
        json
          .resources("aws_subnet")
          .filter((s) => s.values.tags.Tier === name)
          .map((s) => `\${aws_route_table.${routeTableOf(json, s.name).name}.id}`);
      expect([...endpoints[0].values.route_table_ids].sort()).toEqual([...new Set(tier("app"))].sort());
      expect(tier("app")).toHaveLength(3);
      for (const data of tier("data")) expect(endpoints[0].values.route_table_ids).not.toContain(data);
    }
    expect(network({ natGateways: "none" }).countOf("aws_vpc_endpoint")).toBe(0);
  });

  test("data subnets have no route out of the VPC, whatever the NAT strategy", () => {
    for (const natGateways of ["single", "per-az", "none"] as const) {
      const json = network({ natGateways });
      for (const subnet of json.resources("aws_subnet").filter((s) => s.values.tags.Tier === "data")) {
        expect(defaultRoutesOf(json, routeTableOf(json, subnet.name).name)).toEqual([]);
      }
    }
  });

  test("the NAT gateway waits for the internet gateway", () => {
    const json = network({ natGateways: "single" });
    const igw = json.resources("aws_internet_gateway")[0];
    expect(json.resources("aws_nat_gateway")[0].values.depends_on).toEqual([`aws_internet_gateway.${igw.name}`]);
  });

  test("the VPC's default security group is adopted with no rules at all", () => {
    const synthesized = networkJson({ cidr: "10.0.0.0/16", natGateways: "none" });
    expect(synthesized).toHaveResourceWithProperties(DefaultSecurityGroup, { ingress: [], egress: [] });
  });

  test("dropping an AZ or switching the NAT strategy keeps every other subnet's address and CIDR", () => {
    // given the same network with AZs a, b, c and then with a, c and a single NAT
    const before = network({ availabilityZones: AZS3, natGateways: "per-az" }).resources("aws_subnet");
    const after = network({
      availabilityZones: ["ap-northeast-2a", "ap-northeast-2c"],
      natGateways: "single",
    }).resources("aws_subnet");
    // then every subnet that remains keeps its Terraform address and its CIDR
    const key = (s: { name: string; values: Record<string, any> }) => `${s.name} ${s.values.cidr_block}`;
    expect(before.map(key)).toEqual(expect.arrayContaining(after.map(key)));
    expect(after).toHaveLength(6);
  });

  test("the NAT gateway of AZ a keeps its address when switching single <-> per-az", () => {
    const single = network({ natGateways: "single" })
      .resources("aws_nat_gateway")
      .map((n) => n.name);
    const perAz = network({ natGateways: "per-az" })
      .resources("aws_nat_gateway")
      .map((n) => n.name);
    expect(perAz).toEqual(expect.arrayContaining(single));
  });

  test("flow logs: all traffic to a log group with the configured retention, via a role only VPC Flow Logs can assume", () => {
    const json = network({ flowLogs: { retentionDays: 365 } });
    const flowLog = json.resources("aws_flow_log");
    expect(flowLog).toHaveLength(1);
    expect(flowLog[0].values).toMatchObject({ traffic_type: "ALL", log_destination_type: "cloud-watch-logs" });
    expect(json.referenced(flowLog[0].values.vpc_id).type).toBe("aws_vpc");
    const group = json.referenced(flowLog[0].values.log_destination);
    expect(group.values.retention_in_days).toBe(365);
    const trust = json.named("aws_iam_policy_document", "TrustPolicy", true);
    expect(trust.values.statement[0]).toMatchObject({
      actions: ["sts:AssumeRole"],
      principals: [{ type: "Service", identifiers: ["vpc-flow-logs.amazonaws.com"] }],
      condition: [
        expect.objectContaining({ test: "StringEquals", variable: "aws:SourceAccount" }),
        // and only a flow log of this account (confused deputy): AWS's documented pair of conditions
        expect.objectContaining({
          test: "ArnLike",
          variable: "aws:SourceArn",
          values: [
            expect.stringMatching(/^arn:aws:ec2:\*:\$\{data\.aws_caller_identity\.\w+\.account_id\}:vpc-flow-log\/\*$/),
          ],
        }),
      ],
    });
    const write = json.named("aws_iam_policy_document", "WritePolicy", true);
    expect(write.values.statement[0].resources).toEqual([`\${aws_cloudwatch_log_group.${group.name}.arn}:*`]);
    // created after the role may write, which nothing else orders (review DO)
    const [rolePolicy] = json.resources("aws_iam_role_policy");
    expect(json.referenced(rolePolicy.values.policy).name).toBe(write.name);
    expect(flowLog[0].values.depends_on).toEqual([`aws_iam_role_policy.${rolePolicy.name}`]);
    // and the lookup of its group AWS's documented policy grants, names only, in this account
    expect(write.values.statement[1]).toMatchObject({
      actions: ["logs:DescribeLogGroups"],
      resources: [
        expect.stringMatching(/^arn:aws:logs:\*:\$\{data\.aws_caller_identity\.[^}]+\.account_id\}:log-group:\*$/),
      ],
    });
  });

  test("no flow logs unless asked", () => {
    expect(networkJson({ cidr: "10.0.0.0/16", natGateways: "none" })).not.toHaveResource(FlowLog);
  });

  test.each([
    [
      { availabilityZones: ["ap-northeast-2a"] },
      /Network: availabilityZones must list at least 2 distinct availability zones \(got \["ap-northeast-2a"\]\)/,
    ],
    [{ availabilityZones: ["ap-northeast-2a", "ap-northeast-2a"] }, /at least 2 distinct/],
    [{ cidr: "10.0.0.0/24" }, /Network: cidr must be a \/16 to \/22 block/],
  ])("rejects %p", (overrides, message) => {
    expect(() => network(overrides as Overrides)).toThrow(message);
  });

  test("rejects a CIDR that is a token rather than a literal", () => {
    const stack = new TerraformStack(Testing.app(), "s");
    const vpc = new Vpc(stack, "Other", { cidrBlock: "10.0.0.0/16" });
    expect(
      () =>
        new Network(stack, "N", {
          naming: new Naming("a", "b"),
          cidr: vpc.cidrBlock,
          region: "ap-northeast-2",
          availabilityZones: AZS3,
          natGateways: "none",
          flowLogs: undefined,
        }),
    ).toThrow(/Network: cidr must be a literal CIDR block, not a token/);
  });
});

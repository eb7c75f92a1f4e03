import { resourcesOf, type StackDocument } from "../policy/types";

/**
 * Draws one synthesized stack's architecture as a Mermaid flowchart: the VPC and its CIDR, one
 * box per availability zone with its subnets (tier, name, CIDR), the internet gateway, NAT
 * gateways, the load balancer, the app servers (an Auto Scaling group or single instances), the
 * database, and the security-group chain as arrows labelled with the ports each ingress rule opens.
 *
 * Everything is read from the Terraform JSON (`cdk.tf.json`), nothing from the config, so the
 * picture is of what would be deployed. Pure: JSON in, Mermaid text out.
 *
 * @example
 * const doc = JSON.parse(fs.readFileSync("cdktf.out/stacks/prod/cdk.tf.json", "utf8"));
 * console.log(renderArchitecture(doc)); // flowchart TB ...
 */
export function renderArchitecture(doc: StackDocument): string {
  return new Drawing(doc).render();
}

/**
 * A quoted Mermaid label of one or more lines. Mermaid reads `"`, `#`, `<`, `>` and `&` inside a
 * label as syntax (string end, entity code, HTML), so each is written as its `#<code>;` entity.
 */
export function mermaidLabel(...lines: string[]): string {
  return `"${lines.map((line) => line.replace(/[#"<>&]/g, (c) => `#${c.charCodeAt(0)};`)).join("<br/>")}"`;
}

/** The order tiers are drawn in, inside each AZ. */
const TIERS = ["public", "app", "data"];
const WORLD = ["0.0.0.0/0", "::/0"];
const INTERNET = "internet";

type Values = Record<string, any>;
interface Resource {
  readonly address: string;
  readonly values: Values;
}

/** `${aws_lb.LoadBalancer_Alb_72D76F81.arn}` -> `aws_lb.LoadBalancer_Alb_72D76F81`. */
function addressOf(reference: unknown): string | undefined {
  const match = /^\$\{(aws_[a-z0-9_]+\.[A-Za-z0-9_-]+)\.[a-z0-9_]+\}$/.exec(String(reference));
  return match?.[1];
}

/** A Mermaid node id from a Terraform address: letters, digits and underscores only. */
function nodeId(address: string): string {
  return address.replace(/^aws_/, "").replace(/[^A-Za-z0-9_]/g, "_");
}

function nameOf(r: Resource): string {
  return r.values.tags?.Name ?? r.values.name ?? r.values.identifier ?? r.address;
}

class Drawing {
  private readonly lines: string[] = ["flowchart TB"];
  /** Security group address -> the node ids of the resources that carry it. */
  private readonly carriers = new Map<string, string[]>();
  private readonly groups: Map<string, Resource>;

  constructor(private readonly doc: StackDocument) {
    this.groups = new Map(this.all("aws_security_group").map((g) => [g.address, g]));
    this.rejectInlineRules();
  }

  render(): string {
    const vpcs = this.all("aws_vpc");
    if (vpcs.length !== 1) throw new Error(`diagram: expected one aws_vpc in the stack, found ${vpcs.length}`);
    const vpc = vpcs[0];
    this.node(INTERNET, `((${mermaidLabel("Internet")}))`, 1);
    this.line(1, `subgraph ${nodeId(vpc.address)}[${mermaidLabel(`VPC ${nameOf(vpc)}`, vpc.values.cidr_block)}]`);
    for (const igw of this.all("aws_internet_gateway")) {
      this.node(nodeId(igw.address), `[${mermaidLabel("Internet gateway", nameOf(igw))}]`, 2);
    }
    this.drawZones();
    this.drawLoadBalancers();
    this.drawAutoScalingGroups();
    this.drawDatabases();
    this.line(1, "end");
    for (const igw of this.all("aws_internet_gateway")) this.line(1, `${INTERNET} <--> ${nodeId(igw.address)}`);
    this.drawSecurityGroupChain();
    return `${this.lines.join("\n")}\n`;
  }

  // ---- Zones: subnets, and what sits in exactly one subnet (NAT gateways, instances) ----

  private drawZones(): void {
    const subnets = this.all("aws_subnet").sort(
      (a, b) =>
        TIERS.indexOf(a.values.tags?.Tier) - TIERS.indexOf(b.values.tags?.Tier) || nameOf(a).localeCompare(nameOf(b)),
    );
    const zones = [...new Set(subnets.map((s) => String(s.values.availability_zone)))].sort();
    const inSubnet = [
      ...this.all("aws_nat_gateway").map((n) => ({
        subnet: addressOf(n.values.subnet_id),
        id: nodeId(n.address),
        label: mermaidLabel("NAT gateway", nameOf(n)),
      })),
      ...this.all("aws_instance").map((i) => ({
        subnet: addressOf(i.values.subnet_id),
        id: this.carry(i, i.values.vpc_security_group_ids),
        label: mermaidLabel(
          "EC2 instance",
          nameOf(i),
          [i.values.instance_type, this.hasElasticIp(i) ? "Elastic IP" : undefined].filter(Boolean).join(", "),
          ...this.groupLines(i.values.vpc_security_group_ids),
        ),
      })),
    ];
    for (const zone of zones) {
      this.line(2, `subgraph ${nodeId(`az_${zone}`)}[${mermaidLabel(zone)}]`);
      const inZone = subnets.filter((s) => s.values.availability_zone === zone);
      for (const subnet of inZone) {
        const tier = subnet.values.tags?.Tier ?? "subnet";
        const id = nodeId(subnet.address);
        this.node(id, `[${mermaidLabel(`${tier} subnet`, nameOf(subnet), subnet.values.cidr_block)}]`, 3);
        for (const member of inSubnet.filter((m) => m.subnet === subnet.address)) {
          this.node(member.id, `[${member.label}]`, 3);
          this.line(3, `${id} -.- ${member.id}`);
        }
      }
      // an invisible chain stacks the zone's tiers in order
      if (inZone.length > 1) this.line(3, inZone.map((s) => nodeId(s.address)).join(" ~~~ "));
      this.line(2, "end");
    }
  }

  // ---- Resources that span subnets: ALB, Auto Scaling group, RDS; their label says which ----

  private drawLoadBalancers(): void {
    for (const lb of this.all("aws_lb")) {
      const listeners = this.all("aws_lb_listener")
        .filter((l) => addressOf(l.values.load_balancer_arn) === lb.address)
        .sort((a, b) => a.values.port - b.values.port)
        .map((l) => `${l.values.protocol} :${l.values.port} → ${l.values.default_action?.[0]?.type}`);
      const id = this.carry(lb, lb.values.security_groups);
      const kind = lb.values.internal ? "internal" : "internet-facing";
      this.node(
        id,
        `[${mermaidLabel(
          `Application Load Balancer (${kind})`,
          nameOf(lb),
          this.spanOf(lb.values.subnets),
          ...listeners,
          ...this.groupLines(lb.values.security_groups),
        )}]`,
        2,
      );
    }
  }

  private drawAutoScalingGroups(): void {
    for (const asg of this.all("aws_autoscaling_group")) {
      const template = this.all("aws_launch_template").find(
        (t) => t.address === addressOf(asg.values.launch_template?.id),
      );
      const id = this.carry(asg, template?.values.vpc_security_group_ids);
      const v = asg.values;
      this.node(
        id,
        `[${mermaidLabel(
          "Auto Scaling group",
          String(v.tag?.find((t: Values) => t.key === "Name")?.value ?? v.name_prefix ?? asg.address),
          this.spanOf(v.vpc_zone_identifier),
          `${template?.values.instance_type ?? "?"} × min ${v.min_size} / desired ${v.desired_capacity} / max ${v.max_size}`,
          ...this.groupLines(template?.values.vpc_security_group_ids),
        )}]`,
        2,
      );
    }
  }

  private drawDatabases(): void {
    for (const db of this.all("aws_db_instance")) {
      const v = db.values;
      const subnetGroup = this.all("aws_db_subnet_group").find((g) => g.address === addressOf(v.db_subnet_group_name));
      this.node(
        this.carry(db, v.vpc_security_group_ids),
        `[(${mermaidLabel(
          `RDS ${v.engine} ${v.engine_version}`,
          nameOf(db),
          this.spanOf(subnetGroup?.values.subnet_ids),
          `${v.instance_class}, ${v.multi_az ? "Multi-AZ" : "single-AZ"}`,
          ...this.groupLines(v.vpc_security_group_ids),
        )})]`,
        2,
      );
    }
  }

  /** `public subnets of 3 AZs`: the tier and spread of the subnets a resource is placed in. */
  private spanOf(subnetRefs: unknown): string {
    const subnets = ((subnetRefs ?? []) as unknown[])
      .map((ref) => this.all("aws_subnet").find((s) => s.address === addressOf(ref)))
      .filter((s): s is Resource => s !== undefined);
    const tiers = [...new Set(subnets.map((s) => s.values.tags?.Tier ?? "other"))].join(" and ");
    const zones = new Set(subnets.map((s) => s.values.availability_zone)).size;
    return `in ${tiers} subnets of ${zones} AZ${zones === 1 ? "" : "s"}`;
  }

  // ---- Security-group chain: one arrow per (source, target) pair, labelled with its ports ----

  private drawSecurityGroupChain(): void {
    const edges = new Map<string, { from: string; to: string; ports: string[] }>();
    const sources = new Map<string, string>(); // CIDR / prefix list nodes outside the VPC
    for (const rule of this.all("aws_vpc_security_group_ingress_rule")) {
      const v = rule.values;
      const cidr = v.cidr_ipv4 ?? v.cidr_ipv6 ?? v.prefix_list_id;
      let from: string[];
      if (v.referenced_security_group_id !== undefined) {
        from = this.nodesOf(addressOf(v.referenced_security_group_id));
      } else if (WORLD.includes(cidr)) {
        from = [INTERNET];
      } else {
        const id = nodeId(`source_${cidr}`);
        sources.set(id, String(cidr));
        from = [id];
      }
      const ports = v.ip_protocol === "-1" ? "all traffic" : portsOf(v);
      for (const source of from) {
        for (const target of this.nodesOf(addressOf(v.security_group_id))) {
          const key = `${source} ${target}`;
          const edge = edges.get(key) ?? { from: source, to: target, ports: [] };
          edge.ports.push(ports);
          edges.set(key, edge);
        }
      }
    }
    for (const [id, cidr] of [...sources].sort()) this.node(id, `((${mermaidLabel(cidr)}))`, 1);
    for (const edge of [...edges.values()].sort((a, b) => `${a.from} ${a.to}`.localeCompare(`${b.from} ${b.to}`))) {
      const ports = [...new Set(edge.ports)].sort(comparePorts);
      this.line(1, `${edge.from} -->|${mermaidLabel(ports.join(", "))}| ${edge.to}`);
    }
  }

  /** The nodes that carry a security group; a group nothing carries is drawn on its own. */
  private nodesOf(group: string | undefined): string[] {
    if (!group) throw new Error("diagram: a security group rule refers to something other than a security group");
    const carriers = this.carriers.get(group);
    if (carriers) return carriers;
    const id = nodeId(group);
    const found = this.groups.get(group);
    this.node(id, `[${mermaidLabel("Security group", found ? nameOf(found) : group)}]`, 1);
    this.carriers.set(group, [id]);
    return [id];
  }

  /** Records `resource` as carrying each of `groups`; returns its node id. */
  private carry(resource: Resource, groups: unknown): string {
    const id = nodeId(resource.address);
    for (const ref of (groups ?? []) as unknown[]) {
      const group = addressOf(ref);
      if (group) this.carriers.set(group, [...(this.carriers.get(group) ?? []), id]);
    }
    return id;
  }

  /** `SG <name>` lines for a node's label, so that a reader (and the tests) can tell the chain's links. */
  private groupLines(groups: unknown): string[] {
    return ((groups ?? []) as unknown[]).map((ref) => {
      const group = this.groups.get(addressOf(ref) ?? "");
      return `SG ${group ? nameOf(group) : String(ref)}`;
    });
  }

  private hasElasticIp(instance: Resource): boolean {
    return this.all("aws_eip").some((e) => addressOf(e.values.instance) === instance.address);
  }

  /** Inline `ingress` blocks and `aws_security_group_rule` would be invisible to the chain: refuse them. */
  private rejectInlineRules(): void {
    const inline = [...this.groups.values()].filter((g) => (g.values.ingress ?? []).length > 0);
    const legacy = this.all("aws_security_group_rule");
    if (inline.length + legacy.length > 0) {
      const where = [...inline, ...legacy].map((r) => r.address).join(", ");
      throw new Error(
        `diagram: ${where} define ingress without aws_vpc_security_group_ingress_rule; the chain is drawn from those rule resources only (STYLE.md rule 7)`,
      );
    }
  }

  private all(type: string): Resource[] {
    return resourcesOf(this.doc, type);
  }

  private node(id: string, shape: string, depth: number): void {
    this.line(depth, `${id}${shape}`);
  }

  private line(depth: number, text: string): void {
    this.lines.push(`${"  ".repeat(depth)}${text}`);
  }
}

/** `tcp 443`, or `tcp 1024-65535` for a range. */
function portsOf(rule: Values): string {
  const range = rule.from_port === rule.to_port ? `${rule.from_port}` : `${rule.from_port}-${rule.to_port}`;
  return `${rule.ip_protocol} ${range}`;
}

function comparePorts(a: string, b: string): number {
  const port = (s: string) => Number(/(\d+)/.exec(s)?.[1] ?? 0);
  return port(a) - port(b) || a.localeCompare(b);
}

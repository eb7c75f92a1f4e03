import * as fs from "node:fs";
import * as path from "node:path";
import type { EnvironmentConfig } from "../../src/config/load";
import * as os from "node:os";
import {
  architectureDoc,
  mermaidBlock,
  readmeDiagram,
  README_ENVIRONMENT,
  staleArchitectureDocs,
  withReadmeDiagram,
} from "../../src/ops/architecture-docs";
import { mermaidLabel, renderArchitecture } from "../../src/ops/diagram";
import type { StackDocument } from "../../src/policy/types";
import { SHIPPED_ENVIRONMENTS, shippedStack } from "../shipped";

// The architecture diagrams: drawn from the synthesized JSON, checked against the same JSON here,
// and the committed copies (docs/, README) checked against a fresh rendering.
const ROOT = path.join(__dirname, "..", "..");
const ENVIRONMENTS = SHIPPED_ENVIRONMENTS;
// as `npm run synth` writes them (synthesized once for every test file)
const DOCUMENTS = new Map(ENVIRONMENTS.map((env) => [env.name, shippedStack(env.name).doc as StackDocument]));
const cases = ENVIRONMENTS.map((env) => [env.name, env] as [string, EnvironmentConfig]);

// ---- Reading a diagram back ----

interface Drawn {
  /** Node id -> its label lines (entities decoded). */
  readonly labels: Map<string, string[]>;
  /** `from -->|label| to` arrows. */
  readonly arrows: Array<{ from: string; to: string; label: string }>;
}

function decode(label: string): string {
  return label.replace(/#(\d+);/g, (_, code) => String.fromCharCode(Number(code)));
}

function parseDiagram(mermaid: string): Drawn {
  const labels = new Map<string, string[]>();
  const arrows: Drawn["arrows"] = [];
  for (const line of mermaid.split("\n").map((l) => l.trim())) {
    const arrow = /^(\w+) -->\|"([^"]*)"\| (\w+)$/.exec(line);
    if (arrow) {
      arrows.push({ from: arrow[1], label: decode(arrow[2]), to: arrow[3] });
      continue;
    }
    const node = /^(\w+)(?:\(\(|\[\(|\[)"([^"]*)"(?:\)\)|\)\]|\])$/.exec(line);
    if (node) labels.set(node[1], decode(node[2]).split("<br/>"));
  }
  return { labels, arrows };
}

/** `source -> target port` per ingress rule, by security group Name (or "internet"), from the JSON. */
function rulesInJson(doc: StackDocument): string[] {
  const groupName = (ref: string) => {
    const name = /^\$\{aws_security_group\.([A-Za-z0-9_]+)\.id\}$/.exec(ref)![1];
    return doc.resource!.aws_security_group[name].tags.Name as string;
  };
  return Object.values(doc.resource?.aws_vpc_security_group_ingress_rule ?? {}).map((rule: any) => {
    const source = rule.referenced_security_group_id
      ? groupName(rule.referenced_security_group_id)
      : rule.cidr_ipv4 === "0.0.0.0/0"
        ? "internet"
        : rule.cidr_ipv4;
    return `${source} -> ${groupName(rule.security_group_id)} ${rule.ip_protocol} ${rule.from_port}`;
  });
}

/** The same, read from the diagram: each node's `SG <name>` lines, and each arrow's ports. */
function rulesInDiagram(drawn: Drawn): string[] {
  const groupsOf = (id: string) => {
    if (id === "internet") return ["internet"];
    const lines = drawn.labels.get(id) ?? [];
    const groups = lines.filter((l) => l.startsWith("SG ")).map((l) => l.slice(3));
    return groups.length > 0 ? groups : lines.slice(0, 1);
  };
  return drawn.arrows.flatMap(({ from, to, label }) =>
    groupsOf(from).flatMap((source) =>
      groupsOf(to).flatMap((target) => label.split(", ").map((ports) => `${source} -> ${target} ${ports}`)),
    ),
  );
}

const subnetCidrs = (doc: StackDocument) =>
  Object.values(doc.resource?.aws_subnet ?? {}).map((s: any) => s.cidr_block as string);

// ---- The shipped environments ----

describe("the architecture diagram of each shipped environment", () => {
  test.each(cases)("%s: shows the VPC's CIDR and every subnet's CIDR, each inside its AZ", (name) => {
    const doc = DOCUMENTS.get(name)!;
    const drawn = parseDiagram(renderArchitecture(doc));
    const mermaid = renderArchitecture(doc);
    expect(mermaid).toContain(Object.values(doc.resource!.aws_vpc)[0].cidr_block);
    const shown = [...drawn.labels.values()].flat();
    for (const cidr of subnetCidrs(doc)) expect(shown).toContain(cidr);
    for (const subnet of Object.values(doc.resource!.aws_subnet) as any[]) {
      // the subnet's node sits between its AZ's `subgraph` line and the next `end`
      const zone = mermaid.split(`subgraph az_${subnet.availability_zone.replace(/-/g, "_")}[`)[1];
      expect(zone.slice(0, zone.indexOf("\n    end"))).toContain(subnet.cidr_block);
    }
  });

  test.each(cases)("%s: its arrows are exactly the ingress rules of the security groups", (name) => {
    const doc = DOCUMENTS.get(name)!;
    const fromDiagram = rulesInDiagram(parseDiagram(renderArchitecture(doc))).sort();
    expect(fromDiagram).toEqual(rulesInJson(doc).sort());
    expect(fromDiagram.length).toBeGreaterThan(0);
  });

  test.each(cases)("%s: draws each NAT gateway, load balancer, app server group or instance and database", (name) => {
    const doc = DOCUMENTS.get(name)!;
    const labels = [...parseDiagram(renderArchitecture(doc)).labels.values()];
    const count = (type: string) => Object.keys(doc.resource?.[type] ?? {}).length;
    const drawn = (first: RegExp) => labels.filter((l) => first.test(l[0])).length;
    expect(drawn(/^NAT gateway$/)).toBe(count("aws_nat_gateway"));
    expect(drawn(/^Application Load Balancer/)).toBe(count("aws_lb"));
    expect(drawn(/^Auto Scaling group$/)).toBe(count("aws_autoscaling_group"));
    expect(drawn(/^EC2 instance$/)).toBe(count("aws_instance"));
    expect(drawn(/^RDS /)).toBe(count("aws_db_instance"));
    expect(drawn(/^Internet gateway$/)).toBe(count("aws_internet_gateway"));
  });

  test("prod: internet -> ALB on 80 and 443 -> app fleet on 80 -> Multi-AZ PostgreSQL on 5432", () => {
    const doc = DOCUMENTS.get("prod")!;
    const drawn = parseDiagram(renderArchitecture(doc));
    const labelOf = (id: string) => drawn.labels.get(id)!.join(" | ");
    const chain = drawn.arrows.map((a) => `${labelOf(a.from).split(" | ")[0]} -[${a.label}]-> ${labelOf(a.to)}`);
    expect(chain).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Internet -\[tcp 80, tcp 443\]-> Application Load Balancer \(internet-facing\)/),
        expect.stringMatching(
          new RegExp(
            `^Application Load Balancer.* -\\[tcp 80\\]-> Auto Scaling group \\| ${SHIPPED_ENVIRONMENTS[0].project}-prod-app`,
          ),
        ),
        expect.stringMatching(/^Auto Scaling group -\[tcp 5432\]-> RDS postgres 16 .*Multi-AZ/),
      ]),
    );
    const asg: any = Object.values(doc.resource!.aws_autoscaling_group)[0];
    expect(labelOf(chainNode(drawn, /^Auto Scaling group$/))).toContain(
      `min ${asg.min_size} / desired ${asg.desired_capacity} / max ${asg.max_size}`,
    );
    expect(labelOf(chainNode(drawn, /^Application Load Balancer/))).toMatch(
      /HTTPS :443 → forward.*HTTP :80 → redirect|HTTP :80 → redirect.*HTTPS :443 → forward/,
    );
  });

  test("the diagram follows the JSON: without the ALB-to-app rule, its arrow is gone", () => {
    // given prod's JSON with the ALB -> app ingress rule removed
    const doc = structuredClone(DOCUMENTS.get("prod")!) as any;
    const rules = doc.resource.aws_vpc_security_group_ingress_rule;
    const albToApp = Object.keys(rules).find((k) => k.startsWith("AlbToApp_"))!;
    delete rules[albToApp];
    // when it is drawn, then that arrow is missing and the others remain
    const fromDiagram = rulesInDiagram(parseDiagram(renderArchitecture(doc)));
    const project = SHIPPED_ENVIRONMENTS[0].project;
    expect(fromDiagram).not.toContain(`${project}-prod-alb -> ${project}-prod-app tcp 80`);
    expect(fromDiagram.sort()).toEqual(rulesInJson(doc).sort());
  });
});

function chainNode(drawn: Drawn, first: RegExp): string {
  return [...drawn.labels].find(([, lines]) => first.test(lines[0]))![0];
}

describe("the committed diagrams", () => {
  // Each docs/architecture-<env>.md is what npm run diagram writes: environments.test.ts
  // (environment-checks.ts), for every environment folder.

  test("README.md shows the prod diagram between its markers, as npm run diagram copies it", () => {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    expect(readme).toMatch(/## Architecture/);
    if (readmeDiagram(readme) !== mermaidBlock(DOCUMENTS.get(README_ENVIRONMENT)!)) {
      throw new Error("README.md's prod diagram is stale: run npm run diagram");
    }
  });

  test("no page npm run diagram wrote is left for an environment whose folder is gone", () => {
    expect(staleArchitectureDocs(ROOT, ENVIRONMENTS)).toEqual([]);
  });

  test("a page it wrote for a folder that is gone is stale, and only such a page: not a current environment's, nor one written by hand", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "diagram-stale-"));
    try {
      const dev = ENVIRONMENTS.find((env) => env.name === "dev")!;
      fs.mkdirSync(path.join(root, "docs"));
      const page = (name: string, content: string) => fs.writeFileSync(path.join(root, "docs", name), content);
      page("architecture-dev.md", architectureDoc(dev, DOCUMENTS.get("dev")!));
      page("architecture-qa.md", architectureDoc({ ...dev, name: "qa" }, DOCUMENTS.get("dev")!));
      page("architecture-notes.md", "# Architecture: notes\n\nWritten by hand, about all environments.\n");
      page("architecture.md", "# Architecture\n");
      fs.mkdirSync(path.join(root, "docs", "architecture-old.md"));
      expect(staleArchitectureDocs(root, [dev])).toEqual(["docs/architecture-qa.md"]);
      expect(staleArchitectureDocs(root, [dev, { ...dev, name: "qa" }])).toEqual([]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test("the README copy is replaced between the markers only, and missing markers are an error", () => {
    const readme = "intro\n<!-- diagram:prod:start -->\nold\n<!-- diagram:prod:end -->\noutro\n";
    expect(withReadmeDiagram(readme, "new\n")).toBe(
      "intro\n<!-- diagram:prod:start -->\nnew\n<!-- diagram:prod:end -->\noutro\n",
    );
    expect(() => withReadmeDiagram("no markers\n", "new\n")).toThrow(
      /README\.md: the markers <!-- diagram:prod:start --> and <!-- diagram:prod:end --> must enclose the diagram/,
    );
  });
});

// ---- Small hand-written stacks ----

/** A stack of one VPC with a public subnet per AZ and the given extra resources. */
function stack(extra: Record<string, Record<string, any>> = {}): StackDocument {
  return {
    resource: {
      aws_vpc: { Vpc: { cidr_block: "10.9.0.0/16", tags: { Name: "t-vpc" } } },
      aws_subnet: {
        PublicA: { availability_zone: "z-1a", cidr_block: "10.9.0.0/24", tags: { Name: "t-public-a", Tier: "public" } },
        PublicB: { availability_zone: "z-1b", cidr_block: "10.9.1.0/24", tags: { Name: "t-public-b", Tier: "public" } },
      },
      ...extra,
    },
  };
}

describe("renderArchitecture on hand-written stacks", () => {
  test("labels quote and escape the characters Mermaid would read as syntax", () => {
    expect(mermaidLabel('say "hi" <b> & #1', "[x] | (y)")).toBe('"say #34;hi#34; #60;b#62; #38; #35;1<br/>[x] | (y)"');
    const mermaid = renderArchitecture(
      stack({ aws_vpc: { Vpc: { cidr_block: "10.9.0.0/16", tags: { Name: 'odd "name" <vpc>' } } } }),
    );
    const vpcLine = mermaid.split("\n").find((l) => l.includes("subgraph vpc_"))!;
    expect(vpcLine).toContain('["VPC odd #34;name#34; #60;vpc#62;<br/>10.9.0.0/16"]');
    expect(vpcLine.match(/"/g)).toHaveLength(2); // only the label's own quotes
  });

  test("an admin CIDR becomes its own source node, and a group nothing carries is drawn on its own", () => {
    const mermaid = renderArchitecture(
      stack({
        aws_security_group: { Admin: { tags: { Name: "t-admin" } } },
        aws_vpc_security_group_ingress_rule: {
          Ssh: {
            cidr_ipv4: "203.0.113.0/24",
            ip_protocol: "tcp",
            from_port: 22,
            to_port: 22,
            security_group_id: "${aws_security_group.Admin.id}",
          },
        },
      }),
    );
    const drawn = parseDiagram(mermaid);
    expect(drawn.labels.get("source_203_0_113_0_24")).toEqual(["203.0.113.0/24"]);
    expect(drawn.labels.get("security_group_Admin")).toEqual(["Security group", "t-admin"]);
    expect(drawn.arrows).toEqual([{ from: "source_203_0_113_0_24", to: "security_group_Admin", label: "tcp 22" }]);
  });

  test("a single instance sits in its subnet's AZ and carries its group's arrows", () => {
    const mermaid = renderArchitecture(
      stack({
        aws_security_group: { App: { tags: { Name: "t-app" } } },
        aws_instance: {
          Server: {
            instance_type: "t3.micro",
            subnet_id: "${aws_subnet.PublicB.id}",
            vpc_security_group_ids: ["${aws_security_group.App.id}"],
            tags: { Name: "t-app" },
          },
        },
        aws_vpc_security_group_ingress_rule: {
          Https: {
            cidr_ipv4: "0.0.0.0/0",
            ip_protocol: "tcp",
            from_port: 443,
            to_port: 443,
            security_group_id: "${aws_security_group.App.id}",
          },
        },
      }),
    );
    const zoneB = mermaid.slice(mermaid.indexOf("subgraph az_z_1b"));
    expect(zoneB.slice(0, zoneB.indexOf("end"))).toContain(
      'instance_Server["EC2 instance<br/>t-app<br/>t3.micro<br/>SG t-app"]',
    );
    expect(parseDiagram(mermaid).arrows).toEqual([{ from: "internet", to: "instance_Server", label: "tcp 443" }]);
  });

  test("ingress written any other way than rule resources is refused, naming the resource", () => {
    const inline = stack({ aws_security_group: { Old: { ingress: [{ from_port: 22 }], tags: { Name: "t-old" } } } });
    expect(() => renderArchitecture(inline)).toThrow(
      /aws_security_group\.Old define ingress without aws_vpc_security_group_ingress_rule/,
    );
    const legacy = stack({ aws_security_group_rule: { Ssh: { type: "ingress" } } });
    expect(() => renderArchitecture(legacy)).toThrow(/aws_security_group_rule\.Ssh/);
  });

  test("a stack without exactly one VPC is refused", () => {
    expect(() => renderArchitecture({ resource: {} })).toThrow(/expected one aws_vpc in the stack, found 0/);
  });
});

import * as fs from "node:fs";
import * as path from "node:path";
import type { EnvironmentConfig } from "../src/config/load";
import { availabilityZonesOf } from "../src/config/regions";
import { tempDir, type Synthesized } from "./helpers";
import { SHIPPED_ENVIRONMENTS, shippedOutdir, shippedStack } from "./shipped";

// Every real environment folder, as `npm run synth` writes it: it loads, synthesizes, and holds the
// architecture's invariants.
const ENVIRONMENTS = SHIPPED_ENVIRONMENTS;
const byName = (name: string) => ENVIRONMENTS.find((e) => e.name === name)!;
const synthesized = new Map<string, Synthesized>(ENVIRONMENTS.map((env) => [env.name, shippedStack(env.name)]));
const cases = ENVIRONMENTS.map((env) => [env.name, env] as [string, EnvironmentConfig]);

describe("the shipped environments", () => {
  test("dev, staging and prod live in Seoul; at least one environment lives in another region", () => {
    for (const name of ["dev", "staging", "prod"]) expect(byName(name).region).toBe("ap-northeast-2");
    expect(ENVIRONMENTS.some((e) => e.region !== "ap-northeast-2")).toBe(true);
  });

  test("together they cover all three layouts, and prod is load-balanced production", () => {
    expect(new Set(ENVIRONMENTS.map((e) => e.layout))).toEqual(
      new Set(["single-server", "app-db-split", "load-balanced"]),
    );
    expect(byName("prod")).toMatchObject({ layout: "load-balanced", production: true });
    expect(ENVIRONMENTS.filter((e) => e.production).map((e) => e.name)).toEqual(["prod"]);
  });

  test.each(cases)("%s: its layout's tiers are present, and only those", (name, env) => {
    const json = synthesized.get(name)!;
    const counts = {
      instance: json.countOf("aws_instance"),
      asg: json.countOf("aws_autoscaling_group"),
      alb: json.countOf("aws_lb"),
      rds: json.countOf("aws_db_instance"),
    };
    const expected = {
      "single-server": { instance: 1, asg: 0, alb: 0, rds: 0 },
      "app-db-split": { instance: 1, asg: 0, alb: 0, rds: 1 },
      "load-balanced": { instance: 0, asg: 1, alb: 1, rds: 1 },
    }[env.layout];
    expect(counts).toEqual(expected);
  });

  test.each(cases)("%s: nothing but the internet-facing tier admits 0.0.0.0/0, and never on SSH", (name) => {
    const json = synthesized.get(name)!;
    const open = json
      .resources("aws_vpc_security_group_ingress_rule")
      .filter((r) => r.values.cidr_ipv4 === "0.0.0.0/0");
    for (const rule of open) {
      expect([80, 443]).toContain(rule.values.from_port);
      expect(rule.values.to_port).toBe(rule.values.from_port);
    }
    const db = json.resources("aws_security_group").find((g) => g.values.tags.Name.endsWith("-db"));
    if (db) {
      const dbRules = json
        .resources("aws_vpc_security_group_ingress_rule")
        .filter((r) => r.values.security_group_id === `\${aws_security_group.${db.name}.id}`);
      expect(
        dbRules.every((r) => r.values.referenced_security_group_id !== undefined && r.values.cidr_ipv4 === undefined),
      ).toBe(true);
    }
  });

  test("the quick start needs no AWS account: every environment keeps local state, each in its own file", () => {
    const paths = ENVIRONMENTS.map((e) => (e.state.backend === "local" ? e.state.path : e.state.backend));
    expect(paths).toEqual(ENVIRONMENTS.map((e) => `state/${e.name}.tfstate`));
    const written = [...synthesized.values()].map((j) => j.doc.terraform.backend.local.path);
    expect(new Set(written).size).toBe(ENVIRONMENTS.length);
  });

  test.each(cases)("%s: the provider and every subnet are in the environment's region", (name, env) => {
    const json = synthesized.get(name)!;
    expect(json.doc.provider.aws[0].region).toBe(env.region);
    const zones = json.resources("aws_subnet").map((s) => s.values.availability_zone);
    expect(zones.every((z) => availabilityZonesOf(env.region).includes(z))).toBe(true);
  });

  test.each(cases)("%s: one subnet per tier per AZ, across at least two AZs", (name, env) => {
    const json = synthesized.get(name)!;
    const azs = env.network.availabilityZones;
    expect(azs.length).toBeGreaterThanOrEqual(2);
    expect(json.countOf("aws_subnet")).toBe(3 * azs.length);
    for (const tier of ["public", "app", "data"]) {
      const spread = json.resources("aws_subnet").filter((s) => s.values.tags.Tier === tier);
      expect(new Set(spread.map((s) => s.values.availability_zone))).toEqual(new Set(azs));
    }
  });

  test.each(cases)("%s: NAT gateways follow the strategy", (name, env) => {
    const expected = { single: 1, "per-az": env.network.availabilityZones.length, none: 0 }[env.network.natGateways];
    expect(synthesized.get(name)!.countOf("aws_nat_gateway")).toBe(expected);
  });

  test.each(cases)("%s: every resource is tagged through the provider and names itself", (name, env) => {
    const json = synthesized.get(name)!;
    expect(json.doc.provider.aws[0].default_tags[0].tags).toMatchObject({
      Project: env.project,
      Environment: name,
      ManagedBy: "cdktf",
    });
    for (const type of [
      "aws_vpc",
      "aws_subnet",
      "aws_nat_gateway",
      "aws_internet_gateway",
      "aws_route_table",
      "aws_eip",
    ]) {
      for (const r of json.resources(type)) expect(r.values.tags.Name).toMatch(new RegExp(`^${env.project}-${name}-`));
    }
  });
});

describe("prod is stricter than dev", () => {
  const dev = byName("dev");
  const prod = byName("prod");

  test("prod spans three AZs with a NAT gateway in each; dev's single public server needs none", () => {
    expect(prod.network.availabilityZones.length).toBeGreaterThanOrEqual(3);
    expect(prod.network.natGateways).toBe("per-az");
    expect(synthesized.get("prod")!.countOf("aws_nat_gateway")).toBe(prod.network.availabilityZones.length);
    expect(dev.network.natGateways).toBe("none");
    expect(synthesized.get("dev")!.countOf("aws_nat_gateway")).toBe(0);
  });

  test("prod records VPC flow logs and keeps them at least a year; dev records none", () => {
    const flowLogGroup = synthesized.get("prod")!.resources("aws_cloudwatch_log_group");
    expect(synthesized.get("prod")!.countOf("aws_flow_log")).toBe(1);
    expect(flowLogGroup[0].values.retention_in_days).toBeGreaterThanOrEqual(365);
    expect(synthesized.get("dev")!.countOf("aws_flow_log")).toBe(0);
  });

  test("prod runs at least one app server per AZ behind the ALB; dev runs one box", () => {
    expect(prod.app.count.min).toBeGreaterThanOrEqual(prod.network.availabilityZones.length);
    expect(dev.app.count).toEqual({ min: 1, desired: 1, max: 1 });
  });

  test("prod's database is Multi-AZ, deletion-protected and kept from terraform destroy; staging's is not", () => {
    expect(synthesized.get("prod")!.resources("aws_db_instance")[0].values).toMatchObject({
      multi_az: true,
      deletion_protection: true,
      lifecycle: { prevent_destroy: true },
    });
    expect(
      synthesized.get("prod")!.resources("aws_db_instance")[0].values.backup_retention_period,
    ).toBeGreaterThanOrEqual(7);
    expect(synthesized.get("staging")!.resources("aws_db_instance")[0].values).toMatchObject({
      multi_az: false,
      deletion_protection: false,
    });
  });

  test("prod serves HTTPS only (HTTP redirects); staging may serve plain HTTP because it is not production", () => {
    const listeners = (name: string) =>
      synthesized
        .get(name)!
        .resources("aws_lb_listener")
        .map((l) => `${l.values.port}:${l.values.default_action[0].type}`)
        .sort();
    expect(listeners("prod")).toEqual(["443:forward", "80:redirect"]);
    expect(listeners("staging")).toEqual(["80:forward"]);
  });
});

// These need `terraform init` to download hashicorp/aws, which this workplace cannot do.
const acceptance = process.env.TF_ACC === "1";
if (!acceptance) {
  console.info("skipped: terraform validate of every environment (set TF_ACC=1 with network access to providers)");
}
(acceptance ? describe : describe.skip)("with a real terraform and provider (TF_ACC=1)", () => {
  test("every shipped environment is valid Terraform", () => {
    // the matcher runs terraform init + validate in every stack of a cdktf.out: a copy, since init writes there
    const copy = path.join(tempDir("tf-acc-"), "cdktf.out");
    fs.cpSync(shippedOutdir(), copy, { recursive: true });
    expect(copy).toBeValidTerraform();
  });
});

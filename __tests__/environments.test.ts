import * as path from "node:path";
import { Testing } from "cdktf";
import { loadEnvironments, type EnvironmentConfig } from "../src/config/load";
import { availabilityZonesOf } from "../src/config/regions";
import { LAYOUT_STACKS } from "../src/stacks/layouts";
import { synth, type Synthesized } from "./helpers";

// Every real environment folder: it loads, synthesizes, and holds the architecture's invariants.
const ENVIRONMENTS = loadEnvironments({ dir: path.join(__dirname, "..", "environments") });
const byName = (name: string) => ENVIRONMENTS.find((e) => e.name === name)!;
const stacks = new Map(
  ENVIRONMENTS.map((env) => [env.name, new LAYOUT_STACKS[env.layout](Testing.app(), env.name, { env })]),
);
const synthesized = new Map<string, Synthesized>([...stacks].map(([name, stack]) => [name, synth(stack)]));
const cases = ENVIRONMENTS.map((env) => [env.name, env] as [string, EnvironmentConfig]);

describe("the shipped environments", () => {
  test("dev, staging and prod live in Seoul; at least one environment lives in another region", () => {
    for (const name of ["dev", "staging", "prod"]) expect(byName(name).region).toBe("ap-northeast-2");
    expect(ENVIRONMENTS.some((e) => e.region !== "ap-northeast-2")).toBe(true);
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

  test("prod runs more and larger app servers than dev", () => {
    expect(prod.app.count.min).toBeGreaterThan(dev.app.count.min);
    expect(prod.app.count.min).toBeGreaterThanOrEqual(prod.network.availabilityZones.length);
    expect(prod.database.allocatedStorageGb).toBeGreaterThan(dev.database.allocatedStorageGb);
  });
});

// These need `terraform init` to download hashicorp/aws, which this workplace cannot do.
const acceptance = process.env.TF_ACC === "1";
if (!acceptance) {
  console.info("skipped: terraform validate of every environment (set TF_ACC=1 with network access to providers)");
}
(acceptance ? describe : describe.skip)("with a real terraform and provider (TF_ACC=1)", () => {
  test.each(cases)("%s is valid Terraform", (name) => {
    // fullSynth writes the stack to a directory, where the matcher runs terraform init + validate
    expect(Testing.fullSynth(stacks.get(name)!)).toBeValidTerraform();
  });
});

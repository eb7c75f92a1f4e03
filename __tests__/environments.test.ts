import * as fs from "node:fs";
import * as path from "node:path";
import { ENVIRONMENT_CHECKS, shippedProject } from "./environment-checks";
import { tempDir, type Synthesized } from "./helpers";
import { SHIPPED_ENVIRONMENTS, shippedOutdir, shippedStack } from "./shipped";

// Every real environment folder, as `npm run synth` writes it: it loads, synthesizes, and passes
// every environment-driven check (environment-checks.ts: the same checks new-environment.test.ts
// runs, in-process, on a folder copied into a temporary project).
const ENVIRONMENTS = SHIPPED_ENVIRONMENTS;
const PROJECT = shippedProject();
const byName = (name: string) => ENVIRONMENTS.find((e) => e.name === name)!;
const synthesized = new Map<string, Synthesized>(ENVIRONMENTS.map((env) => [env.name, shippedStack(env.name)]));

describe.each(ENVIRONMENTS.map((env) => env.name))("environments/%s", (name) => {
  test.each(Object.keys(ENVIRONMENT_CHECKS))("%s", (check) => {
    expect(ENVIRONMENT_CHECKS[check](byName(name), PROJECT)).toEqual([]);
  });
});

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

  // (an environment moved to S3 or HCP Terraform, as docs/state.md says to before its first
  // deploy, synthesizes without AWS all the same: a synth reads no backend)
  test("the quick start needs no AWS account: an environment on local state keeps it in a file of its own", () => {
    const local = ENVIRONMENTS.filter((e) => e.state.backend === "local");
    expect(local.map((e) => (e.state.backend === "local" ? e.state.path : undefined))).toEqual(
      local.map((e) => `state/${e.name}.tfstate`),
    );
    const written = local.map((e) => synthesized.get(e.name)!.doc.terraform.backend.local.path);
    expect(new Set(written).size).toBe(local.length);
    expect(synthesized.size).toBe(ENVIRONMENTS.length);
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

import { Testing } from "cdktf";
import { LAYOUT_STACKS } from "../../src/stacks/layouts";
import { environment, synth, type Synthesized } from "../helpers";
import { SHIPPED_ENVIRONMENTS, shippedStack } from "../shipped";

// Tearing an environment down: outside production, `terraform destroy` (cdktf destroy <env>) goes
// through, and the environment can be created and destroyed again, more than once; production
// keeps every protection. Read from the synthesized JSON; what Terraform makes of the final
// snapshot's name is checked with a real Terraform in __tests__/final-snapshot-name.test.ts.

/** What would stop `terraform destroy`, or the destroy after a re-create, with the resource named. */
function teardownBlockers(json: Synthesized): string[] {
  const all = Object.entries(json.doc.resource ?? {}).flatMap(([type, blocks]) =>
    Object.entries(blocks as Record<string, any>).map(([name, values]) => ({
      address: `${type}.${name}`,
      type,
      values,
    })),
  );
  return all.flatMap(({ address, type, values }) => {
    const found: string[] = [];
    if (values.lifecycle?.prevent_destroy === true) found.push(`${address}: prevent_destroy`);
    if (type === "aws_db_instance") {
      if (values.deletion_protection === true) found.push(`${address}: deletion_protection`);
      const name = String(values.final_snapshot_identifier ?? "");
      const kept = (values.lifecycle?.ignore_changes ?? []).includes("final_snapshot_identifier");
      if (values.skip_final_snapshot !== true && !(name.includes("timestamp()") && kept)) {
        found.push(`${address}: final snapshot ${name} is the same at every destroy`);
      }
    }
    if (type === "aws_s3_bucket" && values.force_destroy !== true) found.push(`${address}: a bucket with objects`);
    if (type === "aws_lb" && values.enable_deletion_protection === true) found.push(`${address}: deletion protection`);
    if (type === "aws_instance" && values.disable_api_termination === true)
      found.push(`${address}: termination protection`);
    return found;
  });
}

const build = (overrides: Record<string, unknown>) => {
  const env = environment("test", overrides);
  return synth(new LAYOUT_STACKS[env.layout](Testing.app(), env.name, { env }));
};

describe("outside production, an environment can be destroyed and created again, more than once", () => {
  const nonProduction = SHIPPED_ENVIRONMENTS.filter((env) => !env.production).map((env) => env.name);

  test.each(nonProduction)("environments/%s: nothing stops its destroy", (name) => {
    expect(teardownBlockers(shippedStack(name))).toEqual([]);
  });

  test("a load-balanced environment with access logs: the log bucket goes with the logs in it, as does the artifacts bucket", () => {
    const json = build({ loadBalancer: { https: false, accessLogs: true } });
    expect(json.resources("aws_s3_bucket").map((b) => [b.name.split("_")[0], b.values.force_destroy])).toEqual([
      ["Artifacts", true],
      ["LoadBalancer", true],
    ]);
    expect(teardownBlockers(json)).toEqual([]);
  });

  test("each destroy leaves a final snapshot of its own name: the database's creation time, kept after creation", () => {
    const [db] = shippedStack("staging").resources("aws_db_instance");
    expect(db.values).toMatchObject({
      skip_final_snapshot: false,
      final_snapshot_identifier: `${SHIPPED_ENVIRONMENTS[0].project}-staging-db-final-\${formatdate("YYYYMMDDhhmmss", timestamp())}`,
    });
    expect(db.values.lifecycle.ignore_changes).toContain("final_snapshot_identifier");
  });
});

describe("production stays protected", () => {
  const prod = SHIPPED_ENVIRONMENTS.filter((env) => env.production).map((env) => env.name);

  test.each(prod)("environments/%s: the database, the load balancer and every bucket refuse a destroy", (name) => {
    const json = shippedStack(name);
    expect(json.countOf("aws_s3_bucket")).toBeGreaterThan(0);
    const blockers = teardownBlockers(json);
    const db = json.resources("aws_db_instance")[0].name;
    expect(blockers).toEqual(
      expect.arrayContaining([
        `aws_db_instance.${db}: prevent_destroy`,
        `aws_db_instance.${db}: deletion_protection`,
        `aws_lb.${json.resources("aws_lb")[0].name}: deletion protection`,
        ...json.resources("aws_s3_bucket").map((b) => `aws_s3_bucket.${b.name}: a bucket with objects`),
      ]),
    );
    // and a destroy it is let through (protection turned off on purpose) still keeps a final snapshot
    expect(json.resources("aws_db_instance")[0].values.skip_final_snapshot).toBe(false);
  });
});

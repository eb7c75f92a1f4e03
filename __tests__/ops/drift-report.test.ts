import { driftReport, driftReportText } from "../../src/ops/drift-report";
import type { SynthesizedStack } from "../../src/ops/plan-json";
import { destroy, planDocument, read, unchanged, update } from "./plan-fixtures";
import { address, documentOf, loadBalanced, singleServer } from "./stacks";

// In a refresh-only plan, `resource_drift` holds each object whose refreshed value differs from the
// state of the last apply: `before` is the recorded state, `after` what AWS has now.

const prod = loadBalanced();
const prodDoc = documentOf(prod);
const group = address(prod, "aws_security_group", "Database_SecurityGroup");
const fleet = address(prod, "aws_autoscaling_group", "Group");
const database = address(prod, "aws_db_instance", "Instance");

const drift = (...entries: ReturnType<typeof update>[]) => planDocument({ resourceDrift: entries });

describe("drift report: the verdict", () => {
  test("an empty refresh is no drift: exit 0, said in plain words, with nothing to do", () => {
    const report = driftReport(drift(), prodDoc, 0);
    expect(report).toMatchObject({ exitCode: 0, drifted: [], warnings: [], notes: [] });
    const text = driftReportText(report, "prod");
    expect(text).toBe("No drift in prod: the real infrastructure matches the state of the last apply.");
  });

  test("an attribute changed in the console is drift: exit 2, the resource and each attribute with before and after", () => {
    // given someone tagged the DB security group and edited its description
    const plan = drift(
      update(
        group,
        { description: "database", tags: { Name: "shop-prod-db" } },
        { description: "database (edited)", tags: { Name: "shop-prod-db", Owner: "alice" } },
      ),
    );
    // when
    const report = driftReport(plan, prodDoc, 2);
    // then
    expect(report.exitCode).toBe(2);
    expect(report.drifted).toEqual([
      {
        address: group,
        constructPath: undefined,
        change: "changed",
        attributes: [
          { path: "description", before: '"database"', after: '"database (edited)"' },
          { path: "tags.Owner", before: "(none)", after: '"alice"' },
        ],
      },
    ]);
    const text = driftReportText(report, "prod");
    expect(text).toContain(`Drift found in prod: 1 resource(s) changed outside Terraform.\n  ~ ${group} changed:`);
    expect(text).toContain('      tags.Owner: (none) -> "alice"');
    expect(text).toMatch(
      /What to do: either adopt the change into code .* or undo it by re-applying the code \(`cdktf deploy prod`\)/,
    );
  });

  test("an update the JSON shows with no attribute difference is still drift: the JSON says something changed (review DP)", () => {
    const report = driftReport(
      drift(update(group, { description: "database" }, { description: "database" })),
      prodDoc,
      2,
    );
    expect(report.exitCode).toBe(2);
    expect(driftReportText(report, "prod")).toContain(`  ~ ${group} changed (no attribute difference shown)`);
  });

  test("a deposed object's drift (left by a create-before-destroy that failed) is reported beside the current one's, not taken for it (review DP)", () => {
    const current = update(group, { description: "database" }, { description: "database (edited)" });
    const deposed = { ...destroy(group, { description: "old" }), deposed: "0a1b2c3d" };
    const report = driftReport(drift(current, deposed as ReturnType<typeof update>), prodDoc, 2);
    expect(report.drifted.map((r) => [r.address, r.change])).toEqual([
      [group, "changed"],
      [group, "deleted"],
    ]);
  });

  test("a resource deleted outside Terraform is drift", () => {
    const report = driftReport(drift(destroy(database, { identifier: "shop-prod-db" })), prodDoc, 2);
    expect(report.exitCode).toBe(2);
    expect(driftReportText(report, "prod")).toContain(`  - ${database} was deleted outside Terraform`);
  });

  test("refresh-only resource_changes with a real action count too, once per object; data reads and no-ops do not", () => {
    const changed = update(group, { description: "a" }, { description: "b" });
    const plan = planDocument({
      resourceDrift: [changed],
      resourceChanges: [changed, unchanged(database), read("data.aws_ssm_parameter.ami")],
    });
    expect(driftReport(plan, prodDoc, 2).drifted.map((d) => d.address)).toEqual([group]);
  });

  test("sensitive values are named but never printed", () => {
    const entry = {
      ...update(database, { password: "old" }, { password: "new" }),
    };
    const plan = drift({ ...entry, change: { ...entry.change, before_sensitive: { password: true } } });
    const text = driftReportText(driftReport(plan, prodDoc, 2), "prod");
    expect(text).toContain("password: (sensitive) -> (sensitive)");
    expect(text).not.toMatch(/old|new"/);
  });
});

describe("drift report: what is set aside, and why", () => {
  test("autoscaling's desired_capacity is ignored in code: set aside with the reason, and alone it is no drift", () => {
    const plan = drift(update(fleet, { desired_capacity: 2, max_size: 4 }, { desired_capacity: 4, max_size: 4 }));
    const report = driftReport(plan, prodDoc, 2);
    expect(report.exitCode).toBe(0);
    expect(report.setAside).toEqual([
      {
        address: fleet,
        path: "desired_capacity",
        before: "2",
        after: "4",
        why: "ignored in code (lifecycle.ignore_changes)",
      },
    ]);
    // Terraform's exit code 2 is explained, not contradicted
    expect(report.warnings).toEqual([]);
    expect(report.notes).toEqual([
      "Terraform exited 2 (changes) for changes that are not drift: the set-aside attributes listed below.",
    ]);
  });

  test("the single server's AMI is ignored in code, but its instance type changed beside it is drift", () => {
    const dev = singleServer();
    const server = address(dev, "aws_instance", "Instance");
    const plan = drift(
      update(server, { ami: "ami-1", instance_type: "t3.small" }, { ami: "ami-2", instance_type: "t3.large" }),
    );
    const report = driftReport(plan, documentOf(dev), 2);
    expect(report.drifted[0].attributes.map((a) => a.path)).toEqual(["instance_type"]);
    expect(report.setAside.map((s) => s.path)).toEqual(["ami"]);
  });

  test('ignore_changes "all" sets aside every attribute; a nested entry (tags["Owner"]) only what it covers', () => {
    const stack: SynthesizedStack = {
      resource: {
        aws_s3_bucket: { Everything_1: { lifecycle: { ignore_changes: "all" } } },
        aws_vpc: { Tagged_1: { lifecycle: { ignore_changes: ['tags["Owner"]'] } } },
      },
    };
    const plan = drift(
      update("aws_s3_bucket.Everything_1", { a: 1 }, { a: 2 }),
      update("aws_vpc.Tagged_1", { tags: { Owner: "a", Team: "x" } }, { tags: { Owner: "b", Team: "y" } }),
    );
    const report = driftReport(plan, stack, 2);
    expect(report.setAside.map((s) => `${s.address} ${s.path}`)).toEqual([
      "aws_s3_bucket.Everything_1 a",
      "aws_vpc.Tagged_1 tags.Owner",
    ]);
    expect(report.drifted.map((d) => d.attributes.map((a) => a.path))).toEqual([["tags.Team"]]);
  });

  const rds = (before: Record<string, unknown>, after: Record<string, unknown>) =>
    update(
      database,
      { engine: "postgres", max_allocated_storage: 80, ...before },
      { engine: "postgres", max_allocated_storage: 80, ...after },
    );

  test.each([
    [
      "latest_restorable_time moves with every backup",
      { latest_restorable_time: "t1" },
      { latest_restorable_time: "t2" },
      true,
    ],
    ["status backing-up is routine", { status: "available" }, { status: "backing-up" }, true],
    ["status stopped is not", { status: "available" }, { status: "stopped" }, false],
    [
      "a minor upgrade 16.4 -> 16.8 is RDS's",
      { engine_version_actual: "16.4" },
      { engine_version_actual: "16.8" },
      true,
    ],
    [
      "a major upgrade 16.8 -> 17.2 is not",
      { engine_version_actual: "16.8" },
      { engine_version_actual: "17.2" },
      false,
    ],
    ["a minor downgrade is not", { engine_version_actual: "16.8" }, { engine_version_actual: "16.4" }, false],
    ["storage autoscaling 20 -> 24 GB within max 80", { allocated_storage: 20 }, { allocated_storage: 24 }, true],
    ["storage beyond max_allocated_storage is not", { allocated_storage: 20 }, { allocated_storage: 100 }, false],
    ["storage that shrank is not", { allocated_storage: 24 }, { allocated_storage: 20 }, false],
  ])("RDS: %s", (_what, before, after, expected) => {
    const report = driftReport(drift(rds(before, after)), prodDoc, 2);
    expect(report.setAside.length).toBe(expected ? 1 : 0);
    expect(report.exitCode).toBe(expected ? 0 : 2);
    if (expected) expect(report.setAside[0].why).toMatch(/^expected: /);
  });

  test("a mysql minor upgrade (8.0.39 -> 8.0.40) is expected; 8.0 -> 8.4 is a major one", () => {
    const mysql = (from: string, to: string) =>
      driftReport(
        drift(
          update(
            database,
            { engine: "mysql", engine_version_actual: from },
            { engine: "mysql", engine_version_actual: to },
          ),
        ),
        prodDoc,
        2,
      ).exitCode;
    expect(mysql("8.0.39", "8.0.40")).toBe(0);
    expect(mysql("8.0.40", "8.4.3")).toBe(2);
  });

  /** The report of a refresh that saw `address` change from `before` to `after`, against prod's stack. */
  const reportOf = (
    address: string,
    before: Record<string, unknown>,
    after: Record<string, unknown>,
    stack: SynthesizedStack = prodDoc,
  ) => driftReport(drift(update(address, before, after)), stack, 2);

  test("gp3's IOPS and throughput raised as storage autoscaling passes 400 GiB are RDS's, where the code sets neither; below 400 GiB, or lowered, they are drift (review CT)", () => {
    // (throughput in MiB/s beside the IOPS: 125 at 3,000, 500 at 12,000)
    const gp3 = (storage: number, from: number, to: number, stack?: SynthesizedStack) =>
      reportOf(
        database,
        { storage_type: "gp3", allocated_storage: storage, iops: from, storage_throughput: from / 24 },
        { storage_type: "gp3", allocated_storage: storage, iops: to, storage_throughput: to / 24 },
        stack,
      );
    const raised = gp3(400, 3000, 12000);
    expect(raised.exitCode).toBe(0);
    expect(raised.setAside.map((a) => a.path).sort()).toEqual(["iops", "storage_throughput"]);
    expect(gp3(200, 3000, 12000).exitCode).toBe(2);
    expect(gp3(400, 12000, 3000).exitCode).toBe(2);
    // raised past the baseline, or to another value than it: someone's change (review CX)
    const above = gp3(500, 12000, 40000);
    expect({ exitCode: above.exitCode, setAside: above.setAside }).toEqual({ exitCode: 2, setAside: [] });
    expect(gp3(500, 3000, 20000).exitCode).toBe(2);
    // raised to the higher baseline from a value above the lower one: someone's change first (review DP)
    expect(gp3(400, 5000, 12000).exitCode).toBe(2);
    // where the code sets the IOPS, a new value is someone's change
    const [name] = Object.keys(prodDoc.resource!.aws_db_instance);
    const setInCode: SynthesizedStack = {
      ...prodDoc,
      resource: {
        ...prodDoc.resource,
        aws_db_instance: { [name]: { ...prodDoc.resource!.aws_db_instance[name], iops: 3000 } },
      },
    };
    const inCode = gp3(400, 3000, 12000, setInCode);
    expect(inCode.exitCode).toBe(2);
    expect(inCode.setAside.map((a) => a.path)).toEqual(["storage_throughput"]);
  });

  test("an alarm e-mail subscription confirmed by its recipient is not drift; one that went back to pending is (review CT)", () => {
    const [name] = Object.keys(prodDoc.resource!.aws_sns_topic_subscription);
    const subscription = `aws_sns_topic_subscription.${name}`;
    const confirmed = reportOf(subscription, { pending_confirmation: true }, { pending_confirmation: false });
    expect(confirmed.exitCode).toBe(0);
    expect(confirmed.setAside[0].why).toMatch(/^expected: its recipient confirmed the subscription/);
    expect(reportOf(subscription, { pending_confirmation: false }, { pending_confirmation: true }).exitCode).toBe(2);
  });

  test("a subscription the refresh finds still pending is no drift, and the report names it: no alarm reaches that address (review DQ)", () => {
    const [name] = Object.keys(prodDoc.resource!.aws_sns_topic_subscription);
    const subscription = `aws_sns_topic_subscription.${name}`;
    // given the refreshed state: one subscription confirmed, one still waiting
    const plan = drift();
    const state = (plan.prior_state as any).values.root_module;
    state.resources.push(
      {
        address: subscription,
        mode: "managed",
        type: "aws_sns_topic_subscription",
        values: { endpoint: "oncall@example.com", pending_confirmation: true },
      },
      {
        address: `${subscription}_2`,
        mode: "managed",
        type: "aws_sns_topic_subscription",
        values: { endpoint: "lead@example.com", pending_confirmation: false },
      },
      // (one whose state has no such attribute is not taken for waiting: review DR)
      {
        address: `${subscription}_3`,
        mode: "managed",
        type: "aws_sns_topic_subscription",
        values: { endpoint: "ops@example.com" },
      },
    );
    const report = driftReport(plan, prodDoc, 0);
    expect(report.exitCode).toBe(0);
    expect(report.notes).toHaveLength(1);
    expect(report.notes[0]).toContain(
      `${subscription} (oncall@example.com) is still pending confirmation: no alarm reaches that address`,
    );
    expect(driftReportText(report, "prod")).toContain("Note: aws_sns_topic_subscription.");
  });

  // (the fixture has no domain: a certificate of a stack with one)
  const certificate = "aws_acm_certificate.SiteDomain_Certificate_0A1B2C3D";

  test("a certificate ACM renewed (new validity, renewal summary) is not drift; its domain changed is (review CT)", () => {
    const renewed = reportOf(
      certificate,
      {
        not_after: "2027-01-01T00:00:00Z",
        not_before: "2026-01-01T00:00:00Z",
        pending_renewal: false,
        renewal_summary: [],
      },
      {
        not_after: "2027-12-01T00:00:00Z",
        not_before: "2026-11-01T00:00:00Z",
        pending_renewal: true,
        renewal_summary: [{ renewal_status: "PENDING_AUTO_RENEWAL" }],
      },
    );
    expect(renewed.exitCode).toBe(0);
    expect(renewed.setAside).toHaveLength(4);
    // a renewal that failed, or waits for its validation, is drift: the certificate will run out (review CW)
    for (const status of ["FAILED", "PENDING_VALIDATION"]) {
      const stuck = reportOf(
        certificate,
        { pending_renewal: false, renewal_summary: [] },
        { pending_renewal: true, renewal_summary: [{ renewal_status: status, renewal_status_reason: "CAA_ERROR" }] },
      );
      expect({ status, exitCode: stuck.exitCode, setAside: stuck.setAside }).toEqual({
        status,
        exitCode: 2,
        setAside: [],
      });
    }
    // a validity that moved back is no renewal
    expect(
      reportOf(certificate, { not_after: "2027-12-01T00:00:00Z" }, { not_after: "2027-01-01T00:00:00Z" }).exitCode,
    ).toBe(2);
    expect(
      reportOf(certificate, { domain_name: "shop.example.net" }, { domain_name: "other.example.net" }).exitCode,
    ).toBe(2);
  });

  test("what a later resource of the same apply did to one made before it is not drift: a NAT gateway's Elastic IP associated, a target group put behind the load balancer, a certificate in use; moved elsewhere, it is (review CT)", () => {
    const [gateway] = Object.values(prodDoc.resource!.aws_nat_gateway) as { allocation_id: string }[];
    const eip = `aws_eip.${/^\$\{aws_eip\.([A-Za-z0-9_]+)\./.exec(gateway.allocation_id)![1]}`;
    const associated = reportOf(
      eip,
      { association_id: "", network_interface: "", private_ip: "", private_dns: null },
      {
        association_id: "eipassoc-0123",
        network_interface: "eni-0123",
        private_ip: "10.30.0.12",
        private_dns: "ip-10-30-0-12.ap-northeast-2.compute.internal",
      },
    );
    expect(associated.exitCode).toBe(0);
    expect(associated.setAside).toHaveLength(4);
    // re-associated with something else: drift
    expect(reportOf(eip, { association_id: "eipassoc-0123" }, { association_id: "eipassoc-9999" }).exitCode).toBe(2);
    // an Elastic IP no NAT gateway of the stack takes: drift
    expect(reportOf("aws_eip.Someone_Else", { association_id: "" }, { association_id: "eipassoc-1" }).exitCode).toBe(2);

    const targets = `aws_lb_target_group.${Object.keys(prodDoc.resource!.aws_lb_target_group)[0]}`;
    const [balancer] = Object.values(prodDoc.resource!.aws_lb) as { name: string }[];
    const arnOf = (name: string) =>
      `arn:aws:elasticloadbalancing:ap-northeast-2:111122223333:loadbalancer/app/${name}/0123`;
    const alb = arnOf(balancer.name);
    expect(reportOf(targets, { load_balancer_arns: [] }, { load_balancer_arns: [alb] }).exitCode).toBe(0);
    expect(reportOf(targets, { load_balancer_arns: [alb] }, { load_balancer_arns: [`${alb}9`] }).exitCode).toBe(2);
    // behind the stack's and another one too: drift (review DP)
    expect(
      reportOf(targets, { load_balancer_arns: [] }, { load_balancer_arns: [alb, arnOf("someone-else")] }).exitCode,
    ).toBe(2);
    // behind a load balancer that is not the stack's: drift (review CW)
    expect(
      reportOf(targets, { load_balancer_arns: [] }, { load_balancer_arns: [arnOf("someone-else")] }).exitCode,
    ).toBe(2);

    const eligible = (from: string, to: string) =>
      reportOf(certificate, { renewal_eligibility: from }, { renewal_eligibility: to }).exitCode;
    expect(eligible("INELIGIBLE", "ELIGIBLE")).toBe(0);
    expect(eligible("ELIGIBLE", "INELIGIBLE")).toBe(2); // no longer in use: someone took it off the listener
  });

  test("the public address of a server with an Elastic IP changes once the EIP is associated; without one it is drift", () => {
    const dev = singleServer();
    const server = address(dev, "aws_instance", "Instance");
    const plan = drift(update(server, { public_ip: "3.3.3.3" }, { public_ip: "4.4.4.4" }));
    expect(driftReport(plan, documentOf(dev), 2).exitCode).toBe(0);
    const withoutEip: SynthesizedStack = { resource: { aws_instance: { [server.split(".")[1]]: {} } } };
    expect(driftReport(plan, withoutEip, 2).exitCode).toBe(2);
  });
});

describe("drift report: the JSON decides, the detailed exit code is a cross-check", () => {
  test("detailed exit code 0 while the JSON shows drift: exit 2, with a warning saying the JSON was trusted", () => {
    const report = driftReport(drift(update(group, { description: "a" }, { description: "b" })), prodDoc, 0);
    expect(report.exitCode).toBe(2);
    expect(report.warnings).toEqual([
      expect.stringMatching(/exited 0 \(no changes\), but the plan JSON shows drift; trusting the JSON/),
    ]);
    expect(driftReportText(report, "prod")).toContain(
      "Warning: terraform plan -refresh-only -detailed-exitcode exited 0",
    );
  });

  test("detailed exit code 2 while the JSON shows nothing: exit 0, with a warning", () => {
    const report = driftReport(drift(), prodDoc, 2);
    expect(report.exitCode).toBe(0);
    expect(report.warnings).toEqual([expect.stringMatching(/exited 2 \(changes\), but the plan JSON shows no drift/)]);
  });

  test("detailed exit code 2 from output values only: exit 0, with a note naming them", () => {
    const report = driftReport(
      planDocument({ resourceDrift: [], outputChanges: { url: ["update"], layout: ["no-op"] } }),
      prodDoc,
      2,
    );
    expect(report).toMatchObject({ exitCode: 0, warnings: [], outputChanges: ["url"] });
    expect(report.notes[0]).toMatch(/output values \(url\)/);
  });
});

import * as fs from "node:fs";
import * as path from "node:path";
import { driftReport } from "../../src/ops/drift-report";
import { kindOf, parsePlanDocument } from "../../src/ops/plan-json";
import { reviewPlan } from "../../src/ops/plan-review";
import { OpsError } from "../../src/ops/terraform";
import { lockArguments, planArguments } from "../../src/ops/workflow";
import { changesDiffer, planChanges } from "../../src/ops/plan-command";
import { planDocument, read, resourceChange, unchanged, update } from "./plan-fixtures";

// fixtures/terraform-1.11.4-plan.json was WRITTEN BY A REAL TERRAFORM (1.11.4), not by hand: a
// configuration of the built-in terraform_data resource (no provider to download) was applied,
// then changed so that one resource is forgotten (a removed block with destroy = false), one
// deleted, one replaced and one kept, and the output `layout` moves from single-server to
// app-db-split; `terraform plan -out` and `terraform show -json` wrote the file. It checks that
// the hand-made fixtures (plan-fixtures.ts) have Terraform's real shape where the reviews read it.
const REAL = fs.readFileSync(path.join(__dirname, "fixtures", "terraform-1.11.4-plan.json"), "utf8");
const real = parsePlanDocument(REAL, "fixtures/terraform-1.11.4-plan.json");

describe("a plan written by Terraform 1.11.4", () => {
  test("forget is its own action, with the reason of a deleted resource", () => {
    const forgotten = real.resource_changes!.find((rc) => rc.address === "terraform_data.forgotten")!;
    expect(forgotten.change.actions).toEqual(["forget"]);
    expect(forgotten.action_reason).toBe("delete_because_no_resource_config");
    expect(real.resource_changes!.map((rc) => [rc.address, kindOf(rc.change.actions)])).toEqual([
      ["terraform_data.deleted", "delete"],
      ["terraform_data.forgotten", "forget"],
      ["terraform_data.kept", "no-op"],
      ["terraform_data.replaced", "replace"],
    ]);
  });

  test("an output's change is the change itself (no `change` key), and the fixtures build it so", () => {
    expect(real.output_changes!.layout).toMatchObject({
      actions: ["update"],
      before: "single-server",
      after: "app-db-split",
    });
    const made = planDocument({ outputChanges: { layout: { actions: ["update"], before: "a", after: "b" } } });
    expect(Object.keys(made.output_changes!.layout).sort()).toEqual(Object.keys(real.output_changes!.layout).sort());
  });

  test("the fixtures' resource changes have the keys Terraform writes", () => {
    const entry = real.resource_changes!.find((rc) => rc.address === "terraform_data.deleted")!;
    const made = resourceChange("terraform_data.deleted", ["delete"], { before: {}, action_reason: "x" });
    expect(Object.keys(made).filter((k) => !(k in entry))).toEqual([]);
    expect(Object.keys(made.change).sort()).toEqual(Object.keys(entry.change).sort());
  });

  test("the review counts it, blocks the unreviewed terraform_data deletions, and reports the forget as a forget", () => {
    const review = reviewPlan(real, {}, { environment: "dev" });
    expect(review.counts).toMatchObject({ delete: 1, forget: 1, replace: 1, unchanged: 1, other: 0 });
    expect(review.forgotten.map((c) => c.address)).toEqual(["terraform_data.forgotten"]);
    expect(review.endangered.map((c) => `${c.kind} ${c.address}`)).toEqual([
      "replace terraform_data.replaced",
      "delete terraform_data.deleted",
    ]);
  });

  test("the drift report reads its output changes (it used to expect a `change` key and threw)", () => {
    expect(driftReport(real, {}, 2).outputChanges).toEqual(["layout"]);
  });
});

describe("npm run plan's terraform arguments", () => {
  test("wait for a state lock, save the plan, and replace each --replace address on purpose", () => {
    expect(planArguments("plan.tfplan")).toEqual(["-lock-timeout=5m", "-out=plan.tfplan"]);
    expect(planArguments("plan.tfplan", ["aws_instance.AppServer_Instance_1A2B3C4D"])).toEqual([
      "-lock-timeout=5m",
      "-out=plan.tfplan",
      "-replace=aws_instance.AppServer_Instance_1A2B3C4D",
    ]);
  });

  test("a plan that will not be applied reads S3 or local state without its lock; HCP Terraform's is always waited for", () => {
    expect(lockArguments("none", { terraform: { backend: { s3: {} } } })).toEqual(["-lock=false"]);
    expect(lockArguments("none", { terraform: { backend: { local: {} } } })).toEqual(["-lock=false"]);
    expect(lockArguments("none", { terraform: { cloud: { organization: "acme" } } })).toEqual(["-lock-timeout=5m"]);
    expect(lockArguments("wait", { terraform: { backend: { s3: {} } } })).toEqual(["-lock-timeout=5m"]);
    expect(planArguments("plan.tfplan", [], ["-lock=false"])).toEqual(["-lock=false", "-out=plan.tfplan"]);
  });

  test("a --replace that is not a resource address is refused before Terraform runs", () => {
    expect(() => planArguments("plan.tfplan", ["the server"])).toThrow(OpsError);
    expect(() => planArguments("plan.tfplan", ["the server"])).toThrow(
      '--replace needs a resource address such as aws_instance.AppServer_Instance_1A2B3C4D (got "the server")',
    );
  });
});

describe("the changes a plan makes, as the deploy compares them with the reviewed plan's", () => {
  test("one line per resource changed, actions and address, sorted; no-op and read left out", () => {
    const plan = planDocument({
      resourceChanges: [
        update("aws_launch_template.App", { user_data: "a" }, { user_data: "b" }),
        unchanged("aws_vpc.Vpc"),
        read("data.aws_ami.Latest"),
        resourceChange("aws_lb_target_group.Targets", ["create", "delete"], { before: {}, after: {} }),
        resourceChange("aws_lb_target_group.Targets", ["delete"], { before: {}, deposed: "0f1e2d3c" }),
      ],
    });
    expect(planChanges(plan).map((line) => line.replace(/ \(values [0-9a-f]{12}\)$/, ""))).toEqual([
      "create+delete aws_lb_target_group.Targets",
      "delete aws_lb_target_group.Targets (deposed 0f1e2d3c)",
      "update aws_launch_template.App",
    ]);
    expect(planChanges(plan).every((line) => / \(values [0-9a-f]{12}\)$/.test(line))).toBe(true);
  });

  test("the values a change sets are in its line: another AMI between the review and the deploy is another plan; what it leaves as it is may move", () => {
    const line = (before: Record<string, unknown>, after: Record<string, unknown>, extra = {}) =>
      planChanges(
        planDocument({
          resourceChanges: [resourceChange("aws_launch_template.App", ["update"], { before, after, ...extra })],
        }),
      )[0];
    const reviewed = line({ image_id: "ami-old", name: "app" }, { image_id: "ami-new", name: "app" });
    // the same change, the same line
    expect(line({ image_id: "ami-old", name: "app" }, { image_id: "ami-new", name: "app" })).toBe(reviewed);
    // a lookup that moved meanwhile: another value set, another line
    expect(line({ image_id: "ami-old", name: "app" }, { image_id: "ami-newer", name: "app" })).not.toBe(reviewed);
    // an attribute the change leaves as it is (ignore_changes, a time AWS moves) may differ between the two plans
    expect(line({ image_id: "ami-old", name: "app2" }, { image_id: "ami-new", name: "app2" })).toBe(reviewed);
    // an attribute changed outside Terraform that the plan would put back is a change of its own
    expect(line({ image_id: "ami-old", name: "drifted" }, { image_id: "ami-new", name: "app" })).not.toBe(reviewed);
    // a sensitive value is never in the line, and a delete's line does not depend on what it deletes
    const secret = line({ password: "old" }, { password: "hunter2" }, { after_sensitive: { password: true } });
    expect(secret).not.toContain("hunter2");
    expect(line({ password: "old" }, { password: "other" }, { after_sensitive: { password: true } })).toBe(secret);
    // a known block Terraform marks [{}] in after_unknown (role_last_used, as Terraform 1.11 writes
    // it for a role whose tags change) is left as it is: AWS moving it between the plans is no change
    const role = (lastUsed: string) =>
      planChanges(
        planDocument({
          resourceChanges: [
            {
              ...resourceChange("aws_iam_role.App", ["update"]),
              change: {
                actions: ["update"],
                before: { tags: { a: "1" }, role_last_used: [{ last_used_date: lastUsed }] },
                after: { tags: { a: "2" }, role_last_used: [{ last_used_date: lastUsed }] },
                after_unknown: { tags: {}, role_last_used: [{}] },
                before_sensitive: false,
                after_sensitive: { tags: {}, role_last_used: [{}] },
              },
            },
          ],
        }),
      )[0];
    expect(role("2026-12-05T10:00:00Z")).toBe(role("2026-12-05T10:30:00Z"));
    const deleted = (before: Record<string, unknown>) =>
      planChanges(planDocument({ resourceChanges: [resourceChange("aws_db_instance.Db", ["delete"], { before })] }))[0];
    expect(deleted({ latest_restorable_time: "10:00" })).toBe(deleted({ latest_restorable_time: "10:05" }));
  });

  test("the same changes are the same plan; one more, one fewer or another action is not, each line said", () => {
    const reviewed = ["update aws_launch_template.App"];
    expect(changesDiffer(reviewed, ["update aws_launch_template.App"])).toBeUndefined();
    expect(changesDiffer(reviewed, ["update aws_launch_template.App", "delete aws_db_instance.Db"])).toBe(
      "in this plan, not in the reviewed one:\n  + delete aws_db_instance.Db",
    );
    expect(changesDiffer(reviewed, [])).toBe(
      "in the reviewed plan, not in this one:\n  - update aws_launch_template.App",
    );
    // as lists: a change made twice in one and once in the other (a deposed object's delete) differs
    expect(changesDiffer(["delete aws_x.a", "delete aws_x.a"], ["delete aws_x.a"])).toBe(
      "in the reviewed plan, not in this one:\n  - delete aws_x.a",
    );
    expect(changesDiffer(reviewed, ["delete+create aws_launch_template.App"])).toBe(
      "in this plan, not in the reviewed one:\n  + delete+create aws_launch_template.App\n" +
        "in the reviewed plan, not in this one:\n  - update aws_launch_template.App",
    );
  });
});

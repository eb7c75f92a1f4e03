import {
  DATA_HOLDING_TYPES,
  planReviewMarkdown,
  planReviewText,
  reviewPlan,
  type PlanReview,
} from "../../src/ops/plan-review";
import { create, destroy, planDocument, read, replace, resourceChange, unchanged, update } from "./plan-fixtures";
import { address, appDbSplit, documentOf, loadBalanced, singleServer } from "./stacks";

const prod = loadBalanced();
const prodDoc = documentOf(prod);
const database = address(prod, "aws_db_instance", "Instance");

describe("plan review: counting", () => {
  test("every kind of change is counted; both replace orders are replacements; no-op and read are not changes", () => {
    // given a plan with two creates, an update, a replacement of each order, a delete, no-ops and a read
    const plan = planDocument({
      resourceChanges: [
        create("aws_subnet.a"),
        create("aws_subnet.b"),
        update("aws_lb.x", { idle_timeout: 60 }, { idle_timeout: 120 }),
        replace("aws_security_group.a", [["name"]], "delete-first"),
        replace("aws_security_group.b", [["name"]], "create-first"),
        destroy("aws_route.old"),
        unchanged("aws_vpc.main"),
        unchanged("aws_internet_gateway.main"),
        read("data.aws_ssm_parameter.ami"),
      ],
    });
    // when it is reviewed
    const review = reviewPlan(plan, prodDoc);
    // then
    expect(review.counts).toEqual({ create: 2, update: 1, replace: 2, delete: 1, unchanged: 2, read: 1, other: 0 });
    expect(review.replaced.map((c) => c.address)).toEqual(["aws_security_group.a", "aws_security_group.b"]);
    expect(review.deleted.map((c) => c.address)).toEqual(["aws_route.old"]);
    expect(review.blocked).toBe(false);
  });

  test("a replacement names the attributes that force it and why; a security group holds no data", () => {
    const group = address(prod, "aws_security_group", "Database_SecurityGroup");
    const review = reviewPlan(planDocument({ resourceChanges: [replace(group, [["name"], ["vpc_id"]])] }), prodDoc);
    expect(review.replaced).toEqual([
      expect.objectContaining({
        address: group,
        forcedBy: ["name", "vpc_id"],
        reason: "an attribute cannot be changed in place",
        holdsData: [],
      }),
    ]);
    expect(review.endangered).toEqual([]);
  });

  test("creating or updating a database destroys nothing", () => {
    const plan = planDocument({
      resourceChanges: [create("aws_db_instance.New_1"), update(database, { multi_az: false }, { multi_az: true })],
    });
    expect(reviewPlan(plan, prodDoc)).toMatchObject({ endangered: [], blocked: false });
  });

  test("an action this review does not know is counted and listed, not dropped", () => {
    const review = reviewPlan(
      planDocument({ resourceChanges: [resourceChange("aws_s3_bucket.old", ["forget"])] }),
      prodDoc,
    );
    expect(review.counts.other).toBe(1);
    expect(review.unknownActions).toEqual(["aws_s3_bucket.old: forget"]);
    // on a resource that holds data, an unknown action blocks as a delete would
    expect(review.blocked).toBe(true);
    expect(review.endangered.map((c) => c.address)).toEqual(["aws_s3_bucket.old"]);
    const harmless = planDocument({ resourceChanges: [resourceChange("aws_security_group.old", ["forget"])] });
    expect(reviewPlan(harmless, prodDoc).blocked).toBe(false);
  });
});

describe("plan review: the destroy guard", () => {
  test.each(Object.entries(DATA_HOLDING_TYPES))(
    "deleting a %s (%s) is flagged and blocked unless --allow-destroy",
    (type, what) => {
      const plan = planDocument({ resourceChanges: [destroy(`${type}.Thing_1234ABCD`)] });
      const blocked = reviewPlan(plan, prodDoc);
      expect(blocked.endangered).toEqual([expect.objectContaining({ kind: "delete", holdsData: [what] })]);
      expect(blocked.blocked).toBe(true);
      const allowed = reviewPlan(plan, prodDoc, { allowDestroy: true });
      expect(allowed.blocked).toBe(false);
      expect(allowed.endangered).toHaveLength(1);
    },
  );

  test("replacing the production database is flagged for its type and for its prevent_destroy in the code", () => {
    const review = reviewPlan(planDocument({ resourceChanges: [replace(database, [["engine"]])] }), prodDoc);
    expect(review.endangered).toEqual([
      expect.objectContaining({
        address: database,
        kind: "replace",
        forcedBy: ["engine"],
        holdsData: ["an RDS database", "lifecycle.prevent_destroy is set in the code"],
      }),
    ]);
    expect(review.blocked).toBe(true);
  });

  test("prevent_destroy in the synthesized code makes any resource count as holding state", () => {
    // given a security group (not a data-holding type) that the code protects
    const stack = { resource: { aws_security_group: { Group_1: { lifecycle: { prevent_destroy: true } } } } };
    const review = reviewPlan(planDocument({ resourceChanges: [destroy("aws_security_group.Group_1")] }), stack);
    expect(review.endangered[0].holdsData).toEqual(["lifecycle.prevent_destroy is set in the code"]);
    // and the same group unprotected is a plain deletion
    expect(
      reviewPlan(planDocument({ resourceChanges: [destroy("aws_security_group.Group_1")] }), {}).endangered,
    ).toEqual([]);
  });

  test("the single-server layout's server holds the database; the app-db-split layout's server does not", () => {
    const single = singleServer();
    const split = appDbSplit();
    const replaceServer = (stack: typeof single) =>
      reviewPlan(
        planDocument({ resourceChanges: [replace(address(stack, "aws_instance", "Instance"), [["subnet_id"]])] }),
        documentOf(stack),
      );
    expect(replaceServer(single).endangered[0].holdsData).toEqual([
      "the single-server layout's server, whose disk holds the database",
    ]);
    expect(replaceServer(split).endangered).toEqual([]);
  });

  test("an instance with termination protection is flagged even once it has left the code", () => {
    const plan = planDocument({
      resourceChanges: [
        destroy("aws_instance.Old_1", { disable_api_termination: true }, "delete_because_no_resource_config"),
      ],
    });
    const [change] = reviewPlan(plan, prodDoc).endangered;
    expect(change).toMatchObject({
      reason: "no longer in the code",
      holdsData: ["an EC2 instance with termination protection"],
    });
  });

  test("module and indexed addresses: a bucket in a module is flagged by its type; an instance of a counted resource maps to its block", () => {
    const logs = address(prod, "aws_s3_bucket", "AccessLogs");
    const plan = planDocument({
      resourceChanges: [
        destroy("module.legacy.aws_s3_bucket.logs"),
        destroy(`${database}[0]`),
        destroy(`${logs}["a"]`),
      ],
    });
    const review = reviewPlan(plan, prodDoc);
    expect(review.endangered.map((c) => [c.address, c.holdsData.length])).toEqual([
      ["module.legacy.aws_s3_bucket.logs", 1],
      [`${database}[0]`, 2],
      [`${logs}["a"]`, 1],
    ]);
  });
});

describe("plan review: what it prints", () => {
  const plan = planDocument({
    resourceChanges: [create("aws_subnet.a"), replace(database, [["engine"]]), destroy("aws_route.old")],
  });

  test("the terminal summary gives the counts, the lists, and a loud warning that says how to proceed", () => {
    const text = planReviewText(reviewPlan(plan, prodDoc), "prod");
    expect(text).toMatch(
      /^Plan review for prod: 1 to create, 0 to update, 1 to replace, 1 to delete \(0 unchanged\)\./,
    );
    expect(text).toContain(`Replaced (1):\n  - ${database}: forced by engine; an attribute cannot be changed in place`);
    expect(text).toContain("Deleted (1):\n  - aws_route.old");
    expect(text).toContain("!!! WARNING: this plan destroys 1 resource(s) that hold data or state !!!");
    expect(text).toContain(`!!!   replace ${database}: an RDS database; lifecycle.prevent_destroy is set in the code`);
    expect(text).toContain(
      "BLOCKED. If this is intended, re-run with --allow-destroy: npm run plan -- prod --allow-destroy",
    );
  });

  test("with --allow-destroy the warning stays, and says the plan is allowed", () => {
    const text = planReviewText(reviewPlan(plan, prodDoc, { allowDestroy: true }), "prod");
    expect(text).toContain("!!! WARNING: this plan destroys 1 resource(s)");
    expect(text).toContain("Allowed by --allow-destroy");
    expect(text).not.toContain("BLOCKED");
  });

  test("a harmless plan prints no warning", () => {
    const review: PlanReview = reviewPlan(planDocument({ resourceChanges: [create("aws_subnet.a")] }), prodDoc);
    expect(planReviewText(review, "prod")).not.toMatch(/WARNING|BLOCKED/);
  });

  test("the Markdown has the counts table, a caution block and the replaced and deleted tables", () => {
    const markdown = planReviewMarkdown(reviewPlan(plan, prodDoc), "prod");
    expect(markdown).toContain(
      "| create | update | replace | delete | unchanged |\n|---:|---:|---:|---:|---:|\n| 1 | 0 | 1 | 1 | 0 |",
    );
    expect(markdown).toContain("> [!CAUTION]\n> **This plan destroys 1 resource(s) that hold data or state.** Blocked");
    expect(markdown).toContain(
      `| \`${database}\` |  | forced by \`engine\`; an attribute cannot be changed in place |`,
    );
    expect(markdown).toContain("#### Deleted");
  });
});

import {
  DATA_HOLDING_TYPES,
  STATELESS_TYPES,
  planReviewMarkdown,
  planReviewText,
  publishedNamespaces,
  reviewPlan,
  type PlanReview,
} from "../../src/ops/plan-review";
import { userDataBase64, userDataScript } from "../../src/userdata/encode";
import { create, destroy, planDocument, read, replace, resourceChange, unchanged, update } from "./plan-fixtures";
import { address, appDbSplit, documentOf, loadBalanced, singleServer } from "./stacks";
import { environmentStack } from "../environment-stack";

const prod = loadBalanced();
const single = singleServer();
const split = appDbSplit();
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
    expect(review.counts).toEqual({
      create: 2,
      update: 1,
      replace: 2,
      delete: 1,
      forget: 0,
      unchanged: 2,
      read: 1,
      other: 0,
    });
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
    // given an action no Terraform writes today (a newer one might)
    const review = reviewPlan(
      planDocument({ resourceChanges: [resourceChange("aws_s3_bucket.old", ["archive"])] }),
      prodDoc,
    );
    expect(review.counts.other).toBe(1);
    expect(review.unknownActions).toEqual(["aws_s3_bucket.old: archive"]);
    // on a resource that holds data, an unknown action blocks as a delete would
    expect(review.blocked).toBe(true);
    expect(review.endangered.map((c) => c.address)).toEqual(["aws_s3_bucket.old"]);
    const harmless = planDocument({ resourceChanges: [resourceChange("aws_security_group.old", ["archive"])] });
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
      "| create | update | replace | delete | forget | unchanged |\n|---:|---:|---:|---:|---:|---:|\n| 1 | 0 | 1 | 1 | 0 | 0 |",
    );
    expect(markdown).toContain("> [!CAUTION]\n> **This plan destroys 1 resource(s) that hold data or state.** Blocked");
    expect(markdown).toContain(
      `| \`${database}\` |  | forced by \`engine\`; an attribute cannot be changed in place |`,
    );
    expect(markdown).toContain("#### Deleted");
  });
});

describe("plan review: deny by default", () => {
  // Types users add over time that hold data and are on neither list: each must block.
  test.each([
    "aws_elasticache_replication_group",
    "aws_elasticache_cluster",
    "aws_ecr_repository",
    "aws_opensearch_domain",
  ])("deleting or replacing an %s, a type nobody reviewed, is blocked as holding data", (type) => {
    const plan = planDocument({
      resourceChanges: [destroy(`${type}.Cache_1234ABCD`), replace(`${type}.Other_1234ABCD`, [["engine"]])],
    });
    const review = reviewPlan(plan, prodDoc);
    expect(review.endangered.map((c) => [c.kind, c.holdsData])).toEqual([
      [
        "replace",
        [
          `${type}: not on the reviewed list of stateless types (STATELESS_TYPES in src/ops/plan-review.ts), so it counts as holding data`,
        ],
      ],
      [
        "delete",
        [
          `${type}: not on the reviewed list of stateless types (STATELESS_TYPES in src/ops/plan-review.ts), so it counts as holding data`,
        ],
      ],
    ]);
    expect(review.blocked).toBe(true);
    expect(planReviewText(review, "prod")).toContain("BLOCKED. If this is intended, re-run with --allow-destroy");
    expect(reviewPlan(plan, prodDoc, { allowDestroy: true }).blocked).toBe(false);
  });

  test.each(Object.entries(STATELESS_TYPES))("deleting a %s passes: %s", (type) => {
    const review = reviewPlan(planDocument({ resourceChanges: [destroy(`${type}.Thing_1234ABCD`)] }), prodDoc);
    expect(review).toMatchObject({ endangered: [], blocked: false });
  });

  test("no type is on both lists, and every stateless reason says why", () => {
    expect(Object.keys(STATELESS_TYPES).filter((type) => type in DATA_HOLDING_TYPES)).toEqual([]);
    expect(Object.values(STATELESS_TYPES).filter((why) => why.length < 10)).toEqual([]);
  });

  test("a data source is read, never destroyed, whatever its type", () => {
    const plan = planDocument({ resourceChanges: [destroy("data.aws_elasticache_cluster.x")] });
    expect(reviewPlan(plan, prodDoc).endangered).toEqual([]);
  });
});

describe("plan review: forget (a removed block with destroy = false)", () => {
  const forgetting = planDocument({
    resourceChanges: [
      resourceChange(database, ["forget"], { before: {}, action_reason: "delete_because_no_resource_config" }),
      resourceChange("aws_s3_bucket.Logs_1234ABCD", ["create", "forget"], { before: {}, after: {} }),
    ],
  });

  test("is reported as what it is: nothing destroyed, nothing blocked, both listed as forgotten", () => {
    const review = reviewPlan(forgetting, prodDoc);
    expect(review).toMatchObject({ endangered: [], blocked: false, deleted: [], unknownActions: [] });
    expect(review.counts).toMatchObject({ forget: 2, delete: 0, other: 0 });
    expect(review.forgotten.map((c) => c.address)).toEqual([database, "aws_s3_bucket.Logs_1234ABCD"]);
  });

  test("the summary says the resource is left running and unmanaged, and never that data is destroyed", () => {
    const text = planReviewText(reviewPlan(forgetting, prodDoc), "prod");
    expect(text).toContain("0 to delete, 2 to forget");
    expect(text).toContain(
      "Forgotten (2), left running in AWS and no longer managed by Terraform (a removed block with destroy = false): " +
        "nothing is destroyed, and it keeps costing until you delete it by hand or import it again:",
    );
    expect(text).not.toMatch(/destroys|BLOCKED|hold data/);
    expect(planReviewMarkdown(reviewPlan(forgetting, prodDoc), "prod")).toContain("#### Forgotten");
  });
});

describe("plan review: changes that look safe but are not", () => {
  const server = (stack: typeof single) => address(stack, "aws_instance", "Instance");
  const retype = (stack: typeof single, from: string, to: string) =>
    planDocument({
      resourceChanges: [
        update(server(stack), { instance_type: from, ami: "ami-0x86" }, { instance_type: to, ami: "ami-0x86" }),
      ],
    });

  test("switching a live single server from x86 to Graviton is blocked with one line saying what happens and what to do", () => {
    const review = reviewPlan(retype(single, "t3.small", "t4g.small"), documentOf(single), { environment: "dev" });
    expect(review.findings).toEqual([
      {
        address: server(single),
        blocks: true,
        message:
          "environments/dev: app.instanceType t3.small -> t4g.small switches the server from x86_64 to arm64 in place, " +
          "but its x86_64 AMI is kept after creation (lifecycle.ignore_changes), so AWS refuses the new type and the " +
          `apply fails with the server stopped. Replace it on purpose instead: npm run plan -- dev --replace '${server(single)}'` +
          " (its disk holds the database: move or back up the data first)",
      },
    ]);
    expect(review.blocked).toBe(true);
    // --allow-destroy does not make that apply work, so it does not lift the block
    expect(
      reviewPlan(retype(single, "t3.small", "t4g.small"), documentOf(single), { allowDestroy: true }).blocked,
    ).toBe(true);
    expect(planReviewText(review, "dev")).toContain(
      "!!! BLOCKED: environments/dev: app.instanceType t3.small -> t4g.small",
    );
    expect(planReviewMarkdown(review, "dev")).toContain("**Blocked: applying this plan would fail half-way.**");
  });

  test("back from Graviton to x86 on the app-db-split server too; its disk holds no database", () => {
    const review = reviewPlan(retype(split, "t4g.small", "t3.small"), documentOf(split), { environment: "dr-osaka" });
    expect(review.findings).toHaveLength(1);
    expect(review.findings[0].message).toMatch(
      /^environments\/dr-osaka: app\.instanceType t4g\.small -> t3\.small switches the server from arm64 to x86_64 in place/,
    );
    expect(review.findings[0].message).not.toContain("database");
  });

  test("a new size in the same architecture is an ordinary update", () => {
    const review = reviewPlan(retype(single, "t3.small", "t3.large"), documentOf(single));
    expect(review).toMatchObject({ findings: [], blocked: false });
  });

  test("changing only app.count.desired on a live fleet is flagged: it does nothing, and the line says what does", () => {
    // given the code asks for 1 server (app.count.desired: 1) while the live group runs 3
    const group = address(prod, "aws_autoscaling_group", "Group");
    const plan = planDocument({
      resourceChanges: [unchanged(group, { desired_capacity: 3, min_size: 1, max_size: 2 })],
    });
    const review = reviewPlan(plan, prodDoc, { environment: "staging" });
    expect(review.findings).toEqual([
      {
        address: group,
        blocks: false,
        message:
          "environments/staging: app.count.desired 1 is not applied: the group runs 3 server(s), and after creation " +
          "Terraform leaves desired_capacity to target tracking (lifecycle.ignore_changes), so this plan changes nothing " +
          "there. To change how many servers run, change app.count.min or app.count.max",
      },
    ]);
    expect(review.blocked).toBe(false);
    expect(planReviewText(review, "staging")).toContain(
      "Changes that look safe but are not:\n  - environments/staging: app.count.desired 1",
    );
    // and when the group runs what the code says, there is nothing to say
    const same = planDocument({ resourceChanges: [unchanged(group, { desired_capacity: 1 })] });
    expect(reviewPlan(same, prodDoc).findings).toEqual([]);
  });

  test("a new app.port on a live fleet is flagged: the new target group's servers listen on the old port until they are replaced; another replacement too", () => {
    // given app.port 80 -> 8080: Terraform replaces the target group, new first (create_before_destroy)
    const targets = address(prod, "aws_lb_target_group", "TargetGroup");
    const moved = (before: number, after: number) =>
      planDocument({
        resourceChanges: [
          resourceChange(targets, ["create", "delete"], {
            before: { name: "shop-staging-app", port: before },
            after: { name: "shop-staging-p8080", port: after },
            replace_paths: [["name"], ["port"]],
            action_reason: "replace_because_cannot_update",
          }),
        ],
      });
    const review = reviewPlan(moved(80, 8080), prodDoc, { environment: "staging" });
    expect(review.findings).toEqual([
      {
        address: targets,
        blocks: false,
        message:
          "environments/staging: app.port 80 -> 8080 replaces the target group, and the listeners move to the new one as " +
          "soon as it exists; its servers are the running ones, whose nginx listens on 80, until the instance refresh " +
          "has replaced them, so requests fail (502) until the first new server passes its health checks, about one " +
          "boot. Apply it at a quiet hour",
      },
    ]);
    expect(review.blocked).toBe(false); // a target group holds no data: the apply may go on
    // a replacement for another reason (the same port, a new name) says what it does without ports
    const renamed = reviewPlan(moved(8080, 8080), prodDoc, { environment: "staging" }).findings;
    expect(renamed.map((f) => f.message)).toEqual([
      "environments/staging: the target group is replaced (shop-staging-app -> shop-staging-p8080), new first, and the " +
        "listeners move to it as soon as it exists: until the Auto Scaling group has registered its servers there " +
        "(seconds), the load balancer may answer 503. Apply it at a quiet hour",
    ]);
  });

  test("a new app.healthCheckPath on a live fleet is flagged: the running servers answer only the old path until they are replaced", () => {
    const targets = address(prod, "aws_lb_target_group", "TargetGroup");
    const checked = (before: string, after: string) =>
      planDocument({
        resourceChanges: [
          resourceChange(targets, ["update"], {
            before: { port: 80, health_check: [{ path: before, matcher: "200" }] },
            after: { port: 80, health_check: [{ path: after, matcher: "200" }] },
          }),
        ],
      });
    const review = reviewPlan(checked("/healthz", "/health"), prodDoc, { environment: "staging" });
    expect(review.findings).toEqual([
      {
        address: targets,
        blocks: false,
        message: expect.stringMatching(
          /^environments\/staging: app\.healthCheckPath \/healthz -> \/health: the load balancer asks \/health at the apply, while the running servers' nginx answers only \/healthz .*launching first/,
        ),
      },
    ]);
    expect(review.blocked).toBe(false);
    // the same path (another attribute of the check changed) says nothing
    expect(reviewPlan(checked("/healthz", "/healthz"), prodDoc).findings).toEqual([]);
  });

  test("a new major engine version blocks the plan (RDS refuses it without allow_major_version_upgrade, which stays off); a minor one does not", () => {
    const versions = (engine: string, before: string, after: string) =>
      planDocument({
        resourceChanges: [
          update(
            database,
            { engine, engine_version: before, allow_major_version_upgrade: false },
            { engine, engine_version: after, allow_major_version_upgrade: false },
          ),
        ],
      });
    const review = reviewPlan(versions("postgres", "16.4", "17"), prodDoc, { environment: "prod" });
    expect(review.findings).toEqual([
      {
        address: database,
        blocks: true,
        message: expect.stringMatching(
          /^environments\/prod: database\.engineVersion 16 -> 17 is a major upgrade, which RDS refuses without allow_major_version_upgrade .* Keep 16, or upgrade on purpose: .*--engine-version 17 --allow-major-version-upgrade .*then set engineVersion to 17$/,
        ),
      },
    ]);
    expect(review.blocked).toBe(true);
    expect(reviewPlan(versions("mysql", "8.0.39", "8.4"), prodDoc).findings).toEqual([
      expect.objectContaining({ blocks: true, message: expect.stringContaining("database.engineVersion 8.0 -> 8.4") }),
    ]);
    // a minor version, pinned or moved within the major, says nothing
    expect(reviewPlan(versions("postgres", "16.4", "16.6"), prodDoc)).toMatchObject({ findings: [], blocked: false });
    expect(reviewPlan(versions("mariadb", "10.11.9", "10.11"), prodDoc)).toMatchObject({
      findings: [],
      blocked: false,
    });
  });

  test.each([
    ["single-server", () => single],
    ["app-db-split", () => split],
  ])(
    "%s: a new app.port blocks the plan unless the server is replaced too (its nginx keeps the old port; the security group would close it)",
    (layout, stackOf) => {
      const stack = stackOf();
      const server = address(stack, "aws_instance", "Instance");
      // the rule as the layout synthesizes it (its description is what the review recognizes)
      const synthesized = Object.values(
        documentOf(stack).resource?.aws_vpc_security_group_ingress_rule as Record<string, Record<string, unknown>>,
      ).find((r) => r.from_port === 80 && r.cidr_ipv4 === "0.0.0.0/0");
      const rule = (port: number) => ({ from_port: port, to_port: port, description: synthesized?.description });
      const portChange = [
        destroy("aws_vpc_security_group_ingress_rule.AppIdentity_IngressInternet80_DB734FC9", rule(80)),
        create("aws_vpc_security_group_ingress_rule.AppIdentity_IngressInternet8080_0A1B2C3D", rule(8080)),
      ];
      const review = reviewPlan(
        planDocument({ resourceChanges: [...portChange, unchanged(server)] }),
        documentOf(stack),
        {
          environment: "dev",
        },
      );
      expect(review.findings).toEqual([
        {
          address: "aws_vpc_security_group_ingress_rule.AppIdentity_IngressInternet80_DB734FC9",
          blocks: true,
          message:
            "environments/dev: app.port 80 -> 8080 closes 80 and opens 8080 in the server's security group, but the " +
            "server keeps nginx on 80 (its user data runs at its first boot only), so the site would be unreachable. " +
            `Keep the port, or replace the server on purpose: npm run plan -- dev --replace '${server}'` +
            // only the single server's disk holds the database
            (layout === "single-server" ? " (its disk holds the database: move or back up the data first)" : ""),
        },
      ]);
      expect(review.blocked).toBe(true);
      // replacing the server in the same plan (--replace) is the way through
      const replaced = planDocument({
        resourceChanges: [...portChange, resourceChange(server, ["delete", "create"], { before: {}, after: {} })],
      });
      expect(reviewPlan(replaced, documentOf(stack), { environment: "dev" }).findings).toEqual([]);
    },
  );

  test("a plan from an empty state that creates everything says so: right for a first deploy, a second copy if the environment runs", () => {
    const creates = [create(address(prod, "aws_vpc", "Vpc")), create(address(prod, "aws_autoscaling_group", "Group"))];
    const review = reviewPlan(planDocument({ resourceChanges: creates, emptyState: true }), prodDoc, {
      environment: "prod",
    });
    expect(review.findings).toEqual([
      {
        address: "(state)",
        blocks: false,
        message:
          "environments/prod: the state holds no resources, so this plan creates the whole environment (2 resources). " +
          "Right for its first deploy; if it already runs in AWS, its state is not where the backend points (state.key " +
          "or state.workspace changed, the project or folder renamed, or the state not pushed after a move): do not " +
          "apply, find the state first (docs/state.md)",
      },
    ]);
    expect(review.blocked).toBe(false);
    // the same creates on top of a state that holds resources: nothing to say
    expect(reviewPlan(planDocument({ resourceChanges: creates }), prodDoc).findings).toEqual([]);
  });

  test("for a deploy role (CI's deploy) a plan from an empty state is blocked: an administrator makes an environment, so its state was lost or moved (review CT)", () => {
    const creates = [create(address(prod, "aws_vpc", "Vpc")), create(address(prod, "aws_autoscaling_group", "Group"))];
    const plan = planDocument({ resourceChanges: creates, emptyState: true });
    const review = reviewPlan(plan, prodDoc, { environment: "prod", deployRole: true });
    expect(review.findings).toEqual([
      {
        address: "(state)",
        blocks: true,
        message:
          "environments/prod: the state holds no resources, so this plan creates the whole environment (2 resources). " +
          "A deploy role does not make an environment (an administrator applies its first deploy), so its state is not " +
          "where the backend points (state.key or state.workspace changed, the project or folder renamed, or the state " +
          "not pushed after a move): do not apply it here; find the state first (docs/state.md), or, for a first " +
          "deploy, apply it with an administrator's credentials: npm run plan -- prod, then the apply it prints",
      },
    ]);
    expect(review.blocked).toBe(true);
    // local state in CI, which the job refuses to deploy on its own: the empty state says nothing there
    expect(reviewPlan(plan, prodDoc, { deployRole: true, emptyStateExpected: true }).blocked).toBe(false);
    // a state that holds resources: the same creates pass
    expect(reviewPlan(planDocument({ resourceChanges: creates }), prodDoc, { deployRole: true }).blocked).toBe(false);
  });

  test("deletion protection switched off (production: true removed) is flagged on the database, the load balancer, a server and a bucket", () => {
    const database = address(prod, "aws_db_instance", "Instance");
    const balancer = address(prod, "aws_lb", "Alb");
    const server = address(single, "aws_instance", "Instance");
    const bucket = `aws_s3_bucket.${Object.keys(prodDoc.resource!.aws_s3_bucket!)[0]}`;
    const plan = planDocument({
      resourceChanges: [
        update(
          database,
          { deletion_protection: true, multi_az: true },
          { deletion_protection: false, multi_az: false },
        ),
        update(balancer, { enable_deletion_protection: true }, { enable_deletion_protection: false }),
        update(server, { disable_api_termination: true }, { disable_api_termination: false }),
        update(bucket, { force_destroy: false }, { force_destroy: true }),
        // turned on, or another attribute: nothing to say
        update(
          address(prod, "aws_db_instance", "Instance"),
          { deletion_protection: false },
          { deletion_protection: true },
        ),
      ],
    });
    const review = reviewPlan(plan, prodDoc, { environment: "prod" });
    expect(review.findings.map((f) => [f.address, f.blocks])).toEqual([
      [database, false],
      // (and the standby dropped waits for the maintenance window: a note of its own, below)
      [database, false],
      [balancer, false],
      [server, false],
      [bucket, false],
    ]);
    expect(review.findings[1].message).toContain(
      "multi_az true -> false takes effect in the database's next maintenance window",
    );
    expect(review.findings[4].message).toContain("loses its deletion protection (force_destroy false -> true)");
    expect(review.findings[0].message).toBe(
      `environments/prod: ${database} loses its deletion protection (deletion_protection true -> false), as when ` +
        "production: true is removed from an environment; if that is not meant, put it back before applying",
    );
    expect(review.blocked).toBe(false);
  });

  test("a protected resource updated in another attribute, its protection kept, says nothing of protection (review DP)", () => {
    const database = address(prod, "aws_db_instance", "Instance");
    const plan = planDocument({
      resourceChanges: [
        update(
          database,
          { deletion_protection: true, allocated_storage: 100, apply_immediately: true },
          { deletion_protection: true, allocated_storage: 200, apply_immediately: true },
        ),
      ],
    });
    expect(reviewPlan(plan, prodDoc, { environment: "prod" }).findings).toEqual([]);
  });

  test("log retention from forever (0, unset) to a number of days is said, as CloudWatch deletes the older events (review DP)", () => {
    const logs = "aws_cloudwatch_log_group.Database_LogsPostgresql_7BD69D97";
    for (const before of [0, undefined]) {
      const plan = planDocument({
        resourceChanges: [
          update(
            logs,
            { name: "/aws/rds/x", retention_in_days: before },
            { name: "/aws/rds/x", retention_in_days: 30 },
          ),
        ],
      });
      expect(reviewPlan(plan, prodDoc, { environment: "prod" }).findings.map((f) => f.message)).toEqual([
        expect.stringContaining("/aws/rds/x keeps its logs 30 days instead of forever"),
      ]);
    }
  });

  test("a new network.cidr, which replaces the VPC under a database and a load balancer that cannot move, is blocked, even with --allow-destroy", () => {
    const vpc = address(prod, "aws_vpc", "Vpc");
    const plan = planDocument({
      resourceChanges: [
        {
          ...replace(vpc, [["cidr_block"]]),
          change: {
            ...replace(vpc, [["cidr_block"]]).change,
            before: { cidr_block: "10.30.0.0/16" },
            after: { cidr_block: "10.31.0.0/16" },
          },
        },
      ],
    });
    const review = reviewPlan(plan, prodDoc, { environment: "prod", allowDestroy: true });
    expect(review.findings.map((f) => [f.blocks, f.message])).toEqual([
      [
        true,
        "environments/prod: network.cidr 10.30.0.0/16 -> 10.31.0.0/16 replaces the VPC, and with it every subnet and " +
          "security group; the database and the load balancer cannot move into another VPC (AWS refuses it), so the " +
          "apply would fail part-way with the site down. A network of its own is an environment of its own: create it " +
          "beside this one, move the data, then destroy this one (docs/state.md)",
      ],
    ]);
    expect(review.blocked).toBe(true);
  });

  test("shorter log retention (production: true removed), a database change RDS holds for its maintenance window, and HTTPS turned off are each said; none blocks", () => {
    const logs = "aws_cloudwatch_log_group.Database_LogsPostgresql_7BD69D97";
    const database = address(prod, "aws_db_instance", "Instance");
    const https = "aws_lb_listener.LoadBalancer_Https_76376E6E";
    const http = "aws_lb_listener.LoadBalancer_Http_AD2F113F";
    const plan = planDocument({
      resourceChanges: [
        update(logs, { name: "/aws/rds/x", retention_in_days: 365 }, { name: "/aws/rds/x", retention_in_days: 30 }),
        update(logs.replace("Postgresql", "Longer"), { retention_in_days: 30 }, { retention_in_days: 365 }),
        update(
          database,
          { instance_class: "db.m7g.large", maintenance_window: "sun:18:00-sun:19:00" },
          { instance_class: "db.m7g.xlarge", maintenance_window: "sun:18:00-sun:19:00" },
        ),
        destroy(https, { port: 443 }),
        destroy(http, { port: 80 }),
      ],
    });
    const review = reviewPlan(plan, prodDoc, { environment: "prod" });
    expect(review.findings.map((f) => [f.address, f.blocks, f.message])).toEqual([
      [
        logs,
        false,
        "environments/prod: /aws/rds/x keeps its logs 30 days instead of 365: CloudWatch deletes every older event as " +
          "soon as this is applied, for good (as when production: true is removed); export what must be kept first",
      ],
      [
        database,
        false,
        'environments/prod: instance_class "db.m7g.large" -> "db.m7g.xlarge" takes effect in the database\'s next ' +
          "maintenance window (sun:18:00-sun:19:00 UTC), not at this apply (apply_immediately is off), and every plan " +
          "shows it until then; a new class restarts a database without a standby for minutes then",
      ],
      [
        https,
        false,
        "environments/prod: the HTTPS listener goes (loadBalancer.https false), but browsers that visited were told to " +
          "use HTTPS for a year (Strict-Transport-Security): they keep asking for https:// and fail until it expires",
      ],
    ]);
    // an attribute known only at apply (absent from after) is not a change to name: no "-> undefined" (review DP)
    const unknownIops = planDocument({
      resourceChanges: [
        update(
          database,
          { iops: 3000, instance_class: "db.m7g.large", maintenance_window: "sun:18:00-sun:19:00" },
          { instance_class: "db.m7g.xlarge", maintenance_window: "sun:18:00-sun:19:00" },
        ),
      ],
    });
    const windowed = reviewPlan(unknownIops, prodDoc).findings.map((f) => f.message);
    expect(windowed).toEqual([
      expect.stringContaining('instance_class "db.m7g.large" -> "db.m7g.xlarge" takes effect'),
    ]);
    expect(windowed[0]).not.toContain("iops");
    // with apply_immediately, the change is at this apply: nothing to say
    const now = planDocument({
      resourceChanges: [update(database, { instance_class: "a" }, { instance_class: "b", apply_immediately: true })],
    });
    expect(reviewPlan(now, prodDoc).findings).toEqual([]);
  });

  test("a single server's database given a new name or user is blocked: the settings change, the database and user made at its first boot do not", () => {
    const settings = "aws_ssm_parameter.DatabaseSettings_Parameter_FE36AC06";
    const text = (name: string, user: string) =>
      `DB_ENGINE=postgres\nDB_HOST=127.0.0.1\nDB_PORT=5432\nDB_NAME=${name}\nDB_USER=${user}\nDB_TLS=disable`;
    const plan = (after: string) =>
      planDocument({ resourceChanges: [update(settings, { value: text("app", "app") }, { value: after })] });
    const review = reviewPlan(plan(text("shop", "app")), documentOf(single), { environment: "dev" });
    expect(review.findings.map((f) => [f.blocks, f.message])).toEqual([
      [
        true,
        "environments/dev: database.name app -> shop changes only the settings the app reads: the server's database " +
          "and user were made once, at its first boot, and stay as they are, so the next deploy's migrations fail and " +
          "every process start after it. Keep the old database.name, or rename on the server first (as its owner, in psql or mariadb)",
      ],
    ]);
    // another setting of the parameter (a new port, TLS) is not this; nor is RDS, which is replaced and guarded as data
    expect(reviewPlan(plan(text("app", "app").replace("5432", "5433")), documentOf(single)).findings).toEqual([]);
    // nor settings that gain a name they did not hold (nothing was made under another name: review DP)
    const gained = planDocument({
      resourceChanges: [update(settings, { value: "DB_ENGINE=postgres" }, { value: text("app", "app") })],
    });
    expect(reviewPlan(gained, documentOf(single), { environment: "dev" }).findings).toEqual([]);
    expect(reviewPlan(plan(text("shop", "app")), documentOf(split)).findings).toEqual([]);
  });

  test("a plan that makes or changes the roles' permissions boundary is blocked for a deploy role, which may not write it (its apply would stop half-way), and noted for an administrator; its tags alone, or its deletion, are a deploy role's", () => {
    const boundary = address(split, "aws_iam_policy", "Policy");
    expect(boundary).toMatch(/^aws_iam_policy\.RoleBoundary_Policy_/);
    const doc = (actions: string[]) =>
      JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: actions, Resource: "*" }] });
    const unknownPolicy = {
      ...update(boundary, { policy: doc(["a:B"]) }, {}),
      change: { ...update(boundary, { policy: doc(["a:B"]) }, {}).change, after_unknown: { policy: true } },
    };
    const cases = [
      ["create", create(boundary, { policy: doc(["a:B"]) }), "makes the permissions boundary of its roles"],
      [
        "update",
        update(boundary, { policy: doc(["a:B"]) }, { policy: doc(["a:B", "c:D"]) }),
        "changes the permissions boundary",
      ],
      ["replace", replace(boundary, [["name"]]), "changes the permissions boundary"],
      ["known only after apply", unknownPolicy, "changes the permissions boundary"],
    ] as const;
    for (const [what, change, says] of cases) {
      const plan = planDocument({ resourceChanges: [change] });
      const ci = reviewPlan(plan, documentOf(split), { environment: "dr", deployRole: true, allowDestroy: true });
      expect({ what, blocked: ci.blocked, findings: ci.findings.map((f) => [f.address, f.blocks]) }).toEqual({
        what,
        blocked: true,
        findings: [[boundary, true]],
      });
      expect(ci.findings[0].message).toContain(`environments/dr: this plan ${says}`);
      expect(ci.findings[0].message).toContain("which a deploy role may not write");
      expect(ci.findings[0].message).toContain("npm run plan -- dr");
      const admin = reviewPlan(plan, documentOf(split), { environment: "dr", allowDestroy: true });
      expect({ what, blocked: admin.blocked, findings: admin.findings.map((f) => [f.address, f.blocks]) }).toEqual({
        what,
        blocked: false,
        findings: [[boundary, false]],
      });
    }
    // a role whose boundary comes off (a rollback to code from before it): iam:DeleteRolePermissionsBoundary,
    // which no deploy role may (review BQ); a role that keeps or gets its boundary is none of this
    const role = `aws_iam_role.${split.resources("aws_iam_role").find((r) => r.name.startsWith("AppIdentity_"))!.name}`;
    const arn = "arn:aws:iam::123456789012:policy/shop-dr-boundary";
    const off = reviewPlan(
      planDocument({ resourceChanges: [update(role, { permissions_boundary: arn }, { permissions_boundary: null })] }),
      documentOf(split),
      { environment: "dr", deployRole: true },
    );
    expect(off.findings.map((f) => [f.address, f.blocks])).toEqual([[role, true]]);
    expect(off.findings[0].message).toContain("takes the permissions boundary off a role");
    expect(off.blocked).toBe(true);
    // (one known only at apply, the boundary's ARN recomputed, is not taken off either: review DP)
    const recomputed = update(role, { permissions_boundary: arn }, {});
    (recomputed.change as { after_unknown: Record<string, unknown> }).after_unknown = { permissions_boundary: true };
    for (const change of [
      update(role, { permissions_boundary: arn }, { permissions_boundary: arn, tags: { a: "b" } }),
      update(role, { permissions_boundary: null }, { permissions_boundary: arn }),
      recomputed,
    ]) {
      const kept = reviewPlan(planDocument({ resourceChanges: [change] }), documentOf(split), {
        environment: "dr",
        deployRole: true,
      });
      expect(kept.findings).toEqual([]);
    }
    // tags alone (TagPolicy, a deploy role's), and the boundary's deletion (an environment's teardown)
    const policy = doc(["a:B"]);
    for (const change of [
      update(boundary, { policy, tags: { Name: "a" } }, { policy, tags: { Name: "b" } }),
      destroy(boundary, { policy }),
    ]) {
      const review = reviewPlan(planDocument({ resourceChanges: [change] }), documentOf(split), {
        environment: "dr",
        deployRole: true,
      });
      expect(review.findings).toEqual([]);
      expect(review.endangered).toEqual([]);
    }
  });

  test("a smaller root volume on a server is blocked (EBS volumes only grow); the split's one server replaced is said, with its cause", () => {
    const server = address(split, "aws_instance", "Instance");
    const disk = (gb: number) => ({ root_block_device: [{ volume_size: gb }] });
    const shrink = reviewPlan(
      planDocument({ resourceChanges: [update(server, disk(30), disk(20))] }),
      documentOf(split),
      {
        environment: "dev",
      },
    );
    expect(shrink.findings.map((f) => [f.blocks, f.message])).toEqual([
      [
        true,
        "environments/dev: app.rootVolumeGb 30 -> 20 would shrink the server's root volume, which EBS refuses " +
          "(volumes only grow): the apply would fail on it. Keep 30 or more",
      ],
    ]);
    expect(
      reviewPlan(planDocument({ resourceChanges: [update(server, disk(20), disk(30))] }), documentOf(split)).findings,
    ).toEqual([]);
    // an update that keeps the size (a new instance type, a tag) carries the device on both sides
    expect(
      reviewPlan(planDocument({ resourceChanges: [update(server, disk(30), disk(30))] }), documentOf(split)).findings,
    ).toEqual([]);
    const moved = reviewPlan(planDocument({ resourceChanges: [replace(server, [["subnet_id"]])] }), documentOf(split), {
      environment: "dev",
    });
    expect(moved.findings.map((f) => [f.blocks, f.message])).toEqual([
      [
        false,
        "environments/dev: the environment's only app server is replaced (forced by subnet_id: network.availabilityZones' " +
          "first AZ moved): the site is down from its deletion until the new one has booted and deployed, minutes. Apply it at a quiet hour",
      ],
    ]);
  });

  test("a config change to what a fixed server's boot script writes (app.processes, nginx) is planned as no change to the server: the review says it does not reach it, and how to replace it (a single server's database with it)", () => {
    for (const [stack, layout] of [
      [single, "single-server"],
      [split, "app-db-split"],
    ] as const) {
      const server = address(stack, "aws_instance", "Instance");
      const written = stack.resources("aws_instance")[0].values.user_data_base64 as string;
      // what Terraform plans: the user data kept as it was created (ignore_changes), no change
      const running = Buffer.from("#!/bin/bash\n# the boot script of two processes\n").toString("base64");
      const plan = (userData: string) =>
        planDocument({ resourceChanges: [unchanged(server, { user_data_base64: userData })] });
      const review = reviewPlan(plan(running), documentOf(stack), { environment: "dev" });
      expect(review.findings.map((f) => [f.blocks, f.message])).toEqual([
        [
          false,
          expect.stringMatching(
            new RegExp(
              `^environments/dev: ${server.replace(/[.[\]]/g, "\\$&")} keeps the boot script it was created with .*none of it reaches the server until it is replaced` +
                (layout === "single-server"
                  ? ", which replaces its disk and the database on it: take a dump .* --allow-destroy$"
                  : ": npm run plan -- dev --replace .*, at a quiet hour"),
            ),
          ),
        ],
      ]);
      // the same boot script: nothing to say
      expect(reviewPlan(plan(written), documentOf(stack)).findings).toEqual([]);
      // nor one that differs only in the release its first deploy installed (later ones come by SSM)
      const script = userDataScript(written);
      const deployLine = /\/bin\/deploy (\S+) ([0-9a-f]{64}) \|\| first_deploy=/.exec(script)!;
      const [, version, sha] = deployLine;
      const olderRelease = script.replaceAll(version, "0.9.0").replace(sha, "f".repeat(64));
      expect(olderRelease).not.toBe(script);
      expect(reviewPlan(plan(userDataBase64(olderRelease)), documentOf(stack)).findings).toEqual([]);
      // and one more process on the same release is a change again
      const moreProcesses = olderRelease.replace(/app@8002/g, "app@8002 app@8003");
      expect(reviewPlan(plan(userDataBase64(moreProcesses)), documentOf(stack)).findings).toHaveLength(1);
    }
  });

  test("metric namespaces moved while a fixed server keeps its boot script (one made before them) is blocked: its alarms would read where it does not publish; replaced, or a fleet, it is not", () => {
    for (const [stack, layout] of [
      [single, "single-server"],
      [split, "app-db-split"],
    ] as const) {
      const server = address(stack, "aws_instance", "Instance");
      const written = userDataScript(stack.resources("aws_instance")[0].values.user_data_base64 as string);
      const own = `shop/${layout === "single-server" ? "dev" : "dr"}/`;
      expect(publishedNamespaces(written)).toEqual(
        layout === "single-server"
          ? [`${own}AppBackups`, `${own}AppHealth`, `${own}CWAgent`]
          : [`${own}AppHealth`, `${own}CWAgent`],
      );
      // the server as it was made before: the namespaces every environment shared
      const made = written.replaceAll(own, "");
      expect(publishedNamespaces(made)).toEqual(
        layout === "single-server" ? ["AppBackups", "AppHealth", "CWAgent"] : ["AppHealth", "CWAgent"],
      );
      const kept = reviewPlan(
        planDocument({ resourceChanges: [unchanged(server, { user_data_base64: userDataBase64(made) })] }),
        documentOf(stack),
        { environment: "dev" },
      );
      const moved = kept.findings.filter((f) => f.message.includes("publishes its metrics"));
      expect(moved.map((f) => [f.blocks, f.message])).toEqual([
        [
          true,
          `environments/dev: ${server} publishes its metrics to ${publishedNamespaces(made).join(", ")} (its boot script ` +
            `is kept after creation), and this plan moves its alarms, its dashboard and what its role may publish to, to ` +
            `${publishedNamespaces(written).join(", ")}: its app-health, app-agent-silent${layout === "single-server" ? " and db-backup-missing" : ""} ` +
            `alarms would fire within minutes and its memory and disk alarms go blind. Set monitoring.metricNamespaces: ` +
            `shared in environments/dev/config.yaml until the server is replaced, or replace it in this plan: ` +
            `npm run plan -- dev --replace '${server}'` +
            (layout === "single-server"
              ? " --allow-destroy, after a dump (docs/layouts.md#backups-and-restore-on-a-single-server)"
              : "") +
            " (docs/monitoring.md#metric-namespaces)",
        ],
      ]);
      expect(kept.blocked).toBe(true);
      expect(
        reviewPlan(
          planDocument({ resourceChanges: [unchanged(server, { user_data_base64: userDataBase64(made) })] }),
          documentOf(stack),
          { allowDestroy: true },
        ).blocked,
      ).toBe(true);
      // also when the kept server has a change of its own in the plan (tags, a resize): an update
      const resized = reviewPlan(
        planDocument({
          resourceChanges: [
            update(
              server,
              { user_data_base64: userDataBase64(made), instance_type: "t3.small" },
              { user_data_base64: userDataBase64(made), instance_type: "t3.medium" },
            ),
          ],
        }),
        documentOf(stack),
        { environment: "dev" },
      );
      expect(resized.findings.filter((f) => f.message.includes("publishes its metrics")).map((f) => f.blocks)).toEqual([
        true,
      ]);
      // the reverse: a server made with its own namespaces, the config moved to shared
      const sharedStack = structuredClone(documentOf(stack));
      for (const instance of Object.values(sharedStack.resource!.aws_instance) as Array<Record<string, any>>)
        instance.user_data_base64 = userDataBase64(userDataScript(instance.user_data_base64).replaceAll(own, ""));
      const back = reviewPlan(
        planDocument({ resourceChanges: [unchanged(server, { user_data_base64: userDataBase64(written) })] }),
        sharedStack,
        { environment: "dev" },
      );
      expect(
        back.findings.filter((f) => f.message.includes("publishes its metrics")).map((f) => [f.blocks, f.message]),
      ).toEqual([
        [
          true,
          expect.stringContaining(
            "would fire within minutes and its memory and disk alarms go blind. Take monitoring.metricNamespaces: " +
              "shared out of environments/dev/config.yaml (the server publishes to its environment's own), or " +
              `replace it in this plan: npm run plan -- dev --replace '${server}'`,
          ),
        ],
      ]);
      // the same namespaces (a server made with them): nothing of this kind
      const same = reviewPlan(
        planDocument({ resourceChanges: [unchanged(server, { user_data_base64: userDataBase64(written) })] }),
        documentOf(stack),
      );
      expect(same.findings).toEqual([]);
      // replaced in this plan: the new server publishes where its alarms read
      const replaced = reviewPlan(
        planDocument({
          resourceChanges: [
            resourceChange(server, ["delete", "create"], {
              before: { user_data_base64: userDataBase64(made) },
              after: {},
              action_reason: "replace_by_request",
            }),
          ],
        }),
        documentOf(stack),
      );
      expect(replaced.findings.filter((f) => f.message.includes("publishes its metrics"))).toEqual([]);
    }
  });

  test("on a fleet the same move is a note: the refresh replaces every server, and app-agent-silent may fire until the old ones leave", () => {
    const fleet = loadBalanced();
    const template = address(fleet, "aws_launch_template", "LaunchTemplate");
    const written = fleet.resources("aws_launch_template")[0].values.user_data as string;
    const script = userDataScript(written);
    const own = /"namespace": "([^"]+)\/CWAgent"/.exec(script)![1] + "/";
    const made = userDataBase64(script.replaceAll(own, ""));
    const review = reviewPlan(
      planDocument({ resourceChanges: [update(template, { user_data: made }, { user_data: written })] }),
      documentOf(fleet),
      { environment: "prod" },
    );
    expect(review.findings.map((f) => [f.blocks, f.message])).toEqual([
      [
        false,
        `environments/prod: the app servers' metrics move from CWAgent to ${own}CWAgent; the instance refresh this ` +
          "apply starts replaces every server, and until the last old one leaves app-agent-silent may fire (old " +
          "servers publish where the alarms no longer read), then clears (docs/monitoring.md#metric-namespaces)",
      ],
    ]);
    expect(review.blocked).toBe(false);
    // a new launch template version of the same namespaces (a new release, say): nothing of this kind
    expect(
      reviewPlan(
        planDocument({ resourceChanges: [update(template, { user_data: written }, { user_data: written })] }),
        documentOf(fleet),
      ).findings,
    ).toEqual([]);
  });

  test("a run of the OS update is noted, naming the release and the reboot it may cost: a first one, a new release, a new server; a change of its code alone is not, and an older release says it installs nothing (review CE)", () => {
    const updated = environmentStack("dev", {
      layout: "single-server",
      network: { cidr: "10.50.0.0/16", availabilityZones: ["ap-northeast-2a", "ap-northeast-2c"], natGateways: "none" },
      app: { instanceType: "t3.small", version: "1.0.0", osRelease: "2023.9.20251117" },
    });
    const osDocument = updated.resources("aws_ssm_document").find((d) => d.values.name === "shop-dev-app-os")!;
    const document = `aws_ssm_document.${osDocument.name}`;
    const association = `aws_ssm_association.${updated.resources("aws_ssm_association").find((a) => a.values.association_name === "shop-dev-app-os")!.name}`;
    const deployAssociation = `aws_ssm_association.${updated.resources("aws_ssm_association").find((a) => a.values.association_name === "shop-dev-deploy")!.name}`;
    // the content as Terraform shows it in a plan: its template escapes resolved
    const content = (osDocument.values.content as string).replaceAll("%%{", "%{").replaceAll("$${", "${");
    const withRelease = (release: string) => content.replace("release=2023.9.20251117", `release=${release}`);
    const review = (...changes: ReturnType<typeof create>[]) =>
      reviewPlan(planDocument({ resourceChanges: changes }), documentOf(updated), { environment: "dev" }).findings.map(
        (f) => [f.blocks, f.message],
      );
    const ends =
      " and reboots it if the update needs it: about a minute in which it answers nothing; apply at a quiet time (docs/operations.md#os-updates)";

    // the first: both created
    expect(review(create(document, { content }), create(association))).toEqual([
      [
        false,
        `environments/dev: ${association} updates the server's packages to Amazon Linux 2023 2023.9.20251117${ends}`,
      ],
    ]);
    // a new release: the document updated, the association replaced
    const replaced = resourceChange(association, ["delete", "create"]);
    expect(review(update(document, { content: withRelease("2023.8.20250808") }, { content }), replaced)).toEqual([
      [
        false,
        `environments/dev: ${association} updates the server's packages to Amazon Linux 2023 2023.9.20251117 (from the 2023.8.20250808 an earlier apply set)${ends}`,
      ],
    ]);
    // a new server: the association replaced for it, whatever the document does (review CF)
    const server = address(updated, "aws_instance", "Instance");
    const newServer = resourceChange(server, ["delete", "create"]);
    const onNewServer = [
      [
        false,
        `environments/dev: ${association} runs the OS update to Amazon Linux 2023 2023.9.20251117 on the server this apply replaces${ends}`,
      ],
    ];
    expect(review(newServer, unchanged(document, { content }), replaced)).toEqual(onNewServer);
    // the command's code changed, not its release: its run installs nothing, updated or replaced (review CF)
    const reworded = content.replace("nothing to install", "nothing new to install");
    expect(review(update(document, { content: reworded }, { content }), replaced)).toEqual([]);
    const documentReplaced = resourceChange(document, ["create", "delete"], {
      before: { content: reworded },
      after: { content },
    });
    expect(review(documentReplaced, replaced)).toEqual([]);
    expect(review(newServer, update(document, { content: reworded }, { content }), replaced)).toEqual(onNewServer);
    // an older release than the last: nothing installed, nothing rebooted
    expect(review(update(document, { content: withRelease("2023.10.20260115") }, { content }), replaced)).toEqual([
      [
        false,
        `environments/dev: ${association} names Amazon Linux 2023 2023.9.20251117, older than the 2023.10.20260115 an earlier apply set: dnf never downgrades, so its run installs nothing and reboots nothing; the server stays on its release (docs/operations.md#os-updates)`,
      ],
    ]);
    // the deploy's association is no OS update
    expect(review(resourceChange(deployAssociation, ["delete", "create"]))).toEqual([]);
  });

  test("single-server -> app-db-split as Terraform plans it, keeping the server (its boot script is ignored after creation), is blocked, saying to replace it on purpose once the data is moved", () => {
    // given dev moved from single-server to app-db-split: the server is at the same address in both layouts
    const kept = server(single);
    expect(server(split)).toBe(kept);
    const layoutMoves = { layout: { actions: ["update"], before: "single-server", after: "app-db-split" } };
    const plan = planDocument({
      resourceChanges: [unchanged(kept), create(address(split, "aws_db_instance", "Instance"))],
      outputChanges: layoutMoves,
    });
    const review = reviewPlan(plan, documentOf(split), { environment: "dev" });
    expect(review.findings.map((f) => [f.message, f.blocks])).toEqual([
      [
        `environments/dev: layout single-server -> app-db-split keeps the server (${kept}), set up by its boot script ` +
          "with a database of its own and nothing to reach RDS with (the boot script is kept after creation: " +
          "lifecycle.ignore_changes), so its next deploy fails. Move the data first " +
          "(docs/layouts.md#moving-a-single-servers-data-to-rds), then replace it on purpose: " +
          `npm run plan -- dev --replace '${kept}' --allow-destroy`,
        true,
      ],
    ]);
    // a finding that blocks: --allow-destroy does not lift it
    expect(reviewPlan(plan, documentOf(split), { allowDestroy: true }).blocked).toBe(true);
    // the same server kept without a layout change is nothing to say
    expect(reviewPlan(planDocument({ resourceChanges: [unchanged(kept)] }), documentOf(split)).findings).toEqual([]);
  });

  test("down a layout, app-db-split -> single-server keeps the server too, set up for RDS, which the plan deletes: blocked the same way (review Z)", () => {
    const kept = server(split);
    const plan = planDocument({
      resourceChanges: [unchanged(kept)],
      outputChanges: { layout: { actions: ["update"], before: "app-db-split", after: "single-server" } },
    });
    const review = reviewPlan(plan, documentOf(single), { environment: "dev", allowDestroy: true });
    expect(review.findings.map((f) => [f.blocks, f.message])).toEqual([
      [
        true,
        `environments/dev: layout app-db-split -> single-server keeps the server (${kept}), set up by its boot script ` +
          "to reach RDS, which this plan deletes, and with no database of its own (the boot script is kept after " +
          "creation: lifecycle.ignore_changes), so its next deploy fails. Move the data first " +
          "(docs/layouts.md#moving-a-single-servers-data-to-rds), then replace it on purpose: " +
          `npm run plan -- dev --replace '${kept}' --allow-destroy`,
      ],
    ]);
    expect(review.blocked).toBe(true);
  });

  test("a new network.cidr on a single server is not blocked as one under RDS or a load balancer: it has neither (its server's disk is weighed as data on its own)", () => {
    const vpc = address(single, "aws_vpc", "Vpc");
    const change = replace(vpc, [["cidr_block"]]);
    const plan = planDocument({
      resourceChanges: [
        {
          ...change,
          change: { ...change.change, before: { cidr_block: "10.40.0.0/16" }, after: { cidr_block: "10.41.0.0/16" } },
        },
      ],
    });
    expect(reviewPlan(plan, documentOf(single), { environment: "dev" }).findings).toEqual([]);
  });

  test("...and with the server replaced on purpose (--replace), the database's server going is blocked as data, until --allow-destroy", () => {
    const replaced = server(single);
    const plan = planDocument({
      resourceChanges: [replace(replaced, [])],
      outputChanges: { layout: { actions: ["update"], before: "single-server", after: "app-db-split" } },
    });
    const review = reviewPlan(plan, documentOf(split), { environment: "dev" });
    expect(review.endangered).toEqual([
      expect.objectContaining({
        address: replaced,
        kind: "replace",
        holdsData: ["the single-server layout's server, whose disk holds the database"],
      }),
    ]);
    expect(review.findings.map((f) => f.message)).toEqual([
      `environments/dev: layout single-server -> app-db-split replaces the server that holds the single server's database (${replaced}), ` +
        "and everything on its disk with it. Move the data to the new database first (docs/layouts.md#moving-a-single-servers-data-to-rds), " +
        "then re-run with --allow-destroy",
    ]);
    expect(review.blocked).toBe(true);
    expect(reviewPlan(plan, documentOf(split), { allowDestroy: true }).blocked).toBe(false);
  });
});

import {
  addressOf,
  attributeChanges,
  displayValue,
  formatPath,
  isWithin,
  kindOf,
  parseAddress,
  parseAttributePath,
  parsePlanDocument,
  priorManagedResources,
  synthesizedResource,
} from "../../src/ops/plan-json";
import { planDocument, update } from "./plan-fixtures";

describe("reading Terraform's plan JSON", () => {
  test("a plan of format 1.x is accepted; another major, a non-plan or an errored run is refused, naming the source", () => {
    const plan = planDocument({ resourceChanges: [update("aws_vpc.Network_Vpc_1", { a: 1 }, { a: 2 })] });
    expect(parsePlanDocument(JSON.stringify(plan), "plan.json").resource_changes).toHaveLength(1);
    expect(() => parsePlanDocument(JSON.stringify({ ...plan, format_version: "2.0" }), "plan.json")).toThrow(
      /plan\.json has plan format_version 2\.0; this review reads format 1\.x only/,
    );
    expect(() => parsePlanDocument("Error: no plan", "show")).toThrow(/show is not JSON/);
    expect(() => parsePlanDocument(JSON.stringify({ values: {} }), "show")).toThrow(/no format_version/);
    expect(() => parsePlanDocument(JSON.stringify({ ...plan, errored: true }), "show")).toThrow(/errored/);
    expect(() =>
      parsePlanDocument(JSON.stringify({ ...plan, resource_changes: [{ address: "aws_vpc.x" }] }), "show"),
    ).toThrow(/resource_changes\[0\] has no address or change.actions/);
  });

  test.each([
    [["create"], "create"],
    [["update"], "update"],
    [["delete"], "delete"],
    [["delete", "create"], "replace"],
    [["create", "delete"], "replace"],
    [["no-op"], "no-op"],
    [["read"], "read"],
    [["forget"], "forget"],
    [["create", "forget"], "forget"],
    [["archive"], "other"],
  ])("actions %j are a %s", (actions, kind) => {
    expect(kindOf(actions)).toBe(kind);
  });
});

describe("resource addresses", () => {
  test.each([
    [
      "aws_db_instance.Database_Instance_02E622FB",
      { mode: "managed", type: "aws_db_instance", name: "Database_Instance_02E622FB" },
    ],
    ["aws_subnet.public[2]", { mode: "managed", type: "aws_subnet", name: "public", index: 2 }],
    ['aws_subnet.public["ap-northeast-2a"]', { type: "aws_subnet", name: "public", index: "ap-northeast-2a" }],
    ["data.aws_ami.al2023", { mode: "data", type: "aws_ami", name: "al2023" }],
    ["module.legacy.aws_s3_bucket.logs", { module: "module.legacy", type: "aws_s3_bucket", name: "logs" }],
    [
      'module.apps["a.b"].module.db[0].aws_db_instance.main["x]y"]',
      { module: 'module.apps["a.b"].module.db[0]', type: "aws_db_instance", name: "main", index: "x]y" },
    ],
  ])("%s", (address, parts) => {
    expect(parseAddress(address)).toMatchObject(parts);
  });

  test.each(["", "aws_vpc", "aws_vpc.x.y", ".aws_vpc.x", "aws_vpc.x[", "aws_vpc x"])(
    "%j is refused as an address",
    (address) => {
      expect(() => parseAddress(address)).toThrow(/not a valid resource address/);
    },
  );

  test("a plan entry's address comes from Terraform's own fields when present; an unreadable one is undefined, not an error", () => {
    expect(addressOf({ address: "aws_vpc.main" })).toEqual({ mode: "managed", type: "aws_vpc", name: "main" });
    expect(addressOf({ address: 'aws_s3_bucket.logs["a"]["b"]', type: "aws_s3_bucket", name: "logs" })).toEqual({
      mode: "managed",
      type: "aws_s3_bucket",
      name: "logs",
    });
    expect(addressOf({ address: 'aws_s3_bucket.logs["a"]["b"]' })).toBeUndefined();
  });

  test("an address maps to its synthesized block and construct path; module and unknown addresses map to nothing", () => {
    // given a block as `cdktf synth` writes it, with its construct path in the metadata
    const block = { "//": { metadata: { path: "prod/Database/Instance" } }, lifecycle: { prevent_destroy: true } };
    const stack = { resource: { aws_db_instance: { Database_Instance_02E622FB: block } } };
    const at = (address: string) => addressOf({ address });
    expect(synthesizedResource(stack, at("aws_db_instance.Database_Instance_02E622FB"))).toEqual({
      values: block,
      constructPath: "Database/Instance",
    });
    // every instance of a counted resource is the same block
    expect(synthesizedResource(stack, at("aws_db_instance.Database_Instance_02E622FB[1]"))?.values).toBe(block);
    expect(synthesizedResource(stack, at("module.x.aws_db_instance.Database_Instance_02E622FB"))).toBeUndefined();
    expect(synthesizedResource(stack, at("aws_db_instance.Gone_1"))).toBeUndefined();
  });
});

describe("attribute paths and differences", () => {
  test("paths print as Terraform writes them, and ignore_changes entries read back the same", () => {
    expect(formatPath(["tags", "Owner"])).toBe("tags.Owner");
    expect(formatPath(["root_block_device", 0, "volume_size"])).toBe("root_block_device[0].volume_size");
    expect(formatPath(["tags", "kubernetes.io/role"])).toBe('tags["kubernetes.io/role"]');
    expect(parseAttributePath("desired_capacity")).toEqual(["desired_capacity"]);
    expect(parseAttributePath('tags["Owner"]')).toEqual(["tags", "Owner"]);
    expect(parseAttributePath("root_block_device[0].volume_size")).toEqual(["root_block_device", 0, "volume_size"]);
    expect(isWithin(["tags", "Owner"], ["tags"])).toBe(true);
    expect(isWithin(["tags"], ["tags", "Owner"])).toBe(false);
    expect(isWithin(["tags_all", "Owner"], ["tags"])).toBe(false);
  });

  test("nested changes are found leaf by leaf; equal values, and null against absent, are not changes", () => {
    const before = {
      tags: { Name: "web", Team: "a" },
      ingress: [{ from_port: 80 }, { from_port: 443 }],
      description: null,
      size: 20,
    };
    const after = {
      tags: { Name: "web", Owner: "alice" },
      ingress: [{ from_port: 80 }, { from_port: 8443 }],
      size: 20,
    };
    const changes = attributeChanges(update("aws_x.y", before, after).change);
    expect(changes.map((c) => [formatPath(c.path), c.before, c.after])).toEqual([
      ["ingress[1].from_port", 443, 8443],
      ["tags.Owner", null, "alice"],
      ["tags.Team", "a", null],
    ]);
  });

  test("a list that grew or shrank is one change of the whole list", () => {
    const changes = attributeChanges(update("aws_x.y", { ids: ["a"] }, { ids: ["a", "b"] }).change);
    expect(changes).toEqual([{ path: ["ids"], before: ["a"], after: ["a", "b"], sensitive: false }]);
  });

  test("a value marked sensitive on either side is flagged, and never shown", () => {
    const change = {
      ...update("aws_x.y", { secret: "old", name: "a" }, { secret: "new", name: "b" }).change,
      after_sensitive: { secret: true },
    };
    const changes = attributeChanges(change);
    expect(changes.map((c) => [formatPath(c.path), c.sensitive])).toEqual([
      ["name", false],
      ["secret", true],
    ]);
    expect(displayValue("new", true)).toBe("(sensitive)");
    expect(displayValue(null)).toBe("(none)");
    expect(displayValue("x".repeat(100))).toHaveLength(60);
  });
});

test("the resources of the state a plan starts from: managed ones in every module; none when Terraform leaves the state out", () => {
  const base = planDocument({ emptyState: true });
  expect(priorManagedResources(base)).toBe(0);
  const module = (resources: Array<{ mode: string }>, child_modules: any[] = []) => ({ resources, child_modules });
  const withState = {
    ...base,
    prior_state: {
      values: {
        root_module: module(
          [{ mode: "managed" }, { mode: "data" }],
          [module([{ mode: "managed" }], [module([{ mode: "managed" }, { mode: "data" }])])],
        ),
      },
    },
  };
  expect(priorManagedResources(withState)).toBe(3);
  // a state of data sources only still holds nothing this plan manages
  expect(priorManagedResources({ ...base, prior_state: { values: { root_module: module([{ mode: "data" }]) } } })).toBe(
    0,
  );
  expect(priorManagedResources({ ...base, prior_state: {} })).toBe(0);
});

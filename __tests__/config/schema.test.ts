import { parseEnvironment } from "../../src/config/load";
import { environmentJsonSchema } from "../../src/config/json-schema";
import { environmentFile } from "../helpers";

/** The problems one environment file has, as the user would read them. */
function problemsOf(overrides: Record<string, unknown>, name = "prod"): string[] {
  return parseEnvironment(name, environmentFile(overrides)).problems;
}

const network = environmentFile().network;

describe("an environment file", () => {
  test("a complete file is valid and gets the environment-level defaults", () => {
    // given a file that leaves flow logs, tags and state unset
    const parsed = parseEnvironment("dev", environmentFile());
    // then it is valid, and defaults are the safe ones
    expect(parsed.problems).toEqual([]);
    expect(parsed.environment).toMatchObject({
      name: "dev",
      network: { flowLogs: { enabled: true, retentionDays: 90 } },
      state: { backend: "local", path: "state/dev.tfstate" },
      tags: {},
    });
  });

  test.each([
    ["a missing field", { region: undefined }, /^region is required/],
    ["a missing nested field", { network: { ...network, cidr: undefined } }, /^network\.cidr is required/],
    [
      "a misspelled field, answered with the allowed spelling",
      { netwrok: network },
      /^netwrok is not a known field: did you mean network\? \(allowed: project, region, accountId, layout, production, deployOrder, network, app, access, database, domain, loadBalancer, exceptions, state, tags, monitoring, cost\)/,
    ],
    [
      "a misspelled nested field",
      { network: { ...network, natGateway: "single" } },
      /^network\.natGateway is not a known field: did you mean natGateways\? \(allowed: cidr, availabilityZones, natGateways, flowLogs\)/,
    ],
    [
      "a wrong type",
      { network: { ...network, availabilityZones: "ap-northeast-2a" } },
      /^network\.availabilityZones must be a list \(got "ap-northeast-2a"\)/,
    ],
    [
      "an unknown region",
      { region: "ap-northeast-9" },
      /^region must be one of: ap-northeast-2, .* \(got "ap-northeast-9"\)/,
    ],
    [
      "an AZ of another region",
      { network: { ...network, availabilityZones: ["ap-northeast-2a", "ap-northeast-3a"] } },
      /^network\.availabilityZones\[1\] "ap-northeast-3a" is not in region ap-northeast-2 \(allowed: ap-northeast-2a, ap-northeast-2b, ap-northeast-2c, ap-northeast-2d\)/,
    ],
    [
      "fewer than two AZs",
      { network: { ...network, availabilityZones: ["ap-northeast-2a"] } },
      /^network\.availabilityZones must list at least 2 distinct availability zones/,
    ],
    [
      "the same AZ twice",
      { network: { ...network, availabilityZones: ["ap-northeast-2a", "ap-northeast-2a"] } },
      /^network\.availabilityZones\[1\] "ap-northeast-2a" is listed twice/,
    ],
    [
      "a CIDR that is not one",
      { network: { ...network, cidr: "10.0.0/16" } },
      /^network\.cidr must be an IPv4 CIDR block/,
    ],
    [
      "a CIDR too small for the subnet plan",
      { network: { ...network, cidr: "10.0.0.0/24" } },
      /^network\.cidr must be a \/16 to \/22 block.*\(got \/24\)/,
    ],
    [
      "a CIDR too large for a VPC",
      { network: { ...network, cidr: "10.0.0.0/8" } },
      /^network\.cidr must be a \/16 to \/22 block.*\(got \/8\)/,
    ],
    [
      "a CIDR with host bits set",
      { network: { ...network, cidr: "10.0.3.0/16" } },
      /^network\.cidr must start at its network address: did you mean 10\.0\.0\.0\/16\?/,
    ],
    [
      "a public CIDR",
      { network: { ...network, cidr: "8.8.0.0/16" } },
      /^network\.cidr must lie inside a private range/,
    ],
    [
      "an unknown NAT strategy",
      { network: { ...network, natGateways: "two" } },
      /^network\.natGateways must be one of: single, per-az, none \(got "two"\)/,
    ],
    [
      "a retention CloudWatch does not offer",
      { network: { ...network, flowLogs: { enabled: true, retentionDays: 45 } } },
      /^network\.flowLogs\.retentionDays must be one of: 1, 3, 5, 7, 14, 30, 60, 90,.* \(got 45\)/,
    ],
    [
      "an unknown backend",
      { state: { backend: "gcs" } },
      /^state\.backend must be one of: local, s3, cloud \(got "gcs"\)/,
    ],
    ["an S3 backend without a bucket", { state: { backend: "s3" } }, /^state\.bucket is required/],
    [
      "an S3 bucket with dots",
      { state: { backend: "s3", bucket: "my.state" } },
      /^state\.bucket must be an S3 bucket name.*no dots/,
    ],
    ["a cloud backend without an organization", { state: { backend: "cloud" } }, /^state\.organization is required/],
    [
      "a misspelled backend field",
      { state: { backend: "s3", bucket: "acme-state", regoin: "x" } },
      /^state\.regoin is not a known field: did you mean region\? \(allowed: backend, bucket, key, region\)/,
    ],
    [
      "a project name too long for AWS names",
      { project: "a-very-long-project" },
      /^project must be 2 to 12 lowercase letters/,
    ],
    // names AWS refuses at apply, for the resource whose name begins with the project's
    [
      "a project that would name the load balancer internal-...",
      { project: "internal" },
      /^project must not be "internal" or begin with "internal-": a load balancer's name may not \(<project>-<env>-alb\) \(got "internal"\)/,
    ],
    [
      "a project beginning internal-",
      { project: "internal-ops" },
      /^project must not be "internal" or begin with "internal-"/,
    ],
    [
      "a project that would name the deploy document aws...",
      { project: "awsome" },
      /^project must not begin with "aws": an SSM document's name may not \(<project>-<env>-deploy\) \(got "awsome"\)/,
    ],
    ["a project beginning amazon", { project: "amazonia" }, /^project must not begin with "amazon": an SSM document/],
    ["a project beginning amzn", { project: "amzn-shop" }, /^project must not begin with "amzn": an SSM document/],
    ["a project beginning xn--", { project: "xn--shop" }, /^project must not begin with "xn--": an S3 bucket's name/],
    ["a project beginning ssm", { project: "ssmtools" }, /^project must not begin with "ssm": an SSM parameter's name/],
    ["a project with a double hyphen", { project: "ab--cd" }, /^project must not hold "--": an RDS identifier may not/],
    ["a project beginning sthree", { project: "sthree" }, /^project must not begin with "sthree": an S3 bucket's name/],
    ["a reserved tag", { tags: { Environment: "x" } }, /^tags\.Environment is set by the project itself/],
    [
      "an account id that is not one",
      { accountId: "1234" },
      /^accountId must be a 12-digit AWS account id \(got "1234"\)/,
    ],
    [
      "an instance type that is not one",
      { app: { instanceType: "large", version: "1.0.0", count: { min: 1, desired: 1, max: 1 } } },
      /^app\.instanceType must be <family>\.<size> with family one of t3, .* \(got "large"\)/,
    ],
    [
      "min above max",
      { app: { instanceType: "t3.micro", version: "1.0.0", count: { min: 3, desired: 3, max: 2 } } },
      /^app\.count\.min must not exceed count\.max \(2\) \(got 3\)/,
    ],
    [
      "desired outside min..max",
      { app: { instanceType: "t3.micro", version: "1.0.0", count: { min: 1, desired: 5, max: 2 } } },
      /^app\.count\.desired must be from count\.min \(1\) to count\.max \(2\) \(got 5\)/,
    ],
    [
      "a fractional count",
      { app: { instanceType: "t3.micro", version: "1.0.0", count: { min: 1.5, desired: 2, max: 2 } } },
      /^app\.count\.min must be an integer from 0 to 100 \(got 1\.5\)/,
    ],
    [
      "storage below RDS's minimum",
      { database: { instanceClass: "db.t4g.micro", allocatedStorageGb: 5 } },
      /^database\.allocatedStorageGb must be an integer from 20 to 59578 \(got 5\)/,
    ],
  ])("rejects %s", (_case, overrides, message) => {
    const problems = problemsOf(overrides as Record<string, unknown>);
    expect(problems).toContainEqual(expect.stringMatching(message));
  });

  test("reports every problem of a file at once, field errors and AZ errors together", () => {
    // given a file with a bad CIDR, an AZ of another region and a misspelled field
    const problems = problemsOf({
      network: { ...network, cidr: "10.0.0.0/30", availabilityZones: ["ap-northeast-2a", "us-east-1a"] },
      colour: "blue",
    });
    // then all three are reported, not just the first
    expect(problems).toHaveLength(3);
    expect(problems.join("\n")).toMatch(/network\.cidr/);
    expect(problems.join("\n")).toMatch(/availabilityZones\[1\] "us-east-1a"/);
    expect(problems.join("\n")).toMatch(/colour is not a known field/);
  });

  test("a folder name that cannot prefix AWS names is rejected", () => {
    expect(parseEnvironment("Prod_EU", environmentFile()).problems).toContainEqual(
      expect.stringMatching(/^folder name must be 2 to 12 lowercase letters.*\(got "Prod_EU"\)/),
    );
  });

  test("a name ending in a hyphen is refused by a rule that says so (review CS: the rule said only how it starts)", () => {
    expect(parseEnvironment("qa-", environmentFile()).problems).toContainEqual(
      'folder name must be 2 to 12 lowercase letters, digits or hyphens, starting with a letter and ending with a letter or digit (it becomes the stack name and prefixes resource names) (got "qa-")',
    );
    expect(parseEnvironment("qa", environmentFile({ project: "shop-" })).problems).toContainEqual(
      'project must be 2 to 12 lowercase letters, digits or hyphens, starting with a letter and ending with a letter or digit (got "shop-")',
    );
  });

  test("remote state defaults are derived from the project and environment", () => {
    const s3 = parseEnvironment("prod", environmentFile({ state: { backend: "s3", bucket: "acme-state" } }));
    expect(s3.environment?.state).toEqual({
      backend: "s3",
      bucket: "acme-state",
      key: "shop/prod/terraform.tfstate",
      region: "ap-northeast-2",
    });
    const cloud = parseEnvironment("prod", environmentFile({ state: { backend: "cloud", organization: "acme" } }));
    expect(cloud.environment?.state).toEqual({
      backend: "cloud",
      organization: "acme",
      workspace: "shop-prod",
      hostname: "app.terraform.io",
    });
  });
});

test("project names that only look like the reserved ones are accepted", () => {
  for (const project of ["shop", "internals", "awesome", "amaz", "xn-shop", "three"]) {
    const parsed = parseEnvironment("prod", environmentFile({ project }));
    expect({ project, problems: parsed.problems }).toEqual({ project, problems: [] });
  }
});

describe("no field is ignored: a setting the schema does not know is refused, at every level", () => {
  test("every object of the schema forbids unknown fields (a loose one would take database.password and say nothing); only tags is a map of the user's keys", () => {
    const loose: string[] = [];
    const walk = (node: unknown, at: string): void => {
      if (typeof node !== "object" || node === null) return;
      const schema = node as Record<string, unknown>;
      if (schema.type === "object" || schema.properties) {
        if (schema.properties ? schema.additionalProperties !== false : at !== "/properties/tags") loose.push(at);
      }
      for (const [key, value] of Object.entries(schema)) walk(value, `${at}/${key}`);
    };
    const schema = JSON.parse(environmentJsonSchema());
    walk(schema, "");
    expect(loose).toEqual([]);
    // the walk saw the nested objects (network, app, database, ...), not only the top
    expect(JSON.stringify(schema).match(/"additionalProperties":false/g)!.length).toBeGreaterThan(10);
  });

  test("a password under database is refused, naming the field and never showing the value", () => {
    const database = { ...environmentFile().database, password: "hunter2" };
    const { problems } = parseEnvironment("dev", environmentFile({ database }));
    expect(problems).toEqual([expect.stringMatching(/^database\.password is not a known field \(allowed: engine, /)]);
    expect(problems.join("\n")).not.toContain("hunter2");
  });
});

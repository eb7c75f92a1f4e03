import { parseEnvironment } from "../../src/config/load";
import { vcpusOf } from "../../src/config/instance-types";
import { environment, environmentFile, LARGER_DATABASE } from "../helpers";

/** The app's release and processes as an environment folder sets them (packing the release: artifact/package-app.test.ts). */

const problemsOf = (app: Record<string, unknown>, overrides: Record<string, unknown> = {}) =>
  parseEnvironment("dev", environmentFile({ app, ...overrides })).problems;

describe("app.version", () => {
  test("is required, naming the field and what is allowed", () => {
    expect(problemsOf({ instanceType: "t3.micro" })).toEqual([
      expect.stringMatching(/^app\.version is required: the app release to run/),
    ]);
  });
  test("must be a release version: no shell characters reach the deploy command", () => {
    expect(problemsOf({ instanceType: "t3.micro", version: "1.0; rm -rf /" })).toEqual([
      expect.stringMatching(/^app\.version must be a release version: .* \(got "1\.0; rm -rf \/"\)$/),
    ]);
  });
});

describe("app.processes", () => {
  test.each([
    ["t3.micro", 3], // 2 vCPUs, but never fewer than 3 by default (MIN_DEFAULT_PROCESSES: a late crash)
    ["t4g.small", 3],
    ["m7g.medium", 3], // 1 vCPU
    ["m7g.large", 3],
    ["c7i.xlarge", 4],
    ["c7i.2xlarge", 8],
    ["c7i.8xlarge", 32],
    ["r8g.16xlarge", 32], // 64 vCPUs, but at most 32 (the boot script must fit EC2's user data limit)
  ])("defaults to one per vCPU, at least 3 and at most 32: %s runs %i", (instanceType, processes) => {
    // (a database that takes 32 processes' connections: the default db.t4g.micro does not)
    expect(
      environment("dev", { app: { instanceType, version: "1.0.0" }, database: LARGER_DATABASE }).app.processes,
    ).toBe(processes);
  });

  test("an explicit count wins", () => {
    expect(
      environment("dev", { app: { instanceType: "m7g.large", version: "1.0.0", processes: 6 } }).app.processes,
    ).toBe(6);
  });

  test("is bounded", () => {
    expect(problemsOf({ instanceType: "t3.micro", version: "1.0.0", processes: 0 })).toEqual([
      "app.processes must be an integer from 1 to 32 (got 0)",
    ]);
    // one more would not fit EC2's user data limit on a single server (see the release tests)
    expect(problemsOf({ instanceType: "t3.micro", version: "1.0.0", processes: 33 })).toEqual([
      "app.processes must be an integer from 1 to 32 (got 33)",
    ]);
  });

  test("the nginx port cannot collide with an app process port", () => {
    expect(problemsOf({ instanceType: "t3.micro", version: "1.0.0", processes: 4, port: 8003 })).toEqual([
      "app.port must not be one of the app processes' ports 8001-8004 (app.processes: 4); nginx listens on app.port (got 8003)",
    ]);
  });
});

describe("app.instanceType", () => {
  test("a size the family does not come in is refused, listing the sizes it does", () => {
    expect(vcpusOf("m5.micro")).toBeUndefined();
    expect(problemsOf({ instanceType: "m5.micro", version: "1.0.0" })).toEqual([
      'app.instanceType must be a size m5 comes in: large, xlarge, 2xlarge, 4xlarge, 8xlarge, 12xlarge, 16xlarge (got "m5.micro")',
    ]);
    expect(problemsOf({ instanceType: "c5.8xlarge", version: "1.0.0" })[0]).toMatch(/c5 comes in: .*4xlarge, 12xlarge/);
  });
});

describe("app.logRetentionDays", () => {
  test("defaults to a month outside production (production: a year, see the release tests)", () => {
    expect(environment("dev").app.logRetentionDays).toBe(30);
  });
});

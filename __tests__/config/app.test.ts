import { parseEnvironment } from "../../src/config/load";
import * as fs from "node:fs";
import * as path from "node:path";
import { memoryMibOf, vcpusOf } from "../../src/config/instance-types";
import { serverMemoryNeed } from "../../src/config/rules";
import { PROJECT_ROOT } from "../../src/project-root";
import { environment, environmentFile, LARGER_DATABASE, productionEnvironmentFile } from "../helpers";

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

describe("the server's memory holds its app processes, the system and a local database (docs/inside-the-server.md#memory)", () => {
  test.each([
    // AWS's published memory of each (https://aws.amazon.com/ec2/instance-types/)
    ["t3.nano", 512],
    ["t4g.micro", 1024],
    ["t3a.medium", 4096],
    ["t3.2xlarge", 32768],
    ["m7g.medium", 4096],
    ["c7g.medium", 2048],
    ["r7g.medium", 8192],
    ["m5.large", 8192],
    ["c6i.xlarge", 8192],
    ["r6g.2xlarge", 65536],
    ["c5.12xlarge", 98304],
    ["m7i.16xlarge", 262144],
  ])("%s has %i MiB", (instanceType, mib) => {
    expect(memoryMibOf(instanceType)).toBe(mib);
  });

  const singleServer = (app: Record<string, unknown>) =>
    parseEnvironment("dev", environmentFile({ layout: "single-server", app: { version: "1.0.0", ...app } })).problems;
  const fleet = (app: Record<string, unknown>) =>
    parseEnvironment("dev", environmentFile({ app: { version: "1.0.0", ...app } })).problems;

  test("a t3.nano cannot run 3 app processes, on any layout: every part is named, and what would hold them", () => {
    expect(fleet({ instanceType: "t3.nano" })).toEqual([
      "app.instanceType t3.nano has 512 MiB of memory, less than its server needs: about 300 MiB for the system " +
        "(the kernel, the SSM and CloudWatch agents, nginx) + 3 app.processes x 80 MiB (app.processMemoryMb) = 540 MiB; " +
        "with no swap, the kernel kills processes past it: a larger type (t3.micro has 1024 MiB), at most 2 app.processes, " +
        "or if one of your app's processes takes at most 70 MiB at its peak (its resident memory), app.processMemoryMb set to what it takes",
    ]);
    // 2 fit outside production
    expect(fleet({ instanceType: "t3.nano", processes: 2 })).toEqual([]);
  });

  test("the larger type named runs as many processes as it would by default, and holds them (review CB)", () => {
    // c5.large (2 vCPUs, 4 GiB) runs 3 of 2,000 MiB: 6,300 MiB; c5.xlarge would run 4 (8,300 of 8,192)
    expect(fleet({ instanceType: "c5.large", processMemoryMb: 2000 })).toEqual([
      expect.stringMatching(
        / = 6300 MiB; .*: a larger type \(c5\.2xlarge has 16384 MiB\), at most 1 app\.processes, or /,
      ),
    ]);
    expect(fleet({ instanceType: "c5.xlarge", processMemoryMb: 2000 })[0]).toMatch(
      /4 app\.processes x 2000 MiB .* = 8300 MiB/,
    );
    expect(fleet({ instanceType: "c5.2xlarge", processMemoryMb: 2000 })).toEqual([]);
    // processes the file sets stay as set: 3 of 2,000 MiB fit c5.xlarge
    expect(fleet({ instanceType: "c5.large", processes: 3, processMemoryMb: 2000 })[0]).toMatch(
      /a larger type \(c5\.xlarge has 8192 MiB\)/,
    );
  });

  test("a remedy that cannot help is not offered: a single server on a nano holds nothing but a larger type (review CB)", () => {
    // 300 + 1 x 16 + 176 + 6 x 8 = 540 of 512
    expect(singleServer({ instanceType: "t4g.nano", processes: 1, processMemoryMb: 16 })).toEqual([
      expect.stringMatching(
        / = 540 MiB; with no swap, the kernel kills processes past it: only a larger type \(t4g\.micro has 1024 MiB\) holds it$/,
      ),
    ]);
    // 14 processes of 16 MiB on a fleet's nano: 13 fit, but none takes less than 16 MiB (212 / 14 is 15)
    const fourteen = { instanceType: "t3.nano", version: "1.0.0", processes: 14, processMemoryMb: 16 };
    expect(parseEnvironment("dev", environmentFile({ app: fourteen, database: LARGER_DATABASE })).problems).toEqual([
      expect.stringMatching(/ = 524 MiB; .*: a larger type \(t3\.micro has 1024 MiB\), or at most 13 app\.processes$/),
    ]);
  });

  test("in production, fewer than 3 processes is named as the exception it is (review CB)", () => {
    const problems = parseEnvironment(
      "prod",
      productionEnvironmentFile({
        app: { instanceType: "t4g.nano", version: "1.0.0", count: { min: 2, desired: 2, max: 4 } },
      }),
    ).problems;
    expect(problems).toEqual([
      expect.stringMatching(
        /^app\.instanceType t4g\.nano .*: a larger type \(t4g\.micro has 1024 MiB\), at most 2 app\.processes \(which production allows only as an exception: app\.processes\), or if /,
      ),
    ]);
  });

  test("a single server counts its own database too: its buffers and a connection for each pool's and the dump's", () => {
    // 3 processes: 300 + 240 + 176 + 16 x 8 = 844 of 1024
    expect(singleServer({ instanceType: "t3.micro" })).toEqual([]);
    // 6: 300 + 480 + 176 + 31 x 8 = 1204
    expect(singleServer({ instanceType: "t3.micro", processes: 6 })).toEqual([
      expect.stringMatching(
        /^app\.instanceType t3\.micro has 1024 MiB of memory, .* \+ 6 app\.processes x 80 MiB \(app\.processMemoryMb\) \+ 424 MiB for its own postgres \(its 128-MiB buffers and 31 connections\) = 1204 MiB; .* \(t3\.small has 2048 MiB\)/,
      ),
    ]);
    // the same 6 processes on a fleet's server, with RDS: 780 MiB
    expect(fleet({ instanceType: "t3.micro", processes: 6 })).toEqual([]);
  });

  test("app.processMemoryMb is what the processes are counted at: an app of 600 MiB a process needs a t3.medium beside its database", () => {
    expect(singleServer({ instanceType: "t3.small", processMemoryMb: 300 })).toEqual([]);
    expect(singleServer({ instanceType: "t3.small", processMemoryMb: 600 })).toEqual([
      expect.stringMatching(
        /^app\.instanceType t3\.small has 2048 MiB .* 3 app\.processes x 600 MiB .* = 2404 MiB; .* \(t3\.medium has 4096 MiB\)/,
      ),
    ]);
    expect(singleServer({ instanceType: "t3.medium", processMemoryMb: 600 })).toEqual([]);
    expect(fleet({ instanceType: "t3.small", processMemoryMb: 8 })).toEqual([
      "app.processMemoryMb must be an integer from 16 to 65536 (got 8)",
    ]);
  });

  test("with app.osRelease, dnf runs beside everything else while it updates the server: its memory counts too", () => {
    // 844 MiB without it (above), 1,100 with it: a t3.micro single server holds 2 processes then
    expect(singleServer({ instanceType: "t3.micro", osRelease: "2023.9.20251117" })).toEqual([
      expect.stringMatching(
        /^app\.instanceType t3\.micro has 1024 MiB .* \+ 304 MiB for its own postgres \(its 128-MiB buffers and 16 connections\) \+ 256 MiB for dnf while app\.osRelease updates it in place = 1100 MiB; .*: a larger type \(t3\.small has 2048 MiB\), at most 2 app\.processes, or /,
      ),
    ]);
    expect(singleServer({ instanceType: "t3.small", osRelease: "2023.9.20251117" })).toEqual([]);
  });

  test("the figures docs/inside-the-server.md#memory gives are the rule's", () => {
    const page = fs.readFileSync(path.join(PROJECT_ROOT, "docs/inside-the-server.md"), "utf8").replace(/\s+/g, " ");
    const [, split, single] = page.match(
      /3 processes take (\d+) MiB on a load-balanced or split server, and (\d+) MiB on a single server with PostgreSQL/,
    )!;
    expect(Number(split)).toBe(serverMemoryNeed(environment("dev")).total);
    expect(Number(single)).toBe(
      serverMemoryNeed(
        environment("dev", { layout: "single-server", app: { instanceType: "t3.micro", version: "1.0.0" } }),
      ).total,
    );
  });
});

describe("app.logRetentionDays", () => {
  test("defaults to a month outside production (production: a year, see the release tests)", () => {
    expect(environment("dev").app.logRetentionDays).toBe(30);
  });
});

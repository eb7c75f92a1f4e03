import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { packageApp } from "../../src/artifact/package-app";
import { parseEnvironment } from "../../src/config/load";
import { vcpusOf } from "../../src/config/instance-types";
import { environment, environmentFile, tempDir } from "../helpers";

/** The app's release and processes as an environment folder sets them, and the packaged release. */

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
    ["t3.micro", 2],
    ["t4g.small", 2],
    ["m7g.medium", 2], // 1 vCPU, but never fewer than 2 by default
    ["m7g.large", 2],
    ["c7i.2xlarge", 8],
    ["r8g.16xlarge", 48], // 64 vCPUs, but at most 48 (the boot script must fit EC2's user data limit)
  ])("defaults to one per vCPU, at least 2 and at most 48: %s runs %i", (instanceType, processes) => {
    expect(environment("dev", { app: { instanceType, version: "1.0.0" } }).app.processes).toBe(processes);
  });

  test("an explicit count wins", () => {
    expect(
      environment("dev", { app: { instanceType: "m7g.large", version: "1.0.0", processes: 6 } }).app.processes,
    ).toBe(6);
  });

  test("is bounded", () => {
    expect(problemsOf({ instanceType: "t3.micro", version: "1.0.0", processes: 0 })).toEqual([
      "app.processes must be an integer from 1 to 48 (got 0)",
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

describe("npm run package-app", () => {
  const appDir = path.resolve(__dirname, "../../app");
  /** The first test's tarball, read again by the next (packing takes a few hundred milliseconds). */
  let packedOnce: ReturnType<typeof packageApp> | undefined;

  test("packs the app into dist/app-<version>.tar.gz with its checksum, byte for byte reproducible", () => {
    const out = tempDir("package-app-");
    const first = packageApp(appDir, path.join(out, "a"));
    packedOnce = first;
    const second = packageApp(appDir, path.join(out, "b"));
    const version = JSON.parse(fs.readFileSync(path.join(appDir, "package.json"), "utf8")).version;
    expect(first.version).toBe(version);
    expect(path.basename(first.file)).toBe(`app-${version}.tar.gz`);
    expect(second.sha256).toBe(first.sha256);
    expect(fs.readFileSync(`${first.file}.sha256`, "utf8")).toBe(`${first.sha256}  app-${version}.tar.gz\n`);
    const listing = spawnSync("tar", ["-tzvf", first.file], { encoding: "utf8" }).stdout;
    const names = listing
      .split("\n")
      .filter(Boolean)
      .map((line) => line.split(/\s+/).pop()!);
    // the app's own files (never a node_modules someone installed in app/), then its dependencies
    expect(names.filter((name) => !name.startsWith("node_modules"))).toEqual([
      "db.js",
      "migrate.js",
      "migrations.js",
      "package-lock.json",
      "package.json",
      "server.js",
    ]);
    expect(listing).toMatch(/^-rw-r--r-- 0\/0 /);
  });

  test("the release carries the database drivers the lock file pins, and nothing the server does not run", () => {
    const packaged = packedOnce ?? packageApp(appDir, tempDir("package-app-deps-"));
    const names = spawnSync("tar", ["-tzf", packaged.file], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
    const lock = JSON.parse(fs.readFileSync(path.join(appDir, "package-lock.json"), "utf8"));
    const manifest = JSON.parse(fs.readFileSync(path.join(appDir, "package.json"), "utf8"));
    // every dependency, at the exact version package.json names and the lock pins
    for (const name of ["pg", "mysql2"]) {
      expect(manifest.dependencies[name]).toMatch(/^\d+\.\d+\.\d+$/);
      expect(lock.packages[`node_modules/${name}`].version).toBe(manifest.dependencies[name]);
      const packed = spawnSync("tar", ["-xzOf", packaged.file, `node_modules/${name}/package.json`], {
        encoding: "utf8",
      });
      expect(JSON.parse(packed.stdout).version).toBe(manifest.dependencies[name]);
    }
    // and every package of the lock's production tree, each once
    const production = Object.entries<any>(lock.packages).filter(([key, p]) => key !== "" && !p.dev && !p.optional);
    for (const [key] of production) expect(names).toContain(`${key}/package.json`);
    // no TypeScript sources, declarations or source maps: Node never loads them
    expect(names.filter((name) => /\.(d\.)?[cm]?ts$|\.map$/.test(name))).toEqual([]);
  });

  test("refuses a package.json version the deploy script would refuse", () => {
    const dir = tempDir("package-app-bad-");
    fs.copyFileSync(path.join(appDir, "server.js"), path.join(dir, "server.js"));
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ version: "1.0 beta" }));
    expect(() => packageApp(dir, path.join(dir, "out"))).toThrow(
      /package\.json: version must match .* \(got "1\.0 beta"\)/,
    );
  });
});

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { packageApp, type PackagedApp } from "../../src/artifact/package-app";
import { sha256Hex } from "../../src/artifact/releases";
import { tempDir } from "../helpers";

/**
 * `npm run package-app`: the working tree's app/ packed in Node into dist/app-<version>.tar.gz,
 * with its checksum, as every release is packed. Packing the sample app with its dependencies
 * takes a few hundred milliseconds, so it is packed once here (with no program on PATH) and read
 * by every test below through one GNU tar listing; the reproducibility test packs it a second time.
 */

const APP_DIR = path.resolve(__dirname, "../../app");
/** The sample app's own files, as a release lists them (before its dependencies). */
const OWN_FILES = ["db.js", "migrate.js", "migrations.js", "package-lock.json", "package.json", "server.js"];

/** `make`'s result, made on the first call (by whichever test needs it first). */
function once<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}

/** The sample app packed once, with no program on PATH (packing must need no tar or gzip). */
const packedWithoutPath = once((): PackagedApp => {
  const saved = process.env.PATH;
  process.env.PATH = "";
  try {
    return packageApp(APP_DIR, tempDir("package-app-nopath-"));
  } finally {
    process.env.PATH = saved;
  }
});

/**
 * GNU tar's verbose listing of that tarball (`tar -tzvf`, without --numeric-owner: owners show
 * as 0/0 only when the headers carry no user or group names), and the entry names in it.
 */
const listed = once(() => {
  const run = spawnSync("tar", ["-tzvf", packedWithoutPath().file], { encoding: "utf8" });
  expect(run.stderr).toBe("");
  const lines = run.stdout.trim().split("\n");
  // mode, owner/group, size, date, time, then the name (which may hold spaces)
  const names = lines.map((line) => /^\S+ \S+ +\d+ \S+ \S+ (.*)$/.exec(line)?.[1] ?? `unparsed: ${line}`);
  return { lines, names };
});

test("packs the app into dist/app-<version>.tar.gz with its checksum, byte for byte reproducible", () => {
  const first = packedWithoutPath();
  const second = packageApp(APP_DIR, tempDir("package-app-"));
  const version = JSON.parse(fs.readFileSync(path.join(APP_DIR, "package.json"), "utf8")).version;
  expect(first.version).toBe(version);
  expect(path.basename(first.file)).toBe(`app-${version}.tar.gz`);
  expect(second.sha256).toBe(first.sha256);
  expect(fs.readFileSync(`${first.file}.sha256`, "utf8")).toBe(`${first.sha256}  app-${version}.tar.gz\n`);
  // the app's own files (never a node_modules someone installed in app/), then its dependencies
  expect(listed().names.filter((name) => !name.startsWith("node_modules"))).toEqual(OWN_FILES);
  expect(listed().lines[0]).toMatch(/^-rw-r--r-- 0\/0 /);
});

test("npm run package-app needs no tar or gzip program (packs on any machine with Node)", () => {
  const packaged = packedWithoutPath();
  expect(fs.statSync(packaged.file).size).toBe(packaged.bytes);
  expect(sha256Hex(fs.readFileSync(packaged.file))).toBe(packaged.sha256);
});

test("GNU tar lists the sample app as before: its files, then its locked dependencies, all 0/0, 1970-01-01", () => {
  const { lines } = listed();
  const own = lines.filter((line) => !/ node_modules(\/|$)/.test(line));
  expect(own.map((line) => line.split(/\s+/).pop())).toEqual(OWN_FILES);
  for (const line of own) expect(line).toMatch(/^-rw-r--r-- 0\/0 +\d+ 1970-01-01 00:00 /);
  for (const line of lines) expect(line).toMatch(/^(-rw-r--r--|-rwxr-xr-x|drwxr-xr-x) 0\/0 +\d+ 1970-01-01 00:00 /);
});

test("the release carries the database drivers the lock file pins, and nothing the server does not run", () => {
  const packaged = packedWithoutPath();
  const { names } = listed();
  const lock = JSON.parse(fs.readFileSync(path.join(APP_DIR, "package-lock.json"), "utf8"));
  const manifest = JSON.parse(fs.readFileSync(path.join(APP_DIR, "package.json"), "utf8"));
  // every dependency, at the exact version package.json names and the lock pins (GNU tar unpacks
  // their package.json files, all in one run)
  const drivers = ["pg", "mysql2"];
  const out = tempDir("package-app-drivers-");
  const unpacked = spawnSync(
    "tar",
    ["-xzf", packaged.file, "-C", out, ...drivers.map((name) => `node_modules/${name}/package.json`)],
    { encoding: "utf8" },
  );
  expect(unpacked.stderr).toBe("");
  for (const name of drivers) {
    expect(manifest.dependencies[name]).toMatch(/^\d+\.\d+\.\d+$/);
    expect(lock.packages[`node_modules/${name}`].version).toBe(manifest.dependencies[name]);
    const packed = fs.readFileSync(path.join(out, "node_modules", name, "package.json"), "utf8");
    expect(JSON.parse(packed).version).toBe(manifest.dependencies[name]);
  }
  // and every package of the lock's production tree, each once
  const production = Object.entries<any>(lock.packages).filter(([key, p]) => key !== "" && !p.dev && !p.optional);
  for (const [key] of production) expect(names).toContain(`${key}/package.json`);
  // no TypeScript sources, declarations or source maps: Node never loads them
  expect(names.filter((name) => /\.(d\.)?[cm]?ts$|\.map$/.test(name))).toEqual([]);
});

test("refuses a package.json version the deploy script would refuse", () => {
  const dir = tempDir("package-app-bad-");
  fs.copyFileSync(path.join(APP_DIR, "server.js"), path.join(dir, "server.js"));
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ version: "1.0 beta" }));
  expect(() => packageApp(dir, path.join(dir, "out"))).toThrow(
    /package\.json: version must match .* \(got "1\.0 beta"\)/,
  );
});

import * as fs from "node:fs";
import * as path from "node:path";
import { DependencyError, installedDependencies, npmEnvironment } from "../../src/artifact/app-dependencies";
import type { TarEntry } from "../../src/artifact/tar";
import { tempDir } from "../helpers";

/**
 * The sample app's dependencies are installed by `npm ci` from its lock, the only download a test
 * run may make. The run's global setup sets NODE_EXTRA_CA_CERTS aside (every node process would
 * parse that file as it starts: __tests__/global-setup.js); npm, which may download through the
 * TLS-inspecting proxy the file is for, gets it back.
 */

const CA = "/etc/ssl/certs/ca-certificates.crt";

describe("the environment npm ci runs in", () => {
  test("has NODE_EXTRA_CA_CERTS back from SAVED_NODE_EXTRA_CA_CERTS, and never phones home for updates", () => {
    const env = npmEnvironment({ PATH: "/usr/bin", SAVED_NODE_EXTRA_CA_CERTS: CA });
    expect(env).toMatchObject({ PATH: "/usr/bin", NODE_EXTRA_CA_CERTS: CA, npm_config_update_notifier: "false" });
  });

  test("keeps a NODE_EXTRA_CA_CERTS of its own, and adds none when nothing was set aside", () => {
    expect(
      npmEnvironment({ NODE_EXTRA_CA_CERTS: "/mine.pem", SAVED_NODE_EXTRA_CA_CERTS: CA }).NODE_EXTRA_CA_CERTS,
    ).toBe("/mine.pem");
    expect(npmEnvironment({ PATH: "/usr/bin" })).not.toHaveProperty("NODE_EXTRA_CA_CERTS");
  });

  test("is what installedDependencies gives npm (a stand-in npm records it), with npm's settings that shape the tree pinned", () => {
    const work = tempDir("app-dependencies-");
    withStandInNpm(work, { "left-pad": "1.3.0" }, () => {
      const modules = installedDependencies(appFiles(work, { "left-pad": "1.3.0" }), path.join(work, "cache"))!;
      const saw = JSON.parse(fs.readFileSync(path.join(path.dirname(modules), "npm-saw.json"), "utf8"));
      expect(saw).toEqual({
        // a user's ~/.npmrc (optional=false, install-strategy=linked) would change what is released
        args: expect.arrayContaining([
          "ci",
          "--omit=dev",
          "--include=optional",
          "--install-strategy=hoisted",
          "--ignore-scripts",
        ]),
        ca: CA,
      });
      expect(fs.existsSync(path.join(modules, "left-pad", "package.json"))).toBe(true);
    });
  });
});

describe("the installed tree is the lock's, or it is neither used nor kept", () => {
  test("a tree that lacks a package the lock pins (an npm setting left it out) fails, naming it, and nothing is cached", () => {
    const work = tempDir("app-dependencies-");
    const cache = path.join(work, "cache");
    withStandInNpm(work, { "left-pad": "1.3.0" }, () => {
      const files = appFiles(work, { "left-pad": "1.3.0", "pg-cloudflare": "1.4.1" }, ["pg-cloudflare"]);
      expect(() => installedDependencies(files, cache)).toThrow(DependencyError);
      expect(() => installedDependencies(files, cache)).toThrow(
        /other than its lock pins them \(pg-cloudflare 1\.4\.1: missing\): an npm setting changes what it installs/,
      );
    });
    expect(fs.readdirSync(cache)).toEqual([]);
  });

  test("a cached tree that is not the lock's (installed before, changed by hand) is installed again", () => {
    const work = tempDir("app-dependencies-");
    const cache = path.join(work, "cache");
    withStandInNpm(work, { "left-pad": "1.3.0" }, () => {
      const files = appFiles(work, { "left-pad": "1.3.0" });
      const modules = installedDependencies(files, cache)!;
      fs.writeFileSync(path.join(modules, "left-pad", "package.json"), JSON.stringify({ version: "0.0.1" }));
      fs.rmSync(path.join(path.dirname(modules), "npm-saw.json"));
      expect(installedDependencies(files, cache)).toBe(modules);
      expect(JSON.parse(fs.readFileSync(path.join(modules, "left-pad", "package.json"), "utf8")).version).toBe("1.3.0");
      expect(fs.existsSync(path.join(path.dirname(modules), "npm-saw.json"))).toBe(true); // npm ran again
    });
  });
});

/** An app's package.json and lock (lockfileVersion 3) pinning `pins`, `optional` among them optional. */
test("two releases whose locks differ only in the app's own version share one install (a version bump installs nothing); another pin does not", () => {
  const work = tempDir("app-dependencies-");
  const cache = path.join(work, "cache");
  const versioned = (version: string, pins: Record<string, string>) =>
    appFiles(work, pins).map((entry) => {
      if (entry.path !== "package-lock.json") return entry;
      const lock = JSON.parse(entry.content!.toString());
      lock.version = version;
      lock.packages[""].version = version;
      return { ...entry, content: Buffer.from(JSON.stringify(lock)) };
    });
  let first = "";
  withStandInNpm(work, { "left-pad": "1.3.0" }, () => {
    first = installedDependencies(versioned("1.4.1", { "left-pad": "1.3.0" }), cache)!;
    fs.rmSync(path.join(path.dirname(first), "npm-saw.json"));
    expect(installedDependencies(versioned("1.4.2", { "left-pad": "1.3.0" }), cache)).toBe(first);
    // no npm ran for the second: it left no record of its arguments
    expect(fs.existsSync(path.join(path.dirname(first), "npm-saw.json"))).toBe(false);
  });
  withStandInNpm(work, { "left-pad": "1.2.0" }, () => {
    expect(installedDependencies(versioned("1.4.2", { "left-pad": "1.2.0" }), cache)).not.toBe(first);
  });
  fs.rmSync(work, { recursive: true, force: true });
});

function appFiles(work: string, pins: Record<string, string>, optional: string[] = []): TarEntry[] {
  const file = (name: string, content: string): TarEntry => ({
    path: name,
    type: "file",
    content: Buffer.from(content),
  });
  const packages = Object.fromEntries(
    Object.entries(pins).map(([name, version]) => [
      `node_modules/${name}`,
      { version, ...(optional.includes(name) ? { optional: true } : {}) },
    ]),
  );
  return [
    file("package.json", JSON.stringify({ name: "x", dependencies: pins })),
    file("package-lock.json", JSON.stringify({ lockfileVersion: 3, marker: work, packages: { "": {}, ...packages } })),
  ];
}

/**
 * Runs `work` with a stand-in for npm's CLI (`node <npm_execpath> ci ...` in the staging folder)
 * that installs `installs` (name: version) and records its arguments and NODE_EXTRA_CA_CERTS.
 */
function withStandInNpm(dir: string, installs: Record<string, string>, work: () => void): void {
  const stub = path.join(dir, "npm-cli.js");
  fs.writeFileSync(
    stub,
    [
      'const fs = require("node:fs");',
      `for (const [name, version] of Object.entries(${JSON.stringify(installs)})) {`,
      "  fs.mkdirSync(`node_modules/${name}`, { recursive: true });",
      "  fs.writeFileSync(`node_modules/${name}/package.json`, JSON.stringify({ name, version }));",
      "}",
      'fs.writeFileSync("npm-saw.json", JSON.stringify({ args: process.argv.slice(2), ca: process.env.NODE_EXTRA_CA_CERTS ?? null }));',
    ].join("\n"),
  );
  const saved = { ...process.env };
  try {
    process.env.npm_execpath = stub;
    process.env.SAVED_NODE_EXTRA_CA_CERTS = CA;
    delete process.env.NODE_EXTRA_CA_CERTS;
    work();
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

test("this process, one of the unit runner's, started without NODE_EXTRA_CA_CERTS (the run's global setup)", () => {
  expect(process.env.NODE_EXTRA_CA_CERTS).toBeUndefined();
});

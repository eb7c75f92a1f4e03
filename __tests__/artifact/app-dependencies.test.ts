import * as fs from "node:fs";
import * as path from "node:path";
import { installedDependencies, npmEnvironment } from "../../src/artifact/app-dependencies";
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

  test("is what installedDependencies gives npm (a stand-in npm records it)", () => {
    // a stand-in for npm's CLI, run as `node <npm_execpath> ci ...` in the staging folder
    const work = tempDir("app-dependencies-");
    const stub = path.join(work, "npm-cli.js");
    fs.writeFileSync(
      stub,
      [
        'const fs = require("node:fs");',
        'fs.mkdirSync("node_modules/left-pad", { recursive: true });',
        'fs.writeFileSync("node_modules/left-pad/package.json", "{}");',
        'fs.writeFileSync("npm-saw.json", JSON.stringify({ args: process.argv.slice(2), ca: process.env.NODE_EXTRA_CA_CERTS ?? null }));',
      ].join("\n"),
    );
    const file = (name: string, content: string): TarEntry => ({
      path: name,
      type: "file",
      content: Buffer.from(content),
    });
    const files = [
      file("package.json", JSON.stringify({ name: "x", dependencies: { "left-pad": "1.3.0" } })),
      file("package-lock.json", JSON.stringify({ lockfileVersion: 3, marker: work })),
    ];
    const saved = { ...process.env };
    try {
      process.env.npm_execpath = stub;
      process.env.SAVED_NODE_EXTRA_CA_CERTS = CA;
      delete process.env.NODE_EXTRA_CA_CERTS;
      const modules = installedDependencies(files, path.join(work, "cache"))!;
      const saw = JSON.parse(fs.readFileSync(path.join(path.dirname(modules), "npm-saw.json"), "utf8"));
      expect(saw).toEqual({ args: expect.arrayContaining(["ci", "--omit=dev", "--ignore-scripts"]), ca: CA });
      expect(fs.existsSync(path.join(modules, "left-pad", "package.json"))).toBe(true);
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });
});

test("this process, one of the unit runner's, started without NODE_EXTRA_CA_CERTS (the run's global setup)", () => {
  expect(process.env.NODE_EXTRA_CA_CERTS).toBeUndefined();
});

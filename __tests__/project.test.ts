import * as fs from "node:fs";
import * as path from "node:path";
import { environmentJsonSchema } from "../src/config/json-schema";

// Guards on the project itself: the things a reviewer would otherwise have to remember to check.
const ROOT = path.join(__dirname, "..");
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(relative);
    return /\.(ts|js|mjs|cjs)$/.test(entry.name) ? [relative] : [];
  });
}

/** Every source file of the project and its tests. */
const projectSources = () => ["main.ts", ...sourceFiles("src"), ...sourceFiles("__tests__"), ...sourceFiles("scripts")];

/** Imports of the provider's package root, which loads its 2,000+ modules. */
export function rootProviderImports(source: string): string[] {
  return source.match(/(from\s+|require\(\s*|import\(\s*)["']@cdktf\/provider-aws["']/g) ?? [];
}

/**
 * Imports of zod's `z` as a named binding (`import { z } from "zod"`): esbuild cannot see which of
 * its members such a binding's users take, so the synth's bundle carried all of zod, its ~50
 * locales and JSON Schema converters among them (580 KB of a 3 MB bundle, ~30 ms of every synth,
 * measured). A namespace import (`import * as z from "zod"`) lets it keep only what is used (120
 * KB). Type-only imports compile to nothing and are fine.
 */
export function namedZodImports(source: string): string[] {
  return source.match(/^import\s+(?!type\b)[^*;]*\{[^}]*\bz\b[^}]*\}\s*from\s*["']zod["']/gm) ?? [];
}

/**
 * The argument lists of `bash -c` started without --norc: such a bash, given a socket as its
 * standard input (node's pipes are socket pairs) and no SHLVL, reads ~/.bashrc as if sshd had
 * started it, and runs the script after whatever that file does (pyenv's init, on this machine:
 * about 30 processes, and files written under $HOME).
 */
export function bashCommandsReadingRc(source: string): string[] {
  const calls = source.matchAll(
    /\b(?:spawn|spawnSync|execFile|execFileSync)\(\s*["'](?:\/bin\/)?bash["'],\s*\[([^\]]*)/g,
  );
  return [...calls].map((call) => call[1]).filter((args) => /["']-\w*c["']/.test(args) && !/["']--norc["']/.test(args));
}

describe("the project", () => {
  test("the root-import check recognises every form of a root import, and not a module import", () => {
    const pkg = ["@cdktf", "provider-aws"].join("/"); // spelled apart so this file is not an offender itself
    expect(rootProviderImports(`import { Vpc } from "${pkg}";`)).toHaveLength(1);
    expect(rootProviderImports(`const aws = require('${pkg}')`)).toHaveLength(1);
    expect(rootProviderImports(`await import("${pkg}")`)).toHaveLength(1);
    expect(rootProviderImports(`import { Vpc } from "${pkg}/lib/vpc";`)).toHaveLength(0);
  });

  test("no file imports provider classes from the package root", () => {
    const offenders = projectSources().filter((f) => rootProviderImports(read(f)).length > 0);
    expect(offenders).toEqual([]);
  });

  test("the zod import check finds a named import of z, and not a namespace or type-only import", () => {
    const zod = ["z", "od"].join(""); // spelled apart so this file is not an offender itself
    expect(namedZodImports(`import { z } from "${zod}";`)).toHaveLength(1);
    expect(namedZodImports(`import { ZodError, z } from '${zod}';`)).toHaveLength(1);
    expect(namedZodImports(`import * as z from "${zod}";`)).toHaveLength(0);
    expect(namedZodImports(`import type { z } from "${zod}";`)).toHaveLength(0);
    expect(namedZodImports(`import type * as z from "${zod}";`)).toHaveLength(0);
  });

  test("what the synth bundles imports zod as a namespace, so that the bundle leaves out what it does not use", () => {
    const offenders = ["main.ts", ...sourceFiles("src")].filter((f) => namedZodImports(read(f)).length > 0);
    expect(offenders).toEqual([]);
  });

  test("the bash -c check finds a bash -c without --norc, and not one with it or a bash -n", () => {
    expect(bashCommandsReadingRc(`spawnSync("bash", ["-e", "-c", script], {})`)).toHaveLength(1);
    expect(bashCommandsReadingRc(`spawn(\n  "/bin/bash",\n  ["-ec", script])`)).toHaveLength(1);
    expect(bashCommandsReadingRc(`spawnSync("bash", ["--norc", "-c", script])`)).toHaveLength(0);
    expect(bashCommandsReadingRc(`spawnSync("bash", ["-n", file])`)).toHaveLength(0);
  });

  test("every bash -c the project or its tests start reads no rc file", () => {
    const offenders = projectSources().filter(
      (f) => f !== path.join("__tests__", "project.test.ts") && bashCommandsReadingRc(read(f)).length > 0,
    );
    expect(offenders).toEqual([]);
  });

  test("dependencies are pinned exactly, at the versions the bindings need", () => {
    const pkg = JSON.parse(read("package.json"));
    const all: Record<string, string> = { ...pkg.dependencies, ...pkg.devDependencies };
    expect(Object.entries(all).filter(([, v]) => !/^\d+\.\d+\.\d+$/.test(v))).toEqual([]);
    expect(all).toMatchObject({ cdktf: "0.21.0", "cdktf-cli": "0.21.0", "@cdktf/provider-aws": "21.22.1" });
    expect(fs.existsSync(path.join(ROOT, "package-lock.json"))).toBe(true);
  });

  test("cdktf.json runs main.ts, and has no context key (which would discard context passed by environment)", () => {
    const config = JSON.parse(read("cdktf.json"));
    expect(config).not.toHaveProperty("context");
    expect(config.app).toBe("node scripts/run.js main.ts --cdktf-cli");
    expect(config.output).toBe("cdktf.out");
    expect(config.language).toBe("typescript");
  });

  test(".gitignore keeps state, providers, output, dependencies and SSH private keys out of git", () => {
    const ignored = read(".gitignore").split("\n");
    expect(ignored).toEqual(
      expect.arrayContaining(["*.tfstate", "*.tfstate.*", ".terraform/", "cdktf.out/", "node_modules/"]),
    );
    // a key pair's private key saved beside the project, as getting-started has the user download one (review CV)
    expect(ignored).toEqual(expect.arrayContaining(["*.pem", "*.ppk", "id_rsa", "id_ecdsa", "id_ed25519"]));
    expect(ignored.filter((line) => line.endsWith(".pub"))).toEqual([]);
  });

  test("every dependency with an install script is reviewed in package.json's allowScripts, and only those (review CV)", () => {
    // npm 11.16 and later warn at every npm ci of a script not named there, and npm 12 skips it
    const lock = JSON.parse(read("package-lock.json")) as {
      packages: Record<string, { hasInstallScript?: boolean; name?: string }>;
    };
    const withScripts = Object.entries(lock.packages)
      .filter(([, entry]) => entry.hasInstallScript)
      .map(([where, entry]) => entry.name ?? where.slice(where.lastIndexOf("node_modules/") + "node_modules/".length));
    const allowScripts = JSON.parse(read("package.json")).allowScripts as Record<string, boolean>;
    expect(Object.keys(allowScripts).sort()).toEqual([...new Set(withScripts)].sort());
    // each reviewed and allowed: esbuild and SWC check their platform's binary, node-pty (the cdktf
    // CLI's) takes its prebuilt one, and @parcel/watcher (jest --watch) builds only without one
    expect(Object.values(allowScripts).every((allowed) => allowed === true)).toBe(true);
  });

  test("environments/schema.json is what the zod schema generates (run `npm run schema` after changing it)", () => {
    expect(read("environments/schema.json")).toBe(environmentJsonSchema());
  });

  test("every jest project names its transform, so that jest's own process never loads Babel", () => {
    // Without one, jest uses babel-jest for the project, also to load the global setup, the
    // sequencer and the runner in its own process: Babel's load alone took 0.3 s of each run.
    const { projects } = require("../jest.config.js") as { projects: { transform?: Record<string, unknown> }[] };
    expect(projects.length).toBeGreaterThan(0);
    for (const project of projects) {
      expect(project.transform).toBeDefined();
      expect(JSON.stringify(project.transform)).not.toMatch(/babel/);
    }
  });

  test(".ci/run installs from the lock file and runs the README's test command", () => {
    const ci = read(".ci/run");
    expect(ci).toMatch(/npm ci/);
    expect(ci).toMatch(/^npm test$/m);
    expect(read("README.md")).toMatch(/npm test/);
  });
});

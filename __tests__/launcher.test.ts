import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { PROJECT_ROOT } from "../src/project-root";
import { tempDir } from "./helpers";

/**
 * scripts/run.js, the launcher of `npm run synth`, cdktf.json's "app" and every `npm run` script:
 * it runs an entry point from an esbuild bundle cached in node_modules/.cache and rebuilds the
 * bundle whenever any input changed. These tests run it in a small temporary project of its own
 * (its own node_modules and cache), so that they can change sources and dependencies freely.
 */

const RUN_JS = path.join(PROJECT_ROOT, "scripts", "run.js");

/** A project with an entry that prints a message from a source module and from a dependency. */
function smallProject(): string {
  const root = tempDir("launcher-");
  const write = (file: string, content: string) => {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), content);
  };
  write("cdktf.json", "{}\n");
  write("package.json", '{ "name": "launcher-test", "private": true }\n');
  write("tsconfig.json", '{ "compilerOptions": { "strict": true } }\n');
  write("scripts/run.js", fs.readFileSync(RUN_JS, "utf8"));
  write("src/readable-stack.ts", fs.readFileSync(path.join(PROJECT_ROOT, "src", "readable-stack.ts"), "utf8"));
  write("src/project-root.ts", fs.readFileSync(path.join(PROJECT_ROOT, "src", "project-root.ts"), "utf8"));
  write("src/message.ts", 'export const message: string = "first message";\n');
  write("src/load-check.ts", 'if (process.env.FAIL_AT_LOAD) throw new Error("thrown while the modules load");\n');
  write(
    "src/fail.ts",
    ["export function failDeepInside(): never {", '  throw new Error("something unexpected");', "}", ""].join("\n"),
  );
  write(
    "entry.ts",
    [
      'import { greeting } from "small-dependency";',
      'import "./src/load-check";',
      'import { failDeepInside } from "./src/fail";',
      'import { message } from "./src/message";',
      'import { PROJECT_ROOT } from "./src/project-root";',
      'import { readableStack } from "./src/readable-stack";',
      "",
      "try {",
      '  if (process.argv[2] === "fail") failDeepInside();',
      '  if (process.argv[2] === "root") console.log(PROJECT_ROOT);',
      '  if (process.argv[2] === "left-to-node") console.log(require("archiver").origin);',
      '  console.log(`${message} / ${greeting} / ${process.argv.slice(2).join(" ")}`);',
      '  if (process.argv[2] === "exit") process.exit(); // as main.ts ends',
      "} catch (error) {",
      "  console.error(readableStack(error));",
      "  process.exitCode = 1;",
      "}",
      "",
    ].join("\n"),
  );
  write("node_modules/small-dependency/package.json", '{ "name": "small-dependency", "version": "1.0.0" }\n');
  write("node_modules/small-dependency/index.js", 'exports.greeting = "dependency 1.0.0";\n');
  // A module of the launcher's LEFT_TO_NODE list: Node loads it when it is required, never bundled
  write("node_modules/archiver/package.json", '{ "name": "archiver", "version": "7.0.1" }\n');
  write("node_modules/archiver/index.js", 'exports.origin = "archiver from the project\'s node_modules";\n');
  write(
    "node_modules/.package-lock.json",
    '{ "packages": { "node_modules/small-dependency": { "version": "1.0.0" } } }\n',
  );
  // The real esbuild, which the launcher builds with (it is not an input of the bundle).
  fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules", "esbuild"), path.join(root, "node_modules", "esbuild"));
  return root;
}

/**
 * This process's environment without CLASSIC_SERVERS_CACHE: the tests look for the bundle where the
 * launcher puts it by default (a developer who moved the cache would see them fail, review BO);
 * those about the variable give it themselves.
 */
function baseEnv(): NodeJS.ProcessEnv {
  const { CLASSIC_SERVERS_CACHE: _moved, ...rest } = process.env;
  return rest;
}

function run(root: string, args: string[] = [], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [path.join(root, "scripts", "run.js"), "entry.ts", ...args], {
    cwd: root,
    env: { ...baseEnv(), ...env },
    encoding: "utf8",
  });
  return { status: result.status, stdout: result.stdout.trim(), stderr: result.stderr };
}

/** The bundle's file identity: a rebuild writes a new file (through a rename), a reuse does not. */
function bundleIdentity(root: string): string {
  const stat = fs.statSync(path.join(root, "node_modules", ".cache", "classic-servers", "entry.js"));
  return `${stat.ino}:${stat.mtimeMs}`;
}

/** The code cache files of the entry's bundle (one per set of V8 flags it ran with). */
function codeCaches(root: string): string[] {
  const cache = path.join(root, "node_modules", ".cache", "classic-servers");
  if (!fs.existsSync(cache)) return [];
  return fs
    .readdirSync(cache)
    .filter((file) => /^entry\.js\.[0-9a-f]+\.v8cache$/.test(file))
    .map((file) => path.join(cache, file));
}

/** Rewrites a file with a modification time clearly after the previous one. */
function rewrite(file: string, content: string): void {
  fs.writeFileSync(file, content);
  const later = new Date(fs.statSync(file).mtimeMs + 5000);
  fs.utimesSync(file, later, later);
}

let root: string;
beforeAll(() => {
  root = smallProject();
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe("scripts/run.js", () => {
  test("runs the entry from a bundle it builds once and reuses while nothing changed, with the entry's own argv", () => {
    const first = run(root, ["a", "b"]);
    expect(first).toMatchObject({ status: 0, stdout: "first message / dependency 1.0.0 / a b" });
    const built = bundleIdentity(root);
    expect(run(root, ["c"])).toMatchObject({ status: 0, stdout: "first message / dependency 1.0.0 / c" });
    expect(bundleIdentity(root)).toBe(built);
  });

  test("a changed source file is in the very next run", () => {
    rewrite(path.join(root, "src", "message.ts"), 'export const message: string = "second message";\n');
    expect(run(root).stdout).toBe("second message / dependency 1.0.0 /");
  });

  test("text beyond ASCII in the sources runs as written: the bundle is ASCII (esbuild escapes it), and one that is not runs too", () => {
    const file = path.join(root, "src", "message.ts");
    const before = fs.readFileSync(file, "utf8");
    const bundle = path.join(root, "node_modules", ".cache", "classic-servers", "entry.js");
    const message = "première — 첫 메시지";
    // esbuild escapes the string: the bundle stays ASCII, which the launcher reads as Latin-1
    rewrite(file, `export const message: string = "${message}";\n`);
    expect(run(root).stdout).toBe(`${message} / dependency 1.0.0 /`);
    expect(fs.readFileSync(bundle).every((byte) => byte < 0x80)).toBe(true);
    // a license comment, which esbuild keeps as written, makes a bundle that is not ASCII
    rewrite(file, `/*! © Ünïcode */\nexport const message: string = "${message}";\n`);
    expect(run(root).stdout).toBe(`${message} / dependency 1.0.0 /`);
    expect(fs.readFileSync(bundle, "utf8")).toContain("© Ünïcode");
    rewrite(file, before);
  });

  test("a changed dependency is in the very next run, even at the same size", () => {
    const file = path.join(root, "node_modules", "small-dependency", "index.js");
    const before = fs.readFileSync(file, "utf8");
    const after = before.replace("1.0.0", "1.0.1");
    expect(after.length).toBe(before.length);
    rewrite(file, after);
    expect(run(root).stdout).toBe("second message / dependency 1.0.1 /");
  });

  test("a code cache an older bundle's process writes after a rebuild is not used for the new bundle of the same length", () => {
    const file = path.join(root, "src", "message.ts");
    const good = fs.readFileSync(file, "utf8");
    try {
      rewrite(file, 'export const message: string = "message 111";\n');
      expect(run(root).stdout).toBe("message 111 / dependency 1.0.1 /");
      const [cache] = codeCaches(root);
      const older = fs.readFileSync(cache);
      rewrite(file, 'export const message: string = "message 222";\n'); // the bundle keeps its length
      expect(run(root).stdout).toBe("message 222 / dependency 1.0.1 /");
      // a process that ran the older bundle exits now and writes its cache (V8 checks only the length)
      fs.writeFileSync(cache, older);
      expect(run(root).stdout).toBe("message 222 / dependency 1.0.1 /");
    } finally {
      rewrite(file, good);
    }
  });

  test("runs under other V8 flags (cdktf synth sets a NODE_OPTIONS of its own) keep a code cache of their own, so that neither rejects the other's", () => {
    const [plain, heapLimit] = [{ NODE_OPTIONS: "" }, { NODE_OPTIONS: "--max-old-space-size=4096" }];
    for (const cache of codeCaches(root)) fs.rmSync(cache); // (those of the runs before, whatever their flags)
    run(root, [], plain);
    run(root, [], heapLimit);
    const caches = codeCaches(root);
    expect(caches).toHaveLength(2);
    const identities = () => caches.map((cache) => fs.statSync(cache).ino);
    const written = identities();
    // a rejected cache is written anew (a new file, renamed into place) when its process exits:
    // these are used as they are
    expect(run(root, [], plain).stdout).toBe("second message / dependency 1.0.1 /");
    expect(run(root, [], heapLimit).stdout).toBe("second message / dependency 1.0.1 /");
    expect(identities()).toEqual(written);
  });

  test("an entry that ends the process itself (process.exit, as main.ts does) still leaves its code cache, which the next run uses", () => {
    for (const cache of codeCaches(root)) fs.rmSync(cache);
    expect(run(root, ["exit"])).toMatchObject({ status: 0, stdout: "second message / dependency 1.0.1 / exit" });
    const caches = codeCaches(root);
    expect(caches).toHaveLength(1);
    const written = fs.statSync(caches[0]).ino;
    expect(run(root, ["exit"]).stdout).toBe("second message / dependency 1.0.1 / exit");
    // used as it is: a rejected one would have been written anew, a new file
    expect(codeCaches(root).map((cache) => fs.statSync(cache).ino)).toEqual([written]);
  });

  test("code caches of flag sets no longer in use go: the three last used are kept", () => {
    const heapLimits = [4096, 4097, 4098, 4099].map((mb) => ({ NODE_OPTIONS: `--max-old-space-size=${mb}` }));
    for (const cache of codeCaches(root)) fs.rmSync(cache);
    /** Runs under `env` and gives the code cache that run made. */
    const cacheOf = (env: { NODE_OPTIONS: string }) => {
      const before = new Set(codeCaches(root));
      expect(run(root, [], env).status).toBe(0);
      return codeCaches(root).find((cache) => !before.has(cache));
    };
    const [first, second] = [cacheOf(heapLimits[0]), cacheOf(heapLimits[1])];
    // the first flag set is used again, after the second: it is the last used of the two
    expect(run(root, [], heapLimits[0]).status).toBe(0);
    cacheOf(heapLimits[2]);
    const last = cacheOf(heapLimits[3]);
    const kept = codeCaches(root);
    expect(kept).toHaveLength(3);
    expect(kept).toEqual(expect.arrayContaining([first, last]));
    expect(kept).not.toContain(second);
  });

  test("a new npm install (node_modules/.package-lock.json changed) rebuilds the bundle", () => {
    run(root);
    const built = bundleIdentity(root);
    rewrite(
      path.join(root, "node_modules", ".package-lock.json"),
      '{ "packages": { "node_modules/small-dependency": { "version": "1.0.1" } } }\n',
    );
    expect(run(root).status).toBe(0);
    expect(bundleIdentity(root)).not.toBe(built);
  });

  test.each(["package.json", "tsconfig.json", "scripts/run.js"])(
    "a changed %s (read into no bundle, but changing what one does) rebuilds the bundle (review DP)",
    (file) => {
      run(root);
      const built = bundleIdentity(root);
      const target = path.join(root, file);
      const before = fs.readFileSync(target, "utf8");
      rewrite(target, file.endsWith(".js") ? `${before}// changed\n` : before.replace(/}\s*$/, ', "x": 1 }\n'));
      try {
        expect(run(root).status).toBe(0);
        expect(bundleIdentity(root)).not.toBe(built);
      } finally {
        rewrite(target, before);
      }
    },
  );

  test.each(["node", "esbuild"])(
    "a bundle built by another %s version (recorded in its inputs) is built again, not run (review DP)",
    (field) => {
      run(root);
      const built = bundleIdentity(root);
      const record = path.join(root, "node_modules", ".cache", "classic-servers", "entry.inputs.json");
      const inputs = JSON.parse(fs.readFileSync(record, "utf8"));
      expect(typeof inputs[field]).toBe("string");
      fs.writeFileSync(record, JSON.stringify({ ...inputs, [field]: `${inputs[field]}-other` }));
      expect(run(root).status).toBe(0);
      expect(bundleIdentity(root)).not.toBe(built);
    },
  );

  test("a source that does not compile stops the run with the compiler's message; the old bundle never runs", () => {
    const file = path.join(root, "src", "message.ts");
    const good = fs.readFileSync(file, "utf8");
    rewrite(file, 'export const message: string = "unterminated;\n');
    const broken = run(root);
    expect(broken.status).toBe(1);
    expect(broken.stdout).toBe("");
    expect(broken.stderr).toMatch(/^Could not compile entry\.ts:/);
    expect(broken.stderr).toContain("src/message.ts:1:");
    rewrite(file, good);
    expect(run(root).stdout).toBe("second message / dependency 1.0.1 /");
  });

  test("two checkouts sharing one node_modules (a symbolic link, as worktrees may have) keep their bundles apart: each runs its own sources (review AT)", () => {
    const first = smallProject();
    const second = smallProject();
    fs.rmSync(path.join(second, "node_modules"), { recursive: true });
    fs.symlinkSync(path.join(first, "node_modules"), path.join(second, "node_modules"));
    fs.writeFileSync(path.join(second, "src/message.ts"), 'export const message: string = "second checkout";\n');
    for (let round = 0; round < 2; round++) {
      expect(run(first).stdout).toBe("first message / dependency 1.0.0 /");
      expect(run(second).stdout).toBe("second checkout / dependency 1.0.0 /");
    }
    // the first, whose node_modules is its own, keeps the usual place; the second has a folder of its own in it
    const cache = path.join(first, "node_modules", ".cache", "classic-servers");
    expect(fs.existsSync(path.join(cache, "entry.js"))).toBe(true);
    const own = fs.readdirSync(cache).filter((name) => name.startsWith("checkout-"));
    expect(own).toHaveLength(1);
    expect(fs.readFileSync(path.join(cache, own[0], "entry.js"), "utf8")).toContain("second checkout");
    // each bundle was built once: the other checkout's runs did not replace it
    const identity = bundleIdentity(first);
    run(second);
    expect(bundleIdentity(first)).toBe(identity);
  });

  test("the bundle knows the project's folder, also from a cache outside it (CLASSIC_SERVERS_CACHE)", () => {
    expect(run(root, ["root"]).stdout.split("\n")[0]).toBe(root);
    const elsewhere = tempDir("launcher-cache-");
    try {
      expect(run(root, ["root"], { CLASSIC_SERVERS_CACHE: elsewhere }).stdout.split("\n")[0]).toBe(root);
      expect(fs.readdirSync(elsewhere)).toContain("entry.js");
    } finally {
      fs.rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  test("a cache folder that cannot be made (CLASSIC_SERVERS_CACHE under /proc) fails at once, in one line", () => {
    // Node.js's recursive mkdir looped there forever, at full CPU
    const result = spawnSync(process.execPath, [path.join(root, "scripts", "run.js"), "entry.ts"], {
      cwd: root,
      env: { ...baseEnv(), CLASSIC_SERVERS_CACHE: "/proc/classic-servers-test/cache" },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect({ status: result.status, stderr: result.stderr }).toEqual({
      status: 1,
      stderr:
        "cannot create the bundle cache folder /proc/classic-servers-test (ENOENT): set CLASSIC_SERVERS_CACHE to a " +
        "folder that can be written, or unset it\n",
    });
  });

  test("a module left to Node (archiver) is loaded from the project's node_modules, not bundled, wherever the cache is", () => {
    const expected = "archiver from the project's node_modules";
    expect(run(root, ["left-to-node"]).stdout.split("\n")[0]).toBe(expected);
    const bundle = fs.readFileSync(path.join(root, "node_modules", ".cache", "classic-servers", "entry.js"), "utf8");
    expect(bundle).toContain('require("archiver")');
    expect(bundle).not.toContain(expected);
    const elsewhere = tempDir("launcher-cache-");
    try {
      expect(run(root, ["left-to-node"], { CLASSIC_SERVERS_CACHE: elsewhere }).stdout.split("\n")[0]).toBe(expected);
    } finally {
      fs.rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  test("a dependency replaced keeping its size and mtime (cp -p, tar x, touch -r) is in the very next run", () => {
    const file = path.join(root, "node_modules", "small-dependency", "index.js");
    const before = fs.readFileSync(file, "utf8");
    run(root);
    const { mtimeMs } = fs.statSync(file);
    const times = `${file}.times`;
    fs.writeFileSync(times, "");
    expect(spawnSync("touch", ["-r", file, times]).status).toBe(0);
    const after = before.replace(/dependency \d\.\d\.\d/, "dependency 9.9.9");
    expect(after.length).toBe(before.length);
    fs.writeFileSync(file, after);
    expect(spawnSync("touch", ["-r", times, file]).status).toBe(0);
    fs.rmSync(times);
    expect(fs.statSync(file).mtimeMs).toBe(mtimeMs);
    expect(run(root).stdout).toMatch(/\/ dependency 9\.9\.9 \//);
    rewrite(file, before);
  });

  test("a dependency replaced while the bundle builds (an npm install beside it) is in the next run", async () => {
    const file = path.join(root, "node_modules", "small-dependency", "index.js");
    const before = fs.readFileSync(file, "utf8");
    // (the launcher reads CLASSIC_SERVERS_CACHE as it loads: without it, the project's own cache,
    // the one run() uses, or this test would pass whatever the build records: review DP)
    const setting = process.env.CLASSIC_SERVERS_CACHE;
    delete process.env.CLASSIC_SERVERS_CACHE;
    let launcher;
    try {
      launcher = require(path.join(root, "scripts", "run.js"));
    } finally {
      if (setting !== undefined) process.env.CLASSIC_SERVERS_CACHE = setting;
    }
    const entry = path.join(root, "entry.ts");
    const { bundle, recordFile } = launcher.cacheFilesOf(entry);
    // built from the file as it was; replaced after esbuild read it, before the inputs are recorded
    await launcher.build(entry, bundle, recordFile, {
      beforeRecord: () => rewrite(file, before.replace(/dependency \d\.\d\.\d/, "dependency 7.7.7")),
    });
    expect(fs.readFileSync(bundle, "utf8")).not.toContain("7.7.7");
    expect(run(root).stdout).toMatch(/\/ dependency 7\.7\.7 \//);
    rewrite(file, before);
  });

  test("several first starts at once on an empty cache (a workflow's parallel steps) each build and run, none failing on another's folder or bundle (review DP)", async () => {
    const cache = path.join(tempDir("launcher-cache-"), "a", "b", "cache");
    const starts = Array.from(
      { length: 4 },
      () =>
        new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
          const child = spawn(process.execPath, [path.join(root, "scripts", "run.js"), "entry.ts"], {
            cwd: root,
            env: { ...baseEnv(), CLASSIC_SERVERS_CACHE: cache },
          });
          let stdout = "";
          let stderr = "";
          child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
          child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
          child.on("close", (status) => resolve({ status, stdout, stderr }));
        }),
    );
    for (const start of await Promise.all(starts)) {
      expect(start).toMatchObject({ status: 0, stderr: "" });
      expect(start.stdout).toMatch(/ \/ dependency /);
    }
  }, 60_000);

  test("a bundle cut short (a full disk, a killed copy) is built again, not run", () => {
    run(root);
    const bundle = path.join(root, "node_modules", ".cache", "classic-servers", "entry.js");
    fs.truncateSync(bundle, Math.floor(fs.statSync(bundle).size / 2));
    const next = run(root);
    expect(next).toMatchObject({ status: 0, stderr: "" });
    expect(next.stdout).toMatch(/ \/ dependency /);
  });

  test("an error thrown while the modules load names the TypeScript source too, never the bundle", () => {
    const failed = run(root, [], { FAIL_AT_LOAD: "1" });
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(/^Error: thrown while the modules load/);
    expect(failed.stderr).toContain(`${path.join(root, "src", "load-check.ts")}:1:`);
    expect(failed.stderr).not.toContain(".cache");
    expect(failed.stderr).not.toMatch(/^scripts\/run\.js: /);
  });

  test("a cache folder the rebuilt bundle cannot be written to fails in one line that says what to do", () => {
    // (/proc/self exists, and nothing can be written there, even by root)
    rewrite(path.join(root, "src", "message.ts"), 'export const message: string = "message for /proc";\n');
    const failed = run(root, [], { CLASSIC_SERVERS_CACHE: "/proc/self" });
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(
      /^cannot write the bundle to its cache folder \/proc\/self \(E[A-Z]+\): set CLASSIC_SERVERS_CACHE to a folder that can be written, or unset it\n$/,
    );
  });

  test("an unexpected error's stack names the TypeScript source and line, never the bundle", () => {
    const failed = run(root, ["fail"]);
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(/^Error: something unexpected/);
    expect(failed.stderr).toContain(`${path.join(root, "src", "fail.ts")}:2:`);
    expect(failed.stderr).not.toContain(".cache");
  });
});

describe("the real main.ts through scripts/run.js", () => {
  let project: string;
  beforeAll(() => {
    // A copy of this project's sources beside links to its installed packages, with its cache
    // copied too: the copy starts with a bundle that is fresh for its (unchanged) sources.
    project = tempDir("launcher-project-");
    for (const entry of [
      "main.ts",
      "cdktf.json",
      "package.json",
      "tsconfig.json",
      "src",
      "scripts",
      "environments",
      "app",
      "releases.yaml",
    ]) {
      fs.cpSync(path.join(PROJECT_ROOT, entry), path.join(project, entry), { recursive: true });
    }
    fs.mkdirSync(path.join(project, "node_modules"));
    for (const entry of fs.readdirSync(path.join(PROJECT_ROOT, "node_modules"))) {
      const from = path.join(PROJECT_ROOT, "node_modules", entry);
      if (entry === ".cache") continue;
      if (entry === ".package-lock.json") fs.copyFileSync(from, path.join(project, "node_modules", entry));
      else fs.symlinkSync(from, path.join(project, "node_modules", entry));
    }
    // global-setup.js ran main.ts through the launcher, so this project's cache holds its bundle:
    // where the launcher keeps it in this checkout (CLASSIC_SERVERS_CACHE, or a folder of its own
    // when node_modules is another checkout's: review DP)
    const cache = path.join("node_modules", ".cache", "classic-servers");
    const source = path.dirname(
      require(path.join(PROJECT_ROOT, "scripts", "run.js")).cacheFilesOf(path.join(PROJECT_ROOT, "main.ts")).bundle,
    );
    fs.mkdirSync(path.join(project, cache), { recursive: true });
    for (const file of fs.readdirSync(source).filter((f) => f.startsWith("main."))) {
      fs.copyFileSync(path.join(source, file), path.join(project, cache, file));
    }
  });
  afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

  const synthDev = () => {
    const outdir = path.join(project, "cdktf.out");
    const result = spawnSync(process.execPath, [path.join(project, "scripts", "run.js"), "main.ts"], {
      cwd: project,
      // The copy has no git history to rebuild releases from: it reads this project's release
      // cache, which the run's shared synthesis (global-setup.js) filled.
      env: {
        ...baseEnv(),
        ENVIRONMENTS: "dev",
        CDKTF_OUTDIR: outdir,
        RELEASE_CACHE_DIR: path.join(PROJECT_ROOT, "node_modules", ".cache", "classic-servers", "releases"),
      },
      encoding: "utf8",
    });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    return JSON.parse(fs.readFileSync(path.join(outdir, "stacks", "dev", "cdk.tf.json"), "utf8"));
  };

  test("a change to a construct's source is in the next synth", () => {
    // given a synth of dev as it is, from the cached bundle
    const bundle = path.join(project, "node_modules", ".cache", "classic-servers", "main.js");
    const cached = fs.statSync(bundle).mtimeMs;
    const before = synthDev();
    expect(fs.statSync(bundle).mtimeMs).toBe(cached);
    expect(before.provider.aws[0].default_tags[0].tags.ManagedBy).toBe("cdktf");
    // when a source file changes (the shared tags in src/naming.ts)
    const naming = path.join(project, "src", "naming.ts");
    const source = fs.readFileSync(naming, "utf8");
    expect(source).toContain('ManagedBy: "cdktf"');
    rewrite(naming, source.replace('ManagedBy: "cdktf"', 'ManagedBy: "cdktf-changed"'));
    // then the next synth writes the change
    expect(synthDev().provider.aws[0].default_tags[0].tags.ManagedBy).toBe("cdktf-changed");
  });
});

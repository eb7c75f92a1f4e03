#!/usr/bin/env node
"use strict";
/**
 * Runs one of this project's TypeScript entry points (`main.ts`, `scripts/<name>.ts`) from an
 * esbuild bundle cached under node_modules/.cache/classic-servers/, and is how every `npm run`
 * script and cdktf.json's "app" start:
 *
 *   node scripts/run.js main.ts                    what `npm run synth` and `cdktf synth` run
 *   node scripts/run.js scripts/plan.ts prod       what `npm run plan -- prod` runs
 *
 * Why: loading the TypeScript sources through a transpiling loader (tsx) costs ~0.7 s per start
 * (transpiling, source maps, resolving ~700 modules one by one); one prebuilt bundle loads in a
 * fraction of that (docs/development.md#benchmark).
 *
 * A stale bundle can never run. Before every start the launcher compares a fingerprint of every
 * input the bundle was built from with what is on disk now: the SHA-1 of each of the project's
 * own files in it (and of package.json and tsconfig.json), size, mtime, ctime and inode of each
 * dependency file in it (taken before esbuild reads the file, so that a file replaced while the
 * bundle builds is seen by the next start; ctime, which no tool sets, also when a copy kept the
 * size and mtime), the SHA-1 of npm's record of what node_modules holds
 * (node_modules/.package-lock.json, read before the build too), the Node.js and esbuild versions,
 * and the bundle file's own size (a bundle cut short is built again, not run).
 * Any difference rebuilds the bundle first (~0.4 s). The
 * check reads ~90 small files and stats ~420 (10-25 ms, with the machine). `npm ci` removes the
 * whole cache with node_modules. Environment folders are read at run time, never bundled.
 *
 * The bundle is written beside a source map; stack traces of unexpected errors are mapped back to
 * the TypeScript sources (src/readable-stack.ts), so no bundle path reaches anyone.
 */
const { isAscii } = require("node:buffer");
const crypto = require("node:crypto");
const fs = require("node:fs");
const Module = require("node:module");
const path = require("node:path");
const vm = require("node:vm");

const ROOT = path.resolve(__dirname, "..");
const sha1 = (data) => crypto.createHash("sha1").update(data).digest("hex");

/**
 * node_modules/.cache/classic-servers, or, when node_modules is shared with other checkouts (a
 * symbolic link to another folder, as git worktrees may have), a folder of this checkout's own
 * in it: the bundles of checkouts with other sources would otherwise replace each other, and one
 * checkout could run the bundle another had just built (review AT).
 */
function defaultCache() {
  const modules = path.join(ROOT, "node_modules");
  const shared = path.join(modules, ".cache", "classic-servers");
  try {
    const root = fs.realpathSync(ROOT);
    if (fs.realpathSync(modules).startsWith(root + path.sep)) return shared;
    return path.join(shared, `checkout-${sha1(root).slice(0, 12)}`);
  } catch {
    return shared; // no node_modules yet: the start fails on the missing dependencies, as it should
  }
}

/** Where bundles are kept; CLASSIC_SERVERS_CACHE points elsewhere (the bench measures a cold start so). */
const CACHE = path.resolve(process.env.CLASSIC_SERVERS_CACHE || defaultCache());
/** Bump when this file changes how bundles are built or what a fingerprint holds. */
const FORMAT = 3;
/** Read into every fingerprint: project files that change what a bundle does without being in it. */
const PROJECT_FILES = ["package.json", "tsconfig.json", "scripts/run.js"];
const NPM_RECORD = path.join(ROOT, "node_modules", ".package-lock.json");

function readOrUndefined(file, encoding) {
  try {
    return fs.readFileSync(file, encoding);
  } catch {
    return undefined;
  }
}

function esbuildVersion() {
  return JSON.parse(fs.readFileSync(require.resolve("esbuild/package.json", { paths: [ROOT] }), "utf8")).version;
}

/**
 * Creates `dir` and its missing parents one at a time (src/make-folder.ts; this file cannot load
 * TypeScript): Node.js's recursive mkdir loops forever on a path it cannot make (/proc/x).
 */
function makeFolder(dir) {
  const missing = [];
  for (let at = dir; !fs.existsSync(at); at = path.dirname(at)) missing.unshift(at);
  for (const folder of missing) {
    try {
      fs.mkdirSync(folder);
    } catch (error) {
      if (error.code === "EEXIST") continue; // made meanwhile by another start
      process.stderr.write(
        `cannot create the bundle cache folder ${folder} (${error.code}): set CLASSIC_SERVERS_CACHE to a folder ` +
          "that can be written, or unset it\n",
      );
      process.exit(1);
    }
  }
}

/** An installed package's file (also through a linked or symlinked node_modules, as pnpm makes). */
const isDependency = (input) => input.split("/").includes("node_modules");

/**
 * An input's path on disk. Inputs are relative to ROOT with forward slashes; joined by hand, as
 * path.join (and an options object per call) was a third of stat-ing the ~400 inputs of a start.
 */
const onDisk = (input) => `${ROOT}/${input}`;

/**
 * The identity of a dependency file: npm writes a changed one anew (new size or mtime); a copy that
 * kept both (`cp -p`, `tar x`, `touch -r`) still has a new ctime, which no tool can set.
 */
function dependencyStamp(input) {
  let stat;
  try {
    stat = fs.statSync(onDisk(input));
  } catch (error) {
    if (error.code === "ENOENT" || error.code === "ENOTDIR") return "missing";
    throw error;
  }
  return `${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}:${stat.ino}`;
}

/**
 * The bundle's size: a bundle cut short is built again, not run. (Its size only: a copied cache,
 * byte for byte the same, stays fresh; a bundle is only ever written whole, through a rename.)
 */
function bundleSize(bundle) {
  try {
    return fs.statSync(bundle).size;
  } catch {
    return "missing";
  }
}

function contentHash(input) {
  const content = readOrUndefined(onDisk(input));
  return content === undefined ? "missing" : sha1(content);
}

/** The hash of npm's record of what node_modules holds. */
function npmRecordHash() {
  const npmRecord = readOrUndefined(NPM_RECORD);
  return npmRecord === undefined ? "missing" : sha1(npmRecord);
}

/**
 * What must be equal for a bundle to be reused. `own` maps each project file in the bundle to the
 * hash of its content, `deps` each dependency (node_modules) file to its stamp, `bundle` is the
 * bundle file's size.
 */
function fingerprint({ own, deps, npm, bundle }) {
  return { format: FORMAT, node: process.version, esbuild: esbuildVersion(), npm, own, deps, bundle };
}

/** Whether the bundle is still what its inputs, as they are on disk now, would build. */
function isFresh(bundle, recordFile) {
  const record = readOrUndefined(recordFile, "utf8");
  if (record === undefined || !fs.existsSync(bundle)) return false;
  let recorded;
  try {
    recorded = JSON.parse(record);
  } catch {
    return false;
  }
  if (recorded.format !== FORMAT) return false;
  const now = fingerprint({
    own: Object.fromEntries(Object.keys(recorded.own).map((input) => [input, contentHash(input)])),
    deps: Object.fromEntries(Object.keys(recorded.deps).map((input) => [input, dependencyStamp(input)])),
    npm: npmRecordHash(),
    bundle: bundleSize(bundle),
  });
  return JSON.stringify(recorded) === JSON.stringify(now);
}

/**
 * Writes `file` through a temporary name, so that a concurrent run never reads half of it; a write
 * that fails (a full disk, a read-only folder) throws and leaves no temporary file behind.
 */
function writeAtomically(file, data) {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temporary, data);
    fs.renameSync(temporary, file);
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw error;
  }
}

/**
 * Dependency modules the bundle takes from the project instead, each with the reason in its own
 * file (the tests replace the same ones: jest's resolver, __tests__/resolver.js, and the unit
 * runner's require hook, __tests__/unit-runner/register.js). An entry matches by the file a
 * request resolves to, whoever asks (`resolvesTo`), or by the request and the folder asking
 * (`request` and `from`), so that a stand-in can still load the module it wraps.
 */
const REPLACED_MODULES = [
  { resolvesTo: "node_modules/cdktf/lib/tokens/private/stack-trace.js", by: "src/patches/cdktf-stack-trace.ts" },
  { request: "archiver", from: "node_modules/cdktf/lib/private", by: "src/patches/lazy-archiver.ts" },
  {
    request: "json-stable-stringify",
    from: "node_modules/cdktf/lib/synthesize",
    by: "src/patches/stable-stringify.ts",
  },
  { request: "json-stable-stringify", from: "node_modules/cdktf/lib", by: "src/patches/stable-stringify.ts" },
  { request: "json-stable-stringify", from: "node_modules/cdktf/lib/testing", by: "src/patches/stable-stringify.ts" },
  { request: "./private/resolve", from: "node_modules/cdktf/lib/tokens", by: "src/patches/cdktf-resolve.ts" },
];

/** The requests that may be replaced, for esbuild's filter: a request as written, or a file's base name. */
const REPLACEABLE_REQUEST = new RegExp(
  REPLACED_MODULES.map((m) =>
    m.request
      ? `^${m.request.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`
      : `(^|/)${path.basename(m.resolvesTo, path.extname(m.resolvesTo))}$`,
  ).join("|"),
);

const endsWithPath = (file, suffix) => `/${file.split(path.sep).join("/")}`.endsWith(`/${suffix}`);

/**
 * The project file (absolute) that stands in for `request` asked from folder `fromDir`, or
 * undefined; `resolve()` gives the file the request resolves to, and is called only when needed.
 */
function replacementFor(request, fromDir, resolve) {
  for (const module of REPLACED_MODULES) {
    const matches = module.request
      ? request === module.request && endsWithPath(fromDir, module.from)
      : REPLACEABLE_REQUEST.test(request) && endsWithPath(resolve(), module.resolvesTo);
    if (matches) return path.join(ROOT, module.by);
  }
  return undefined;
}

/**
 * Dependencies the bundle leaves to Node, which loads them when they are first required, as the
 * entry would. archiver: the stand-in above loads it only to zip a folder asset, which the
 * project's stacks refuse (src/stacks/independent-stack.ts: cdktf zips by running its own module
 * file, in a bundle the whole app); bundled, its ~90 modules were a sixth of what every start read.
 */
const LEFT_TO_NODE = ["archiver"];
const LEFT_TO_NODE_REQUEST = new RegExp(`^(${LEFT_TO_NODE.join("|")})$`);

const LOADERS = { ".ts": "ts", ".js": "js", ".cjs": "js", ".mjs": "js", ".json": "json" };

/**
 * Builds the bundle of `entry` and records its inputs. `beforeRecord`, for a test: called once the
 * bundle is written, before its inputs are recorded (where a dependency replaced while the bundle
 * builds would once have been recorded as bundled).
 */
async function build(entry, bundle, recordFile, { beforeRecord } = {}) {
  const esbuild = require(require.resolve("esbuild", { paths: [ROOT] }));
  // The project's own files are hashed from the very bytes esbuild bundles (read here, handed to
  // esbuild), so that a file saved while the build runs cannot be recorded with its new hash; and
  // the modules in REPLACED_MODULES resolve to the project's stand-ins. A dependency is stamped
  // before esbuild reads it, and npm's record read before any: a file replaced meanwhile (an npm
  // install beside the build) is recorded as it was before, and so rebuilt at the next start.
  const own = Object.fromEntries(PROJECT_FILES.map((input) => [input, contentHash(input)]));
  const deps = {};
  const npm = npmRecordHash();
  const projectFiles = {
    name: "project-files",
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: REPLACEABLE_REQUEST }, (args) => {
        const by = replacementFor(args.path, args.resolveDir, () => path.resolve(args.resolveDir, `${args.path}.js`));
        return by ? { path: by } : undefined;
      });
      pluginBuild.onResolve({ filter: LEFT_TO_NODE_REQUEST }, (args) => ({ path: args.path, external: true }));
      pluginBuild.onLoad({ filter: /\.(ts|js|cjs|mjs|json)$/ }, async (args) => {
        const input = path.relative(ROOT, args.path).split(path.sep).join("/");
        if (isDependency(input)) {
          deps[input] = dependencyStamp(input);
          return undefined; // esbuild reads it
        }
        const contents = await fs.promises.readFile(args.path);
        own[input] = sha1(contents);
        return { contents, loader: LOADERS[path.extname(args.path)] };
      });
    },
  };
  let result;
  try {
    result = await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: [entry],
      bundle: true,
      platform: "node",
      target: `node${process.versions.node.split(".")[0]}`,
      format: "cjs",
      write: false,
      outfile: bundle,
      metafile: true,
      // Whitespace and syntax only (names stay, for errors and constructor names): a third less to
      // read and compile at every start. Stack traces are mapped back to the sources all the same.
      minifyWhitespace: true,
      minifySyntax: true,
      sourcemap: "linked",
      sourcesContent: false,
      logLevel: "silent",
      plugins: [projectFiles],
    });
  } catch (error) {
    const messages = error.errors
      ? (await esbuild.formatMessages(error.errors, { kind: "error", color: false })).join("")
      : String(error);
    process.stderr.write(`Could not compile ${path.relative(ROOT, entry)}:\n${messages}`);
    process.exit(1);
  } finally {
    // esbuild's service process ends with the build, not after this process has gone
    await esbuild.stop();
  }
  makeFolder(CACHE);
  // The map first: a bundle is only ever found beside its own map.
  const map = result.outputFiles.find((out) => out.path.endsWith(".map"));
  const code = result.outputFiles.find((out) => out.path === bundle);
  try {
    writeAtomically(map.path, map.contents);
    writeAtomically(code.path, code.contents);
    for (const file of codeCachesOf(bundle)) fs.rmSync(file, { force: true });
    beforeRecord?.();
    // (an input esbuild read without asking the plugin, if any, is stamped now)
    for (const input of Object.keys(result.metafile.inputs).filter(isDependency))
      deps[input] ??= dependencyStamp(input);
    writeAtomically(recordFile, JSON.stringify(fingerprint({ own, deps, npm, bundle: bundleSize(bundle) })));
  } catch (error) {
    process.stderr.write(
      `cannot write the bundle to its cache folder ${CACHE} (${error.code ?? error.message}): set ` +
        "CLASSIC_SERVERS_CACHE to a folder that can be written, or unset it\n",
    );
    process.exit(1);
  }
}

/**
 * Which bundle file a code cache was made from: V8 checks a cache only against the source's
 * length (it would run the cached code of another bundle of the same length), and a process still
 * running an older bundle may write its cache after a rebuild. Size, time and inode of the file as
 * read (a rebuild renames a new file into place).
 */
function bundleStamp(stat) {
  return Buffer.from(`${stat.size}:${stat.mtimeMs}:${stat.ino}\n`);
}

/**
 * The code cache file of `bundle` for the flags this process runs with: V8 rejects a cache made
 * under other flags (its flag hash), and `cdktf synth` runs the app with a NODE_OPTIONS of its own
 * (a heap limit), which `npm run synth` does not: with one file for both, each would throw away and
 * rewrite the other's cache, a start as slow as without one (0.7 s against 0.5 s here).
 */
function codeCacheFile(bundle) {
  const flags = sha1(JSON.stringify([process.execArgv, process.env.NODE_OPTIONS ?? ""])).slice(0, 12);
  return `${bundle}.${flags}.v8cache`;
}

/** Every code cache file of `bundle` (of any flags; `<bundle>.v8cache` as FORMAT 2 named it). */
function codeCachesOf(bundle) {
  const name = path.basename(bundle);
  const ours = (file) => file.startsWith(`${name}.`) && /^([0-9a-f]{12}\.)?v8cache$/.test(file.slice(name.length + 1));
  return fs
    .readdirSync(path.dirname(bundle))
    .filter(ours)
    .map((file) => path.join(path.dirname(bundle), file));
}

/** How many code caches of one bundle are kept (one per set of flags it ran with), last used first. */
const CODE_CACHES_KEPT = 3;

/** The code cache made from the bundle whose stamp is `stamp`, or undefined. */
function readCodeCache(cacheFile, stamp) {
  const data = readOrUndefined(cacheFile);
  if (data === undefined || !data.subarray(0, stamp.length).equals(stamp)) return undefined;
  return data.subarray(stamp.length);
}

const WRAPPER = "(function (exports, require, module, __filename, __dirname) {";

/**
 * Entries that do all their work synchronously (their top-level code returns when they are done):
 * once the entry returns, the process ends at once, rather than tear down a heap of ~100 MB object
 * by object first (the entry itself must not: main.ts also runs inside the tests' processes).
 * (V8's --no-opt saved as much again on a warm synth, but made a synth that packs a release, as
 * the first after an npm ci does, 2-3 times slower: fflate compresses in JavaScript. Review BX.)
 */
const SHORT_ENTRIES = new Set([path.join(ROOT, "main.ts")]);

/**
 * Loads the bundle as Node loads a CommonJS module, with V8's code cache: compiling a 3 MB bundle
 * is a large part of a start, and the cache (kept only for the very file it was made from) skips it.
 * What the bundle leaves to Node (LEFT_TO_NODE) is required as the entry itself would require it
 * (from the entry's folder up), wherever the cache is.
 */
function run(bundle, entry) {
  const fd = fs.openSync(bundle, "r");
  const stamp = bundleStamp(fs.fstatSync(fd));
  const bytes = fs.readFileSync(fd);
  // esbuild writes ASCII (it escapes any other character in code): read as Latin-1, the same text
  // is made without decoding UTF-8, a quarter of the read's time
  const source = isAscii(bytes) ? bytes.toString("latin1") : bytes.toString("utf8");
  fs.closeSync(fd);
  const cacheFile = codeCacheFile(bundle);
  const cachedData = readCodeCache(cacheFile, stamp);
  // The function wrapper on a line of its own, so that the bundle's first line (minified, it holds
  // much of the code) keeps its columns: stack frames map back to the right source and line.
  const script = new vm.Script(`${WRAPPER}\n${source}\n})`, { filename: bundle, lineOffset: -1, cachedData });
  const module = new Module(bundle, null);
  module.filename = bundle;
  module.paths = Module._nodeModulePaths(path.dirname(entry));
  // An entry runs its top-level code. `require.main === module` means nothing inside a bundle (every
  // module of it shares one `module`), so entries must not test it; here it is false everywhere.
  const compiled = script.runInThisContext();
  // A reader that goes away (`npm run cost | head -1`) is no error of the script's: what it would
  // still print goes nowhere, and it ends as it would have (files it writes, whole). Node's default
  // was an unhandled 'error' event, a stack trace through the bundle (review BR).
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error) => {
      if (error.code !== "EPIPE" && error.code !== "ERR_STREAM_DESTROYED") throw error;
    });
  }
  if (cachedData === undefined || script.cachedDataRejected) {
    // At exit, after the run, so that the cache holds every function the run compiled.
    process.once("exit", () => {
      try {
        writeAtomically(cacheFile, Buffer.concat([stamp, script.createCachedData()]));
        // The caches of flag sets no longer in use (an --inspect, a one-off NODE_OPTIONS) go: the
        // least recently used (a cache's time is set each time it is used), never this one.
        const byUse = codeCachesOf(bundle)
          .filter((file) => file !== cacheFile)
          .map((file) => [file, fs.statSync(file).mtimeMs])
          .sort((a, b) => b[1] - a[1]);
        for (const [file] of byUse.slice(CODE_CACHES_KEPT - 1)) fs.rmSync(file, { force: true });
      } catch {
        // a cache is an optimisation: a read-only node_modules just runs without one
      }
    });
  } else {
    try {
      const now = new Date();
      fs.utimesSync(cacheFile, now, now);
    } catch {
      // (read-only: nothing is pruned there either)
    }
  }
  // After the exit handler above is in place: an entry may end the process itself (process.exit).
  compiled.call(module.exports, module.exports, Module.createRequire(entry), module, bundle, path.dirname(bundle));
  // Only when both streams hold nothing unwritten: to a pipe, writes are asynchronous on macOS, and
  // exiting would cut the output short.
  if (SHORT_ENTRIES.has(entry) && process.stdout.writableLength === 0 && process.stderr.writableLength === 0)
    process.exit();
}

/** Where the bundle of `entry` (absolute) and the record of its inputs are kept. */
function cacheFilesOf(entry) {
  const name = path.relative(ROOT, entry).replace(/\.ts$/, "").replace(/[\\/]/g, "__");
  return { bundle: path.join(CACHE, `${name}.js`), recordFile: path.join(CACHE, `${name}.inputs.json`) };
}

async function main() {
  const [entryArgument, ...args] = process.argv.slice(2);
  if (!entryArgument) {
    process.stderr.write("usage: node scripts/run.js <entry.ts> [arguments...]\n");
    process.exit(2);
  }
  const entry = path.resolve(entryArgument);
  const { bundle, recordFile } = cacheFilesOf(entry);
  if (!isFresh(bundle, recordFile)) await build(entry, bundle, recordFile);
  // The entry sees the command line it would see if node ran it directly.
  process.argv = [process.argv[0], entry, ...args];
  try {
    run(bundle, entry);
  } catch (error) {
    // thrown while the bundle's modules load, before the entry's own error handling is in place
    process.stderr.write(`${readableStack(error, bundle)}\n`);
    process.exit(1);
  }
}

/**
 * `error`'s stack with each frame in `bundle` at its place in the TypeScript sources, through the
 * bundle's source map (as src/readable-stack.ts does for the errors an entry catches itself).
 */
function readableStack(error, bundle) {
  const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
  let map;
  try {
    map = new Module.SourceMap(JSON.parse(fs.readFileSync(`${bundle}.map`, "utf8")));
  } catch {
    return stack;
  }
  const frame = new RegExp(`${bundle.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:(\\d+):(\\d+)`, "g");
  return stack.replace(frame, (whole, line, column) => {
    const entry = map.findEntry(Number(line) - 1, Number(column) - 1);
    if (entry.originalSource === undefined || entry.originalLine === undefined) return whole;
    const source = path.resolve(path.dirname(bundle), entry.originalSource);
    return `${source}:${entry.originalLine + 1}:${(entry.originalColumn ?? 0) + 1}`;
  });
}

if (require.main === module) {
  main().catch((error) => {
    process.stderr.write(`scripts/run.js: ${error.stack ?? error}\n`);
    process.exit(1);
  });
}

module.exports = { CACHE, build, cacheFilesOf, replacementFor, sha1, writeAtomically };

// The unit project's test files run in jest-light-runner (jest.config.js): plain Node.js processes
// that load each module once and share it between the test files they run, instead of jest's
// default runner, which gives every test file a fresh VM context and loads everything again for
// it (about half of the unit tests' CPU time went to that). Loaded first in each of those
// processes (a `setupFiles` entry), this gives them what jest's runtime gave the tests:
// - TypeScript, compiled by SWC as jest's transform does (type-stripping only; `tsc --noEmit`
//   checks the types), with source maps, so that a failure points at the .ts line;
// - the dependency modules the bundle replaces (scripts/run.js, REPLACED_MODULES), replaced here
//   too, so that the tests run the same code as `npm run synth` (__tests__/resolver.js does this
//   for jest's own runtime).
// Stack traces point at the .ts lines. Node's own source-map support (--enable-source-maps) is not
// used: it decodes every loaded module's map as the module loads, and the provider bindings carry
// megabytes of them (it doubled the unit tests' time). Here only a frame in a file compiled by the
// hook below is mapped, when a stack is formatted.
// What replaces jest's per-file isolation (timeouts, expect.assertions, state a file leaves
// behind) is in ./per-file.js.
const fs = require("node:fs");
const path = require("node:path");
const Module = require("node:module");
const { pathToFileURL } = require("node:url");
const { replacementFor, sha1, writeAtomically } = require("../../scripts/run.js");

const SWC_OPTIONS = { ...require("../swc-options.js"), sourceMaps: true };

/**
 * What SWC made of each .ts file, kept between runs as jest keeps its transforms: one entry per
 * file (named by its path, so a file has one entry however often it changes), used only when it
 * was made from the same bytes by the same SWC version with the same options, which its key
 * records. Compiling every file again took each process about 0.3 s of its start. `npm ci`
 * removes it with node_modules. UNIT_RUNNER_TRANSFORM_CACHE: another folder for it, or `off`.
 */
const TRANSFORM_CACHE =
  process.env.UNIT_RUNNER_TRANSFORM_CACHE === "off"
    ? undefined
    : process.env.UNIT_RUNNER_TRANSFORM_CACHE ||
      path.join(__dirname, "..", "..", "node_modules", ".cache", "classic-servers", "swc");
const TRANSFORM_KEY = JSON.stringify([require("@swc/core/package.json").version, SWC_OPTIONS]);

/** `source` (of `filename`) compiled by SWC: `{ code, map }`, from the cache when it holds it. */
function compiled(source, filename) {
  const key = sha1(`${TRANSFORM_KEY}\0${filename}\0${source}`);
  const entry = TRANSFORM_CACHE && path.join(TRANSFORM_CACHE, `${sha1(filename)}.json`);
  if (entry) {
    try {
      const cached = JSON.parse(fs.readFileSync(entry, "utf8"));
      if (cached.key === key) return cached;
    } catch {
      // none yet, or unreadable: compile
    }
  }
  // loaded only when a file is compiled: a process whose files are all cached does without it
  const { code, map } = require("@swc/core").transformSync(source, { ...SWC_OPTIONS, filename });
  if (entry) {
    // (a process reading it at the same time sees the old entry or the new)
    try {
      fs.mkdirSync(TRANSFORM_CACHE, { recursive: true });
      writeAtomically(entry, JSON.stringify({ key, code, map }));
    } catch {
      // a cache is an optimisation: a read-only node_modules (or a full disk) just compiles every time
    }
  }
  return { code, map };
}

/** The source map of each file the hook compiled (as SWC gave it; parsed when a stack needs it). */
const sourceMaps = new Map();

/** `file:line:column` of a compiled file's frame, in the .ts source, or undefined. */
function originalPosition(file, line, column) {
  let map = sourceMaps.get(file);
  if (map === undefined) return undefined;
  if (typeof map === "string") sourceMaps.set(file, (map = new Module.SourceMap(JSON.parse(map))));
  const entry = map.findEntry(line - 1, column - 1);
  if (entry.originalLine === undefined) return undefined;
  return `${file}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
}

/** V8's stack format, with each frame of a compiled file at its place in the .ts source. */
function prepareStackTrace(error, frames) {
  const lines = frames.map((frame) => {
    const text = `    at ${frame}`;
    const file = frame.getFileName();
    const mapped = file && originalPosition(file, frame.getLineNumber(), frame.getColumnNumber());
    return mapped ? text.replace(`${file}:${frame.getLineNumber()}:${frame.getColumnNumber()}`, mapped) : text;
  });
  let head;
  try {
    head = Error.prototype.toString.call(error);
  } catch {
    head = "Error";
  }
  return [head, ...lines].join("\n");
}

const INSTALLED = Symbol.for("classic-servers.unit-runner.register");
if (!globalThis[INSTALLED]) {
  globalThis[INSTALLED] = true;
  Error.prepareStackTrace = prepareStackTrace;

  Module._extensions[".ts"] = function compileTypeScript(module, filename) {
    const { code, map } = compiled(fs.readFileSync(filename, "utf8"), filename);
    sourceMaps.set(filename, map);
    module._compile(code, filename);
  };

  const resolveFilename = Module._resolveFilename;
  Module._resolveFilename = function resolveWithReplacements(request, parent, isMain, options) {
    const resolve = () => resolveFilename.call(this, request, parent, isMain, options);
    const fromDir = parent?.filename ? path.dirname(parent.filename) : process.cwd();
    return replacementFor(request, fromDir, resolve) ?? resolve();
  };

  // The runner import()s each test file: ./hooks.mjs hands .ts files to the require hook above.
  Module.register("./hooks.mjs", pathToFileURL(__filename));
}

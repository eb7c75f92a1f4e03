// jest's runtime (jest.config.js, "runtime": the integration project's; the unit project runs in
// __tests__/unit-runner/ instead), with V8's code cache kept per worker process.
//
// jest compiles every module again for every test file (each file gets a fresh module registry
// and VM context), and test files load many of the same modules: cdktf, the provider bindings,
// zod and the project's sources. When the unit tests still ran this way, compiling them was about
// a sixth of their CPU time.
// Here each module is compiled as a vm.Script whose code cache (taken after the test file ran, so
// that it holds the functions compiled lazily too) serves the next test file of the same worker.
// The module still runs in the test file's own context, with the same wrapper arguments jest
// passes. V8 checks a cache only against the source's length (it runs the cached code of another
// source of the same length), so a cache is keyed by the file, its length and, for the project's
// own files (which a test could rewrite in place), a hash of the source; installed packages do not
// change during a run, and hashing their megabytes for every test file would cost what it saves.
//
// It also gives the test files a way to stop what they started when their worker process ends
// (`onWorkerExit`, __tests__/worker-exit.ts). A test file's `process` is jest's copy, whose 'exit'
// listeners never run, and a worker ended by a signal (a Ctrl-C reaches every process of the
// terminal's group; jest sends SIGTERM to a worker it replaces or stops) or left behind by its
// parent (a SIGTERM to jest alone) ran no listener at all: nginx, app processes and database
// servers outlived the run (review DB). Here a worker runs each hook the test files registered as
// it exits, on those signals (then ending of the signal), and once its jest is gone.
const { createHash } = require("node:crypto");
const os = require("node:os");
const path = require("node:path");
const vm = require("node:vm");
const Runtime = require("jest-runtime").default;

/** The hooks the test files of this process registered, run as it exits. */
const exitHooks = new Set();
const WORKER_EXIT = Symbol.for("classic-servers.onWorkerExit");

/**
 * Once per process: the exit hooks, run on SIGINT, SIGTERM or SIGHUP (then the signal ends the
 * process), on its exit, and once its jest is gone.
 */
function installWorkerExit() {
  if (process[WORKER_EXIT]) return;
  process[WORKER_EXIT] = true;
  const runExitHooks = () => {
    for (const hook of [...exitHooks]) {
      exitHooks.delete(hook);
      try {
        hook();
      } catch (error) {
        process.stderr.write(`a test's exit hook failed: ${error?.stack ?? error}\n`);
      }
    }
  };
  process.on("exit", runExitHooks);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.once(signal, () => {
      runExitHooks();
      // Then the worker ends of the signal, as it would have without this listener: jest tells a
      // worker a signal ended from one that crashed, which it replaces and gives the same file
      // again (an exit code of 130 or 129 ran the file twice; review DC). process.exit only if
      // something else still listens for the signal.
      process.kill(process.pid, signal);
      setTimeout(() => process.exit(128 + os.constants.signals[signal]), 1000);
    });
  }
  // A worker whose jest is gone (its IPC channel closed). Polled: a 'disconnect' listener would
  // hold the channel open, and jest would have to kill every worker at the end of each run.
  if (process.connected) setInterval(() => process.connected || process.exit(0), 500).unref();
}

/** Code caches by file, source length and, outside node_modules, the source's hash. */
const codeCaches = new Map();

function cacheKey(filename, source) {
  const installed = filename.includes(`${path.sep}node_modules${path.sep}`);
  const hash = installed ? "" : createHash("sha1").update(source).digest("base64");
  return `${filename}\0${source.length}\0${hash}`;
}

class CodeCachingRuntime extends Runtime {
  constructor(...args) {
    super(...args);
    installWorkerExit();
    // jest-runtime's arguments: (config, environment, ...); the test file's global gets the registry
    args[1].global[WORKER_EXIT] = (hook) => {
      exitHooks.add(hook);
      return () => exitHooks.delete(hook);
    };
    const compiled = [];
    this.compiledThisFile = compiled;
    // jest-runtime 30 compiles modules in its ModuleExecutor (vm.compileFunction, no cache).
    const executor = this.executor;
    if (typeof executor?.compile !== "function") {
      throw new Error("__tests__/jest-runtime.js: jest-runtime has no ModuleExecutor.compile to extend");
    }
    executor.compile = function compile(source, filename) {
      const context = this.environment.getVmContext();
      if (context == null) return null;
      const key = cacheKey(filename, source);
      const script = new vm.Script(`(function (${this.injectedModuleParameters.join(", ")}) {${source}\n})`, {
        filename,
        cachedData: codeCaches.get(key),
        importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
      });
      if (!codeCaches.has(key) || script.cachedDataRejected) compiled.push([key, script]);
      return script.runInContext(context);
    };
  }

  teardown() {
    for (const [key, script] of this.compiledThisFile.splice(0)) codeCaches.set(key, script.createCachedData());
    return super.teardown();
  }
}

module.exports = CodeCachingRuntime;
module.exports.cacheKey = cacheKey;

// jest's runtime (jest.config.js, "runtime"), with V8's code cache kept per worker process.
//
// jest compiles every module again for every test file (each file gets a fresh module registry
// and VM context), and most test files load the same ~800 modules: cdktf, the provider bindings,
// zod and the project's sources. Compiling them was about a sixth of the unit tests' CPU time.
// Here each module is compiled as a vm.Script whose code cache (taken after the test file ran, so
// that it holds the functions compiled lazily too) serves the next test file of the same worker.
// V8 checks a cache against the source and rejects one that does not match; the module still
// runs in the test file's own context, with the same wrapper arguments jest passes.
const vm = require("node:vm");
const Runtime = require("jest-runtime").default;

/** Code caches by file and source length; a stale one is rejected by V8 itself. */
const codeCaches = new Map();

class CodeCachingRuntime extends Runtime {
  constructor(...args) {
    super(...args);
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
      const key = `${filename}\0${source.length}`;
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

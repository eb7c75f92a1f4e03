// One jest runner for every project (jest.config.js), so that they run at the same time: jest
// runs the projects of different runners one runner after the other, and the integration tests
// leave a core idle much of the time (they wait on their real processes' timers), time the unit
// tests now fill. The files of the unit and programs projects go to jest-light-runner's worker in
// processes of their own (runInProcesses, below: one beside jest's two workers, two alone); every
// other file goes to jest's default runner, as before, its events (files and test cases) passed on
// to jest as they come.
// With `jest -i` the light projects' files run first, in jest's own process (the same worker,
// without the deadline per file), then the others.
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const JestRunner = require("jest-runner").default;

/** The projects whose files run in jest-light-runner (jest.config.js). */
const LIGHT_PROJECTS = new Set(["unit", "programs"]);

/**
 * How long a unit test file may run before its process is stopped and the file fails: a test's
 * own timeout (./per-file.js) cannot end a test that blocks its process's event loop. The slowest
 * unit file takes about 3 s, the slowest of the programs project about 30 s on a quiet machine
 * (userdata/in-server-files.test.ts, which runs bash); on one loaded by other work that one took
 * over 60 s, so the deadline is the drills' (STEP_TIMEOUT_MS): it only ends a file that hangs.
 */
const FILE_TIMEOUT_MS = Number(process.env.UNIT_RUNNER_FILE_TIMEOUT_MS) || 180_000;

/** How long a file may wait for a process to start it (a process that never starts). */
const PROCESS_START_TIMEOUT_MS = 120_000;

/** V8 flags for the processes that run test files (./v8-flags.js). */
const { TEST_PROCESS_V8_FLAGS } = require("./v8-flags.js");

/** The events jest listens to on a runner that emits them. */
const EVENTS = ["test-file-start", "test-file-success", "test-file-failure", "test-case-start", "test-case-result"];

class CombinedRunner {
  supportsEventEmitters = true;
  #listeners = new Map(EVENTS.map((name) => [name, new Set()]));

  constructor(globalConfig, context) {
    this.globalConfig = globalConfig;
    this.context = context;
  }

  /** Subscribes to one of EVENTS, as jest does on its own runner; returns the unsubscribe. */
  on(name, listener) {
    const listeners = this.#listeners.get(name);
    if (!listeners) throw new Error(`unit-runner/runner.js: no event ${name}`);
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  async #emit(name, payload) {
    for (const listener of [...this.#listeners.get(name)]) await listener(payload);
  }

  async runTests(tests, watcher, options) {
    const isLight = (test) =>
      LIGHT_PROJECTS.has(test.context.config.displayName?.name ?? test.context.config.displayName);
    const light = tests.filter(isLight);
    const rest = tests.filter((test) => !isLight(test));
    const report = {
      onStart: (test) => this.#emit("test-file-start", [test]),
      onResult: (test, result) => this.#emit("test-file-success", [test, result]),
      onFailure: (test, error) => this.#emit("test-file-failure", [test, error]),
    };
    // a test's default timeout, for ./per-file.js in the runner's processes
    process.env.UNIT_RUNNER_TEST_TIMEOUT_MS = String(this.globalConfig.testTimeout ?? 5000);

    const runLight = async () => {
      if (light.length === 0) return;
      if (options.serial) {
        // in band: the same worker, in this process, one file after the other
        const { default: runTestFile } = await import("./worker.mjs");
        await eachFile(light, 1, (test) => runTestFile(taskFor(test, this.globalConfig, "main_thread")), report);
        return;
      }
      // Beside jest's workers, one process fewer than they are: on two cores, two unit processes
      // and two workers took turns on them, and each process loads cdktf, the provider bindings
      // and the project's modules once (about 1.5 s of CPU). Alone (npm run test:quick), as many.
      const processes = rest.length > 0 ? Math.max(1, this.globalConfig.maxWorkers - 1) : this.globalConfig.maxWorkers;
      await runInProcesses(light, this.globalConfig, processes, report);
    };
    const runJest = async () => {
      if (rest.length === 0) return;
      // jest's workers are forked with this process's execArgv
      if (!options.serial) {
        for (const flag of TEST_PROCESS_V8_FLAGS) if (!process.execArgv.includes(flag)) process.execArgv.push(flag);
      }
      const runner = new JestRunner(this.globalConfig, this.context);
      const unsubscribe = EVENTS.map((name) => runner.on(name, (payload) => this.#emit(name, payload)));
      try {
        await runner.runTests(rest, watcher, options);
      } finally {
        for (const off of unsubscribe) off();
      }
    };
    if (options.serial) {
      await runLight();
      await runJest();
    } else {
      await Promise.all([runLight(), runJest()]);
    }
  }
}

/** What ./worker.mjs runs for `test`: its path, and the configuration it runs with. */
function taskFor(test, globalConfig, runtime) {
  return { testPath: test.path, workerData: { globalConfig, projectConfig: test.context.config, runtime } };
}

/** Runs `tests` through `run`, `concurrency` at a time, and reports each file as jest wants. */
async function eachFile(tests, concurrency, run, { onStart, onResult, onFailure }) {
  const queue = [...tests];
  const next = async () => {
    for (let test = queue.shift(); test; test = queue.shift()) {
      try {
        await onStart(test);
        await onResult(test, await run(test));
      } catch (error) {
        await onFailure(test, error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, next));
}

/**
 * Runs `tests` in `workers` processes of jest-light-runner's worker (./worker.mjs),
 * each file given with the configuration it runs with. A process that ends between two files (an
 * error thrown after its file ended, see ./per-file.js) fails the run, with its error, once every
 * file has run.
 */
async function runInProcesses(tests, globalConfig, workers, report) {
  const { default: Tinypool } = await import("tinypool");
  const pool = new Tinypool({
    filename: path.join(__dirname, "worker.mjs"),
    runtime: "child_process",
    minThreads: workers,
    maxThreads: workers,
    env: process.env,
    trackUnmanagedFds: false,
    execArgv: [...new Set([...process.execArgv, ...TEST_PROCESS_V8_FLAGS])],
  });
  const endedBetweenFiles = [];
  pool.on("error", (error) => endedBetweenFiles.push(error));
  // A file's deadline counts from when its process starts it (./worker.mjs writes a marker file
  // then), not from when it is handed over: a process started for it (the first ones, or one
  // replacing a process that ended) may take seconds to start on a loaded machine.
  const markers = fs.mkdtempSync(path.join(os.tmpdir(), "unit-runner-"));
  let tasks = 0;
  const run = async (test) => {
    const startedFile = path.join(markers, String(++tasks));
    const deadline = new AbortController();
    let startedAt;
    let reason;
    const handedOverAt = Date.now();
    const watch = setInterval(() => {
      startedAt ??= fs.existsSync(startedFile) ? Date.now() : undefined;
      if (startedAt !== undefined && Date.now() - startedAt > FILE_TIMEOUT_MS) {
        reason = `did not finish within ${FILE_TIMEOUT_MS / 1000} s, and its process was stopped (a test that blocks the event loop: a test's own timeout cannot end it)`;
      } else if (startedAt === undefined && Date.now() - handedOverAt > PROCESS_START_TIMEOUT_MS) {
        reason = `was not started by a test process within ${PROCESS_START_TIMEOUT_MS / 1000} s`;
      }
      if (reason) deadline.abort();
    }, 50);
    try {
      return await pool.run(
        { ...taskFor(test, globalConfig, "child_process"), startedFile },
        { signal: deadline.signal },
      );
    } catch (error) {
      if (error?.name !== "AbortError") throw error;
      throw new Error(`${path.relative(globalConfig.rootDir, test.path)} ${reason}`);
    } finally {
      clearInterval(watch);
    }
  };
  try {
    await eachFile(tests, workers, run, report);
  } finally {
    await pool.destroy();
    fs.rmSync(markers, { recursive: true, force: true });
  }
  if (endedBetweenFiles.length > 0) {
    throw new Error(
      `a unit test process ended between two test files (its error and the file before it are on stderr above): ` +
        endedBetweenFiles.map((error) => error.message).join("; "),
    );
  }
}

module.exports = CombinedRunner;

// One jest runner for both projects (jest.config.js), so that they run at the same time: jest
// runs the projects of different runners one runner after the other, and the integration tests
// leave a core idle much of the time (they wait on their real processes' timers), time the unit
// tests now fill. The unit project's files go to jest-light-runner (its own two processes, beside
// jest's two workers), every other file to jest's default runner, as before. In band (`jest -i`,
// or a run of a few files) the unit files run first, in jest's own process, then the others.
const path = require("node:path");
const JestRunner = require("jest-runner").default;

/** The project whose files run in jest-light-runner. */
const LIGHT_PROJECT = "unit";

/**
 * How long a unit test file may run before its process is stopped and the file fails: a test's
 * own timeout (./per-file.js) cannot end a test that blocks its process's event loop. The slowest
 * unit file takes about 3 s.
 */
const FILE_TIMEOUT_MS = Number(process.env.UNIT_RUNNER_FILE_TIMEOUT_MS) || 60_000;

class CombinedRunner {
  constructor(globalConfig, context) {
    this.globalConfig = globalConfig;
    this.context = context;
  }

  async runTests(tests, watcher, onStart, onResult, onFailure, options) {
    const isLight = (test) =>
      (test.context.config.displayName?.name ?? test.context.config.displayName) === LIGHT_PROJECT;
    const light = tests.filter(isLight);
    const rest = tests.filter((test) => !isLight(test));

    const runLight = async () => {
      if (light.length === 0) return;
      if (options.serial) {
        // in band: jest-light-runner in this process (its main-thread mode takes no handshake)
        const { default: LightRunner } = await import("jest-light-runner");
        await new LightRunner({ ...this.globalConfig, maxWorkers: 1 }, this.context).runTests(
          light,
          watcher,
          onStart,
          onResult,
          onFailure,
        );
        return;
      }
      await runInProcesses(light, this.globalConfig, { onStart, onResult, onFailure });
    };
    const runJest = async () => {
      if (rest.length === 0) return;
      const runner = new JestRunner(this.globalConfig, this.context);
      const unsubscribe = [
        runner.on("test-file-start", ([test]) => onStart(test)),
        runner.on("test-file-success", ([test, result]) => onResult(test, result)),
        runner.on("test-file-failure", ([test, error]) => onFailure(test, error)),
      ];
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

/**
 * Runs `tests` in `globalConfig.maxWorkers` processes of jest-light-runner's worker (./worker.mjs),
 * each file given with the configuration it runs with, and reports each as jest's callbacks want.
 */
async function runInProcesses(tests, globalConfig, { onStart, onResult, onFailure }) {
  const { default: Tinypool } = await import("tinypool");
  const workers = globalConfig.maxWorkers;
  const pool = new Tinypool({
    filename: path.join(__dirname, "worker.mjs"),
    runtime: "child_process",
    minThreads: workers,
    maxThreads: workers,
    env: process.env,
    trackUnmanagedFds: false,
  });
  const queue = [...tests];
  const next = async () => {
    for (let test = queue.shift(); test; test = queue.shift()) {
      const workerData = { globalConfig, projectConfig: test.context.config, runtime: "child_process" };
      try {
        await onStart(test);
        const result = await pool
          .run({ testPath: test.path, workerData }, { signal: AbortSignal.timeout(FILE_TIMEOUT_MS) })
          .catch((error) => {
            if (error?.name !== "AbortError") throw error;
            throw new Error(
              `${path.relative(globalConfig.rootDir, test.path)} did not finish within ${FILE_TIMEOUT_MS / 1000} s, ` +
                "and its process was stopped (a test that blocks the event loop: a test's own timeout cannot end it)",
            );
          });
        await onResult(test, result);
      } catch (error) {
        await onFailure(test, error);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: workers }, next));
  } finally {
    await pool.destroy();
  }
}

module.exports = CombinedRunner;

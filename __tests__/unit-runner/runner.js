// One jest runner for both projects (jest.config.js), so that they run at the same time: jest
// runs the projects of different runners one runner after the other, and the integration tests
// leave a core idle much of the time (they wait on their real processes' timers), time the unit
// tests now fill. The unit project's files go to jest-light-runner (its own two processes, beside
// jest's two workers), every other file to jest's default runner, as before. In band (`jest -i`,
// or a run of a few files) the unit files run first, in jest's own process, then the others.
const JestRunner = require("jest-runner").default;

/** The project whose files run in jest-light-runner. */
const LIGHT_PROJECT = "unit";

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
      const { createRunner } = await import("jest-light-runner");
      const LightRunner = createRunner({ runtime: "child_process" });
      await new LightRunner(this.globalConfig, this.context).runTests(light, watcher, onStart, onResult, onFailure);
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

module.exports = CombinedRunner;

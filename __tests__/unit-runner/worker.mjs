// What each unit-runner process (./runner.js) runs per test file: jest-light-runner's own worker,
// given the jest configuration with the task itself. (jest-light-runner's child-process mode asks
// its parent for the configuration in a handshake that can lose the answer when two processes
// start at once: such a process then waits forever, and so does the run.)
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { format, inspect } from "node:util";

const require = createRequire(import.meta.url);
// the runner's worker module (not among the package's exports, so by its path)
const lightRunner = await import(
  pathToFileURL(path.join(path.dirname(require.resolve("jest-light-runner")), "worker-runner.js")).href
);

// unit-runner.test's stand-in for a machine so loaded that a process takes seconds to start
const startDelay = Number(process.env.UNIT_RUNNER_START_DELAY_MS) || 0;
if (startDelay > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, startDelay);

let configured = false;

/** Default test timeouts of the light projects that do not keep jest's (./per-file.js). */
const PROJECT_TEST_TIMEOUT_MS = { programs: 30_000 };

/**
 * What the file running now printed through the console, as jest's own console keeps it (jest
 * prints it under the file, and not with --silent; the process's stdout stays jest's, for
 * --json). The methods are replaced once, so that they are the same functions in every file
 * (./per-file.js fails a file that leaves console.log replaced).
 */
let printed;
let silent = false;
for (const type of ["log", "info", "warn", "error", "debug", "dir"]) {
  const direct = console[type].bind(console);
  console[type] = function keptForJest(...args) {
    if (!printed) return direct(...args);
    if (silent) return undefined;
    const origin = new Error().stack.split("\n").slice(2).join("\n");
    const message = type === "dir" ? inspect(args[0], args[1]) : format(...args);
    printed.push({ message, origin, type: type === "dir" ? "log" : type });
  };
}
// what a file printed before its process ended (process.exit, the runner's deadline) is not lost
process.on("exit", () => {
  for (const { type, message } of printed ?? []) process.stderr.write(`console.${type}: ${message}\n`);
});

/** Runs one test file, as jest-light-runner's worker does; the first task sets the configuration. */
export default async function runTestFile({ testPath, workerData, startedFile }) {
  // the runner's deadline for this file starts now (./runner.js)
  if (startedFile) fs.writeFileSync(startedFile, "");
  if (!configured) {
    lightRunner.setWorkerData(workerData);
    configured = true;
  }
  printed = [];
  silent = Boolean(workerData.globalConfig.silent);
  // ./per-file.js: the default timeout of this file's tests (the programs project's, 30 s)
  globalThis[Symbol.for("classic-servers.unit-runner.defaultTimeout")] =
    PROJECT_TEST_TIMEOUT_MS[workerData.projectConfig.displayName?.name ?? workerData.projectConfig.displayName];
  try {
    const result = await lightRunner.default(testPath);
    // jest-light-runner times a file by performance.now(), from this process's start; jest reports
    // (--json's startTime and endTime) and compares them as times since the epoch
    const { start, end } = result.perfStats;
    const perfStats = { ...result.perfStats, start: start + performance.timeOrigin, end: end + performance.timeOrigin };
    return { ...result, perfStats, ...(printed.length > 0 ? { console: printed } : {}) };
  } finally {
    printed = undefined;
    globalThis[Symbol.for("classic-servers.unit-runner.settleFile")]?.();
  }
}

// What each unit-runner process (./runner.js) runs per test file: jest-light-runner's own worker,
// given the jest configuration with the task itself. (jest-light-runner's child-process mode asks
// its parent for the configuration in a handshake that can lose the answer when two processes
// start at once: such a process then waits forever, and so does the run.)
import { createRequire } from "node:module";
import * as path from "node:path";
import { pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);
// the runner's worker module (not among the package's exports, so by its path)
const lightRunner = await import(
  pathToFileURL(path.join(path.dirname(require.resolve("jest-light-runner")), "worker-runner.js")).href
);

let configured = false;

/** Runs one test file, as jest-light-runner's worker does; the first task sets the configuration. */
export default async function runTestFile({ testPath, workerData }) {
  if (!configured) {
    lightRunner.setWorkerData(workerData);
    configured = true;
  }
  return lightRunner.default(testPath);
}

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { processRunning } from "./helpers";
import { waitUntil } from "./wait-until";

/**
 * What a test started outlives neither the test nor its jest, however jest ends: a Ctrl-C, a
 * SIGTERM to jest alone, jest's own SIGTERM to a worker it replaces (review DB: nginx, app
 * processes and mariadbd outlived such runs). A jest of the integration project's configuration
 * runs __tests__/worker-exit-fixtures/ (its runtime, its workers), and the programs its fixture
 * leaves to `onWorkerExit` must be gone once jest is. A worker killed by SIGKILL runs nothing:
 * there the run's end (global-teardown.js) finds the programs by the run folder their command line
 * or environment names, and what those started.
 */

const ROOT = path.join(__dirname, "..");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const FIXTURES = path.join(__dirname, "worker-exit-fixtures");

/** Runs the fixtures, stops jest with `stop` once the programs run, and says whether any outlived jest. */
async function programOutlives(
  stop: (jest: number, worker: number) => void,
  options: { runFolder?: boolean } = {},
): Promise<boolean> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "worker-exit-"));
  const main = require("../jest.config.js") as { projects: Record<string, unknown>[]; workerIdleMemoryLimit: string };
  const integration = main.projects.find((project) => project.displayName === "integration");
  if (!integration) throw new Error("jest.config.js has no project named integration");
  const cacheDirectory = path.join(work, "cache");
  const config = {
    rootDir: ROOT,
    cacheDirectory,
    // in jest's workers, as in a run of the suite (with a memory limit jest never runs the files in
    // its own process; without, it did once it had timed them fast)
    workerIdleMemoryLimit: main.workerIdleMemoryLimit,
    projects: [{ ...integration, rootDir: ROOT, cacheDirectory, roots: [FIXTURES], testMatch: ["**/*.fixture.ts"] }],
    // a run of its own: its folder, and the end of the run that sweeps it
    ...(options.runFolder
      ? {
          globalSetup: path.join(__dirname, "global-setup.js"),
          globalTeardown: path.join(__dirname, "global-teardown.js"),
        }
      : {}),
  };
  fs.writeFileSync(path.join(work, "jest.config.json"), JSON.stringify(config));
  const mark = path.join(work, "mark");
  // in a process group of its own, as a terminal's foreground job is
  const jest = spawn(
    process.execPath,
    [require.resolve("jest/bin/jest"), "--config", path.join(work, "jest.config.json"), "--maxWorkers=2"],
    { cwd: ROOT, env: { ...process.env, WORKER_EXIT_MARK: mark }, stdio: "ignore", detached: true },
  );
  const ended = new Promise((resolve) => jest.once("close", resolve));
  let programs: number[] = [];
  try {
    await waitUntil(
      "the fixture's program runs",
      () => fs.existsSync(mark) && fs.readFileSync(mark, "utf8").endsWith("\n"),
      60_000,
    );
    const [worker, ...pids] = fs.readFileSync(mark, "utf8").trim().split(" ").map(Number);
    expect(pids).toHaveLength(3); // (the first program's child too)
    programs = pids;
    expect(worker).not.toBe(jest.pid); // a worker's, not jest's own process
    stop(jest.pid!, worker);
    // (a worker that exits with a code of its own, not of the signal, is one jest takes for
    // crashed: it runs the file again in a new one, and the run goes on)
    const over = await Promise.race([ended.then(() => true), sleep(30_000).then(() => false)]);
    if (!over) throw new Error("jest still runs 30 s after the stop: it ran the test file again");
    // the hook runs as the worker exits, which may be a moment after jest's own end
    return await waitUntil("the programs end", () => !programs.some(processRunning), 5000).then(
      () => false,
      () => true,
    );
  } finally {
    for (const pid of programs) if (processRunning(pid)) process.kill(pid, "SIGKILL");
    try {
      process.kill(-jest.pid!, "SIGKILL"); // and any worker of it still running
    } catch {
      // all ended
    }
    fs.rmSync(work, { recursive: true, force: true });
  }
}

test("a Ctrl-C (SIGINT to jest's process group) ends what the running test started", async () => {
  expect(await programOutlives((jest) => process.kill(-jest, "SIGINT"))).toBe(false);
}, 120_000);

test("a SIGTERM to jest alone ends what its worker's running test started", async () => {
  expect(await programOutlives((jest) => process.kill(jest, "SIGTERM"))).toBe(false);
}, 120_000);

test("jest's SIGTERM to a worker (one it replaces or stops) ends what the worker's test started", async () => {
  expect(await programOutlives((_jest, worker) => process.kill(worker, "SIGTERM"))).toBe(false);
}, 120_000);

test("a SIGHUP to a worker (its terminal gone) ends what the worker's test started, and the file is not run again", async () => {
  expect(await programOutlives((_jest, worker) => process.kill(worker, "SIGHUP"))).toBe(false);
}, 120_000);

test("a worker killed outright (SIGKILL, the OOM killer) runs no hook: the end of the run ends what names its folder", async () => {
  expect(await programOutlives((_jest, worker) => process.kill(worker, "SIGKILL"), { runFolder: true })).toBe(false);
}, 120_000);

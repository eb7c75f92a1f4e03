import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { tempDir } from "./helpers";

/**
 * The unit project runs in jest-light-runner (__tests__/unit-runner/): its test files share their
 * runner process and its modules, instead of a fresh VM context each. Here that project's own
 * configuration, from jest.config.js, runs fixtures in a jest of its own, and what jest reports of
 * each test is checked: what jest's default runner gave the tests is still there.
 * - __tests__/unit-runner/fixtures/: in one runner process (one worker: jest's own), in their
 *   file order;
 * - __tests__/unit-runner/crash-fixtures/: files that end their process (and one that reads the
 *   V8 flags its process started with), in two runner processes as `npm run test:quick` runs them;
 * - __tests__/unit-runner/between-fixtures/: an error thrown after its file ended, while the other
 *   process still runs a file; in processes slow to start.
 */
const ROOT = path.join(__dirname, "..");
const FIXTURES = path.join(__dirname, "unit-runner", "fixtures");
const CRASH_FIXTURES = path.join(__dirname, "unit-runner", "crash-fixtures");
const BETWEEN_FIXTURES = path.join(__dirname, "unit-runner", "between-fixtures");

interface AssertionResult {
  readonly title: string;
  readonly status: string;
  readonly failureMessages: readonly string[];
}
interface FileResult {
  readonly name: string;
  readonly status: string;
  readonly message: string;
  readonly startTime: number;
  readonly endTime: number;
  readonly assertionResults: readonly AssertionResult[];
}

interface FixtureRun {
  readonly status: number | null;
  readonly stderr: string;
  readonly output: string;
}

/** jest run on the fixtures in `dir` with `maxWorkers`: its status, stderr and results file. */
async function jestOnFixtures(dir: string, maxWorkers: number, env: Record<string, string> = {}): Promise<FixtureRun> {
  const unit = (require("../jest.config.js") as { projects: Record<string, unknown>[] }).projects.find(
    (project) => project.displayName === "unit",
  );
  if (!unit) throw new Error("jest.config.js has no project named unit");
  const work = tempDir("unit-runner-");
  // the fixtures in their file order (jest orders files by size and past durations otherwise)
  fs.writeFileSync(
    path.join(work, "sequencer.js"),
    [
      'const Sequencer = require(require.resolve("@jest/test-sequencer", { paths: [process.cwd()] })).default;',
      "module.exports = class extends Sequencer {",
      "  sort(tests) { return [...tests].sort((a, b) => a.path.localeCompare(b.path)); }",
      "};",
    ].join("\n"),
  );
  const config = {
    rootDir: ROOT,
    cacheDirectory: path.join(work, "cache"),
    testSequencer: path.join(work, "sequencer.js"),
    projects: [{ ...unit, rootDir: ROOT, roots: [dir], testMatch: ["**/*.fixture.ts"], testPathIgnorePatterns: [] }],
  };
  fs.writeFileSync(path.join(work, "jest.config.json"), JSON.stringify(config));
  const output = path.join(work, "results.json");
  const args = [
    require.resolve("jest/bin/jest"),
    "--config",
    path.join(work, "jest.config.json"),
    `--maxWorkers=${maxWorkers}`,
    "--json",
    `--outputFile=${output}`,
  ];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, FORCE_COLOR: "0", ...env },
    stdio: ["ignore", "ignore", "pipe"],
    timeout: 60_000,
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const status = await new Promise<number | null>((resolve, reject) => child.on("error", reject).on("close", resolve));
  return { status, stderr, output };
}

/** What jest reports of each fixture in `dir` (by file name, without .fixture.ts), run with `maxWorkers`. */
async function runFixtures(
  dir: string,
  maxWorkers: number,
  env: Record<string, string> = {},
): Promise<Map<string, FileResult>> {
  const { status, stderr, output } = await jestOnFixtures(dir, maxWorkers, env);
  if (!fs.existsSync(output)) throw new Error(`jest wrote no results (status ${status}):\n${stderr}`);
  const files = (JSON.parse(fs.readFileSync(output, "utf8")) as { testResults: FileResult[] }).testResults;
  return new Map(files.map((file) => [path.basename(file.name, ".fixture.ts"), file]));
}

let results: Map<string, FileResult>;
let crashResults: Map<string, FileResult>;
let betweenRun: FixtureRun;
let runsStarted: number;

// the three jest runs at once
beforeAll(async () => {
  runsStarted = Date.now();
  [results, crashResults, betweenRun] = await Promise.all([
    // one worker: the runner then runs every file in one process (jest's), one after another
    runFixtures(FIXTURES, 1),
    // two workers, as npm run test:quick runs them; a file may run for 3 s
    runFixtures(CRASH_FIXTURES, 2, { UNIT_RUNNER_FILE_TIMEOUT_MS: "3000" }),
    // processes that take 6 s to start, as on a loaded machine, with 6 s per file (which counts
    // from the file's start in its process, not from its process's: the first file of a process
    // also loads what the tests need, 1 s here, and 3.5 s under a load of 9 on two cores)
    // (the late timer marks when it fires, and the other file runs on until then: under load, a
    // fixed 2 s let that file end, and the run with it, before the timer threw)
    jestOnFixtures(BETWEEN_FIXTURES, 2, {
      UNIT_RUNNER_START_DELAY_MS: "6000",
      UNIT_RUNNER_FILE_TIMEOUT_MS: "6000",
      LATE_TIMER_MARKER: path.join(tempDir("late-timer-"), "fired"),
    }),
  ]);
}, 90_000);

function file(name: string, from: Map<string, FileResult> = results): FileResult {
  const result = from.get(name);
  if (!result) throw new Error(`no result for fixture ${name}: ${[...from.keys()].join(", ")}`);
  return result;
}

function test_(fileName: string, title: string, from: Map<string, FileResult> = results): AssertionResult {
  const result = file(fileName, from).assertionResults.find((t) => t.title === title);
  if (!result) throw new Error(`no test "${title}" in ${fileName}`);
  return result;
}

/** The test `title` of fixture `fileName` failed, its message holding each of `texts`. */
function expectTestFailed(fileName: string, title: string, ...texts: string[]): void {
  const result = test_(fileName, title);
  expect(result.status).toBe("failed");
  for (const text of texts) expect(result.failureMessages.join("\n")).toContain(text);
}

/** The test `title` of fixture `fileName` passed. */
function expectTestPassed(fileName: string, title: string): void {
  expect(test_(fileName, title).status).toBe("passed");
}

/** Fixture file `name` (of the run `from`) failed, its message holding each of `texts`. */
function expectFileFailed(name: string, from: Map<string, FileResult>, ...texts: string[]): void {
  const result = file(name, from);
  expect(result.status).toBe("failed");
  for (const text of texts) expect(result.message).toContain(text);
}

test("every fixture ran, in jest runs of the unit project's configuration", () => {
  for (const [dir, ran] of [
    [FIXTURES, results],
    [CRASH_FIXTURES, crashResults],
  ] as const) {
    expect([...ran.keys()].sort()).toEqual(
      fs
        .readdirSync(dir)
        .map((name) => path.basename(name, ".fixture.ts"))
        .sort(),
    );
  }
});

test("each file's start and end are times on the clock, as jest's reports and its --json read them", () => {
  // (jest-light-runner times a file from its process's start: read as times, they were in 1970)
  // in jest's own process (one worker) and in the runner's processes (two)
  const passing = [...crashResults.entries()].filter(([name]) => name.startsWith("passes-"));
  expect(passing).toHaveLength(4);
  for (const result of [...results.values(), ...passing.map(([, result]) => result)]) {
    expect(result.startTime).toBeGreaterThanOrEqual(runsStarted);
    expect(result.endTime).toBeGreaterThanOrEqual(result.startTime);
    expect(result.endTime).toBeLessThanOrEqual(Date.now());
  }
});

test("a failure points at the line and column in the .ts file, not in what SWC compiled it to", () => {
  expectTestFailed(
    "05-fails",
    "fails on line 11, column 24",
    "Expected: 3",
    `${path.join(FIXTURES, "05-fails.fixture.ts")}:11:24`,
  );
});

test("a test that never ends fails after its own timeout, and the tests after it still run", () => {
  expectTestFailed("03-hangs", "never ends", 'Exceeded timeout of 300 ms for test "never ends"');
  expectTestPassed("03-hangs", "runs after the one that never ended");
});

test("expect.assertions() fails a test that made fewer assertions, and passes one that made them", () => {
  expectTestFailed(
    "04-assertions",
    "asks for two assertions and makes one",
    "Expected two assertions to be called but received one assertion call",
  );
  expectTestPassed("04-assertions", "makes the two assertions it asks for");
});

test("a test that takes a done callback ends when it calls it", () => {
  expectTestPassed("04-assertions", "ends when it calls done");
});

test("a file that leaves an environment variable set fails, and the next file in its process starts without it", () => {
  expectFileFailed("01-leaves-env", results, "this test file left process.env.UNIT_RUNNER_FIXTURE_LEFT changed");
  expectTestPassed("01-leaves-env", "sets an environment variable and leaves it set");
  expectTestPassed("02-after-it", "starts without the variable the file before it left");
});

test("test.concurrent, test.todo and test.failing, which the runner would run as plain tests, fail their file at once, saying why", () => {
  for (const [name, what] of [
    ["06-concurrent", 'test.concurrent ("runs beside the others")'],
    ["14-todo", 'test.todo ("is still to be written")'],
    ["15-failing", 'test.failing ("is expected to fail")'],
  ]) {
    expectFileFailed(name, results, what, "jest-light-runner");
  }
});

test("a hook that never ends fails after its own timeout, also when it is the file's first call", () => {
  expectFileFailed("07-hook-first", results, "Exceeded timeout of 200 ms for a beforeAll hook");
});

test("expect.hasAssertions() in a beforeEach fails a test that made no assertion", () => {
  expectTestFailed(
    "08-assertions-in-hook",
    "makes no assertion, which its beforeEach asked for",
    "expect.hasAssertions()",
  );
});

test("a test that throws a string fails with what it threw, and the others in its file keep their results", () => {
  expectTestFailed("09-throws-a-string", "throws a string", "thrown: 'boom'");
  expectTestPassed("09-throws-a-string", "passes beside it");
});

test("fake timers left on fail their file, a test's timeout still fires under them, and the next file has real timers", () => {
  expectFileFailed(
    "10-leaves-fake-timers",
    results,
    "setTimeout (replaced: a mock, fake timers left on, or a value set)",
  );
  expectTestFailed(
    "10-leaves-fake-timers",
    "never ends, under fake timers",
    'Exceeded timeout of 300 ms for test "never ends, under fake timers"',
  );
  expectTestPassed("11-after-fake-timers", "waits on real timers, which the file before it left faked");
});

test("a matcher a file added with expect.extend fails that file, and the next file does not have it", () => {
  expectFileFailed("12-leaves-a-matcher", results, "a matcher added by expect.extend, toBeFive");
  expectTestPassed("13-after-the-matcher", "has no matcher the file before it added");
});

test("a matcher or equality tester a file overrode, or a clearInterval it replaced, fails that file and is put back", () => {
  expectFileFailed(
    "16-overrides",
    results,
    "a matcher replaced by expect.extend, toBe",
    "expect's equality testers (expect.addEqualityTesters)",
    "clearInterval (replaced",
  );
  expectTestPassed("17-after-the-overrides", "has the real toBe, equality and clearInterval back");
});

test("a file whose test exits its process fails, and the other files still run", () => {
  expectFileFailed("exits", crashResults, "Worker exited unexpectedly");
  for (const n of [1, 2, 3, 4]) expect(file(`passes-${n}`, crashResults).status).toBe("passed");
});

test("an error thrown from a timer, or a rejection nobody handles, fails its file with that error", () => {
  for (const [name, what] of [
    ["throws-from-a-timer", "an error thrown outside any test: Error: thrown from a timer"],
    ["rejects-unhandled", "a rejection nobody handled: Error: nobody handles this"],
  ]) {
    expectFileFailed(name, crashResults, what);
  }
});

test("a file that blocks its process for good fails after the runner's deadline for a file, and the run ends", () => {
  expectFileFailed("blocks", crashResults, "did not finish within 3 s, and its process was stopped");
  expect(file("passes-4", crashResults).status).toBe("passed");
});

test("an error thrown after its file ended fails the run, naming that file, once the other files have run", () => {
  const run = betweenRun;
  expect(run.status).not.toBe(0);
  expect(run.stderr).toContain(
    `an error thrown outside any test after ${path.join(BETWEEN_FIXTURES, "leaves-a-late-timer.fixture.ts")} ended`,
  );
  expect(run.stderr).toContain("thrown after its file ended");
  expect(run.stderr).toContain("a unit test process ended between two test files");
  expect(run.stderr).toMatch(/PASS .*runs-on\.fixture\.ts/);
});

test("the unit project's processes and jest's workers run with the runner's V8 flags, which this node accepts", () => {
  const { TEST_PROCESS_V8_FLAGS: flags } = require("./unit-runner/v8-flags.js") as { TEST_PROCESS_V8_FLAGS: string[] };
  expect(test_("v8-flags", "runs in a process started with the runner's V8 flags", crashResults).status).toBe("passed");
  const started = spawnSync(process.execPath, [...flags, "-e", "0"], { encoding: "utf8" });
  expect({ status: started.status, stderr: started.stderr }).toEqual({ status: 0, stderr: "" });
  // This file runs in a jest worker, or with jest -i in jest's own process, which started before
  // the runner could give it any flag.
  const inJestsOwnProcess = /[\\/]jest(\.js)?$/.test(process.argv[1] ?? "");
  if (!inJestsOwnProcess) expect(process.execArgv).toEqual(expect.arrayContaining(flags));
});

test("a file's deadline counts from its start in its process: a process slow to start does not fail it", () => {
  // the between-fixtures run: its processes took 6 s to start, its files had 6 s each, and
  // runs-on takes 2 s
  expect(betweenRun.stderr).not.toContain("did not finish within");
  expect(betweenRun.stderr).toMatch(/PASS .*runs-on\.fixture\.ts/);
  expect(betweenRun.stderr).toMatch(/PASS .*leaves-a-late-timer\.fixture\.ts/);
});

test("a .ts file is compiled again when its bytes change, even at the same size and mtime; a cached one runs as cached, an unreadable entry is compiled past", () => {
  // (the require hook's cache of what SWC made of each file, __tests__/unit-runner/register.js)
  const work = tempDir("transform-cache-");
  const cache = path.join(work, "cache");
  const file = path.join(work, "value.ts");
  const valueOf = () => {
    const run = spawnSync(
      process.execPath,
      [
        "-r",
        path.join(__dirname, "unit-runner", "register.js"),
        "-e",
        `console.log(require(${JSON.stringify(file)}).value)`,
      ],
      { encoding: "utf8", env: { ...process.env, UNIT_RUNNER_TRANSFORM_CACHE: cache } },
    );
    expect(run.stderr).toBe("");
    return run.stdout.trim();
  };
  try {
    fs.writeFileSync(file, "export const value: number = 1;\n");
    const { atime, mtime } = fs.statSync(file);
    expect(valueOf()).toBe("1");
    fs.writeFileSync(file, "export const value: number = 2;\n");
    fs.utimesSync(file, atime, mtime);
    expect(valueOf()).toBe("2");
    // one entry per file, replaced
    const entries = fs.readdirSync(cache);
    expect(entries).toHaveLength(1);
    const entry = path.join(cache, entries[0]);
    // what runs is the cached code (an entry edited by hand shows it)
    const cached = JSON.parse(fs.readFileSync(entry, "utf8")) as { code: string };
    expect(cached.code).toContain("= 2;");
    fs.writeFileSync(entry, JSON.stringify({ ...cached, code: cached.code.replace("= 2;", "= 3;") }));
    expect(valueOf()).toBe("3");
    fs.writeFileSync(entry, "{ not json");
    expect(valueOf()).toBe("2");
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

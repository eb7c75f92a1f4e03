// (a fixture of __tests__/unit-runner.test.ts, run by that test only)
const { TEST_PROCESS_V8_FLAGS } = require("../v8-flags.js") as { TEST_PROCESS_V8_FLAGS: string[] };

test("runs in a process started with the runner's V8 flags", () => {
  expect(TEST_PROCESS_V8_FLAGS.length).toBeGreaterThan(0);
  expect(process.execArgv).toEqual(expect.arrayContaining(TEST_PROCESS_V8_FLAGS));
});

// (a fixture of __tests__/unit-runner.test.ts, run by that test only)
test("exits the process it runs in", () => {
  process.exit(3);
});

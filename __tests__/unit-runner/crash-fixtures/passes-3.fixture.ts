// (a fixture of __tests__/unit-runner.test.ts, run by that test only)
test("passes", () => {
  expect(2 + 2).toBe(4);
});

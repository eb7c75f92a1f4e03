// (a fixture of __tests__/unit-runner.test.ts, run by that test only)
test("is still running when the other file's timer throws", async () => {
  await new Promise((resolve) => setTimeout(resolve, 2000));
  expect(1).toBe(1);
});

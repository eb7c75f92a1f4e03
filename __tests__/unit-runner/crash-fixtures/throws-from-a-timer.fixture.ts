// (a fixture of __tests__/unit-runner.test.ts, run by that test only)
test("throws from a timer, then passes", async () => {
  setTimeout(() => {
    throw new Error("thrown from a timer");
  }, 5);
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(1).toBe(1);
});

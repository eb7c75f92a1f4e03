// (a fixture of __tests__/unit-runner.test.ts, run by that test only)
test("leaves a rejected promise unhandled, then passes", async () => {
  void Promise.reject(new Error("nobody handles this"));
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(1).toBe(1);
});

// (a fixture of __tests__/unit-runner.test.ts, run by that test only)
test("passes, leaving a timer that throws once its file has ended", () => {
  setTimeout(() => {
    throw new Error("thrown after its file ended");
  }, 700);
  expect(1).toBe(1);
});

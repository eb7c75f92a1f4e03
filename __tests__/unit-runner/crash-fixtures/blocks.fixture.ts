// (a fixture of __tests__/unit-runner.test.ts, run by that test only)
test("blocks its process's event loop for good", () => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
});

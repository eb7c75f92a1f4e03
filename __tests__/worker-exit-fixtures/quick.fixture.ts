// Run by worker-exit.test.ts beside holds.fixture.ts: a second file, so that jest runs the files
// in its workers (it runs a lone file in its own process).
test("ends at once", () => {
  expect(1 + 1).toBe(2);
});

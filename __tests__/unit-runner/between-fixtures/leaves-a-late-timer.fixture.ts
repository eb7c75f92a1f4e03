// (a fixture of __tests__/unit-runner.test.ts, run by that test only)
import * as fs from "node:fs";

test("passes, leaving a timer that throws once its file has ended", () => {
  setTimeout(() => {
    // tells the other file (runs-on) that the throw is now
    if (process.env.LATE_TIMER_MARKER) fs.writeFileSync(process.env.LATE_TIMER_MARKER, "");
    throw new Error("thrown after its file ended");
  }, 700);
  expect(1).toBe(1);
});

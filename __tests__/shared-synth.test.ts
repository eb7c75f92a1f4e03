import * as fs from "node:fs";
import * as path from "node:path";

/**
 * The test suite's shared synth of the shipped environments (global-setup.js) runs beside the
 * first test files. A file that jest runs in its parent process (a small run goes in band) waits
 * for it there with the event loop blocked, so nothing in that loop may be needed to finish it:
 * here the loop stays blocked while synth.json must appear (it did not when the parent wrote the
 * file from the child's exit callback, and `npx jest <one file>` waited forever).
 */
test("the shared synth finishes with this process's event loop blocked, and says how it went", async () => {
  const saved = { TMPDIR: process.env.TMPDIR, SHIPPED_SYNTH_DIR: process.env.SHIPPED_SYNTH_DIR };
  const setup = require("./global-setup.js") as () => Promise<void>;
  try {
    await setup();
    const result = path.join(process.env.SHIPPED_SYNTH_DIR!, "synth.json");
    const pause = new Int32Array(new SharedArrayBuffer(4));
    const started = Date.now();
    while (!fs.existsSync(result) && Date.now() - started < 60_000) Atomics.wait(pause, 0, 0, 20);
    expect(fs.existsSync(result)).toBe(true);
    const run = JSON.parse(fs.readFileSync(result, "utf8"));
    expect(run.status).toBe(0);
    expect(fs.existsSync(path.join(process.env.SHIPPED_SYNTH_DIR!, "cdktf.out", "stacks", "prod", "cdk.tf.json"))).toBe(
      true,
    );
  } finally {
    fs.rmSync(process.env.TMPDIR!, { recursive: true, force: true });
    Object.assign(process.env, saved);
  }
}, 90_000);

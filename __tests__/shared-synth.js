// The shared synth of the shipped environments (started by global-setup.js, beside the first test
// files): runs `npm run synth`'s own path into `<dir>/cdktf.out`, then writes what it printed to
// `<dir>/synth.json` through a rename, so a reader never sees half of it. It is its own process,
// not a callback in jest's parent: a test file that jest runs in that parent (a small run goes
// in band) blocks its event loop while it waits for synth.json, and would wait forever for a
// callback there. It always writes a result: a synth that hangs is killed after SYNTH_TIMEOUT_MS,
// and whatever else goes wrong is written as the failure.
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const SYNTH_TIMEOUT_MS = 90_000;
const [dir, root] = process.argv.slice(2);
const result = path.join(dir, "synth.json");
let outcome;
try {
  const env = { ...process.env, CDKTF_OUTDIR: path.join(dir, "cdktf.out"), CHECKPOINT_DISABLE: "1" };
  delete env.ENVIRONMENTS;
  delete env.ENVIRONMENTS_DIR;
  const run = spawnSync(process.execPath, [path.join(root, "scripts", "run.js"), path.join(root, "main.ts")], {
    cwd: root,
    env,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    timeout: SYNTH_TIMEOUT_MS,
    killSignal: "SIGKILL",
  });
  const ended = run.error
    ? `it could not run: ${run.error.message}`
    : run.signal
      ? `it was killed by ${run.signal}${run.signal === "SIGKILL" ? ` (after ${SYNTH_TIMEOUT_MS / 1000}s at most)` : ""}`
      : "";
  outcome = { status: run.status, stdout: run.stdout ?? "", stderr: [run.stderr, ended].filter(Boolean).join("\n") };
} catch (error) {
  outcome = { status: null, stdout: "", stderr: `the shared synth failed: ${error}` };
}
fs.writeFileSync(`${result}.${process.pid}`, JSON.stringify(outcome));
fs.renameSync(`${result}.${process.pid}`, result);

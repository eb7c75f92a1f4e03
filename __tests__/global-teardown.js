const path = require("node:path");
const { endRun, RUN_PREFIX } = require("./tmpfs");

module.exports = async () => {
  // The shared synth (global-setup.js) may still run when every test failed early: let it end (it
  // kills its synth after 90 s at most) before its folder goes.
  await globalThis.sharedSynthEnded;
  // Then what a worker killed outright left running (each test stops what it started, and a worker
  // that is stopped runs their exit hooks: __tests__/worker-exit.ts), its database folders, and
  // the run's folder.
  const dir = process.env.TMPDIR;
  if (dir && path.basename(dir).startsWith(RUN_PREFIX)) endRun(path.dirname(dir), dir);
};

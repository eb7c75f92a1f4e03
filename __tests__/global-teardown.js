const fs = require("node:fs");

module.exports = async () => {
  // The shared synth (global-setup.js) may still run when every test failed early: let it end (it
  // kills its synth after 90 s at most) before its folder goes.
  await globalThis.sharedSynthEnded;
  const dir = process.env.TMPDIR;
  if (dir && /classic-servers-jest-/.test(dir)) fs.rmSync(dir, { recursive: true, force: true });
};

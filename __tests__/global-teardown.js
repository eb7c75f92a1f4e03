const fs = require("node:fs");

module.exports = async () => {
  await globalThis.shippedSynth; // started by global-setup.js, maybe still running when every test failed early
  const dir = process.env.TMPDIR;
  if (dir && /classic-servers-jest-/.test(dir)) fs.rmSync(dir, { recursive: true, force: true });
};

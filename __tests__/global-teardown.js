const fs = require("node:fs");
const path = require("node:path");

module.exports = async () => {
  // The shared synth (global-setup.js) may still run when every test failed early: wait for it.
  const result = process.env.SHIPPED_SYNTH_DIR && path.join(process.env.SHIPPED_SYNTH_DIR, "synth.json");
  for (let waited = 0; result && !fs.existsSync(result) && waited < 120_000; waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const dir = process.env.TMPDIR;
  if (dir && /classic-servers-jest-/.test(dir)) fs.rmSync(dir, { recursive: true, force: true });
};

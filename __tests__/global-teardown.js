const fs = require("node:fs");
const path = require("node:path");

module.exports = async () => {
  // The shared synth (global-setup.js) may still run when every test failed early: wait for its
  // result, or for its process to end (it is killed after 90 s at most).
  const shipped = process.env.SHIPPED_SYNTH_DIR;
  const pidFile = shipped && path.join(shipped, "synth.pid");
  const pid = pidFile && fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, "utf8")) : undefined;
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + 120_000;
  while (pid && !fs.existsSync(path.join(shipped, "synth.json")) && alive() && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const dir = process.env.TMPDIR;
  if (dir && /classic-servers-jest-/.test(dir)) fs.rmSync(dir, { recursive: true, force: true });
};

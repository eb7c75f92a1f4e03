// Runs once before the test files, in jest's parent process; the workers inherit its environment.
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const ROOT = path.join(__dirname, "..");

module.exports = async () => {
  // cdktf's Testing.app() makes a temporary cdktf.outdir.* folder for every test app and never
  // removes it. Point the test run (and its workers) at one folder of its own, removed in
  // global-teardown.js.
  process.env.TMPDIR = fs.mkdtempSync(path.join(os.tmpdir(), "classic-servers-jest-"));

  // The shipped environments, synthesized once for every test file that reads them
  // (__tests__/shipped.ts): exactly what `npm run synth` runs, through the bundling launcher.
  const shipped = path.join(process.env.TMPDIR, "shipped");
  fs.mkdirSync(shipped);
  const outdir = path.join(shipped, "cdktf.out");
  const env = { ...process.env, CDKTF_OUTDIR: outdir, CHECKPOINT_DISABLE: "1" };
  delete env.ENVIRONMENTS;
  delete env.ENVIRONMENTS_DIR;
  const run = spawnSync(process.execPath, [path.join(ROOT, "scripts", "run.js"), path.join(ROOT, "main.ts")], {
    cwd: ROOT,
    env,
    encoding: "utf8",
  });
  fs.writeFileSync(
    path.join(shipped, "synth.json"),
    JSON.stringify({ status: run.status, stdout: run.stdout, stderr: run.stderr || String(run.error ?? "") }),
  );
  process.env.SHIPPED_SYNTH_DIR = shipped;
};

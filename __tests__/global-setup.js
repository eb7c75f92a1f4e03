// Runs once before the test files, in jest's parent process; the workers inherit its environment.
const { spawn } = require("node:child_process");
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
  // (__tests__/shipped.ts): exactly what `npm run synth` runs, through the bundling launcher. It
  // runs beside the first test files instead of before them; shipped.ts waits for synth.json,
  // written (through a rename, so never half) when the synth has ended, and global-teardown.js
  // waits for it too.
  const shipped = path.join(process.env.TMPDIR, "shipped");
  fs.mkdirSync(shipped);
  const outdir = path.join(shipped, "cdktf.out");
  const env = { ...process.env, CDKTF_OUTDIR: outdir, CHECKPOINT_DISABLE: "1" };
  delete env.ENVIRONMENTS;
  delete env.ENVIRONMENTS_DIR;
  const child = spawn(process.execPath, [path.join(ROOT, "scripts", "run.js"), path.join(ROOT, "main.ts")], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out = { stdout: "", stderr: "" };
  child.stdout.setEncoding("utf8").on("data", (chunk) => (out.stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk) => (out.stderr += chunk));
  globalThis.shippedSynth = new Promise((resolve) => {
    let error;
    child.on("error", (e) => (error = e));
    child.on("close", (status) => {
      const result = path.join(shipped, "synth.json");
      fs.writeFileSync(
        `${result}.tmp`,
        JSON.stringify({ status, stdout: out.stdout, stderr: out.stderr || String(error ?? "") }),
      );
      fs.renameSync(`${result}.tmp`, result);
      resolve();
    });
  });
  process.env.SHIPPED_SYNTH_DIR = shipped;
};

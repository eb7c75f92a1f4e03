// The shared synth of the shipped environments (started by global-setup.js, beside the first test
// files): runs `npm run synth`'s own path into `<dir>/cdktf.out`, then writes what it printed to
// `<dir>/synth.json` through a rename, so a reader never sees half of it. It is its own process,
// not a callback in jest's parent: a test file that jest runs in that parent (a small run goes
// in band) blocks its event loop while it waits for synth.json, and would wait forever for a
// callback there.
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const [dir, root] = process.argv.slice(2);
const env = { ...process.env, CDKTF_OUTDIR: path.join(dir, "cdktf.out"), CHECKPOINT_DISABLE: "1" };
delete env.ENVIRONMENTS;
delete env.ENVIRONMENTS_DIR;
const run = spawnSync(process.execPath, [path.join(root, "scripts", "run.js"), path.join(root, "main.ts")], {
  cwd: root,
  env,
  encoding: "utf8",
  maxBuffer: 64 * 1024 * 1024,
});
const result = path.join(dir, "synth.json");
fs.writeFileSync(
  `${result}.tmp`,
  JSON.stringify({ status: run.status, stdout: run.stdout, stderr: run.stderr || String(run.error ?? "") }),
);
fs.renameSync(`${result}.tmp`, result);

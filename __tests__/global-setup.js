// Runs once before the test files, in jest's parent process; the workers inherit its environment.
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { makeRunFolder, sweepAbandonedRuns, usableTmpfs } = require("./tmpfs");

const ROOT = path.join(__dirname, "..");

module.exports = async () => {
  // No node process of the run needs NODE_EXTRA_CA_CERTS but npm: nothing else in it opens a TLS
  // connection, except to a loopback server with a test CA of its own (terraform and the AWS
  // provider, in the acceptance tests, are Go programs: they read the system's store). Where it is
  // set (machines behind a TLS-inspecting proxy, this workplace's among them), every node process
  // reads and parses the whole file as it starts: 30 ms of CPU each here, against 10 ms for the
  // rest of a start, and over 100 of a run's node processes inherit it (jest's workers, the unit
  // runner's processes, main.ts, the launcher, stand-in programs): 5-6 of its CPU-seconds,
  // measured. So it is set aside, under the name src/artifact/app-dependencies.ts reads back for
  // npm, which may download the sample app's dependencies through that proxy.
  const extraCaCerts = process.env.NODE_EXTRA_CA_CERTS;
  if (extraCaCerts) {
    process.env.SAVED_NODE_EXTRA_CA_CERTS = extraCaCerts;
    delete process.env.NODE_EXTRA_CA_CERTS;
  }

  // cdktf's Testing.app() makes a temporary cdktf.outdir.* folder for every test app and never
  // removes it. Point the test run (and its workers) at one folder of its own, removed in
  // global-teardown.js; in memory where it can be (tmpfs.js), beside the folders of runs still
  // going, once those of runs killed before their teardown are removed.
  const tmpfs = usableTmpfs();
  const root = tmpfs.root ?? os.tmpdir();
  sweepAbandonedRuns(root);
  process.env.TMPDIR = makeRunFolder(root);
  // for the database drills' servers, which run as nobody and cannot enter the run's folder
  process.env.TEST_TMPFS_ROOT = tmpfs.root ?? "";

  // The shipped environments, synthesized once for every test file that reads them
  // (__tests__/shipped.ts): exactly what `npm run synth` runs, through the bundling launcher, by
  // shared-synth.js. It runs beside the first test files instead of before them; shipped.ts
  // waits for its synth.json, and so does global-teardown.js.
  const shipped = path.join(process.env.TMPDIR, "shipped");
  fs.mkdirSync(shipped);
  // (SHARED_SYNTH_ROOT: another project root, for the test of this mechanism itself)
  const child = spawn(
    process.execPath,
    [path.join(__dirname, "shared-synth.js"), shipped, process.env.SHARED_SYNTH_ROOT ?? ROOT],
    {
      stdio: "ignore",
    },
  );
  child.on("error", (error) =>
    fs.writeFileSync(
      path.join(shipped, "synth.json"),
      JSON.stringify({ status: null, stdout: "", stderr: `the shared synth could not start: ${error.message}` }),
    ),
  );
  // Readers that find no result yet check that this process still runs (shipped.ts, in the
  // workers); global-teardown.js, in this process, waits for it to end.
  fs.writeFileSync(path.join(shipped, "synth.pid"), String(child.pid));
  globalThis.sharedSynthEnded = new Promise((resolve) => child.on("close", resolve).on("error", resolve));
  process.env.SHIPPED_SYNTH_DIR = shipped;
};

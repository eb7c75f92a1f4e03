// The order jest starts test files in: the longest first, so that no worker is left with a long
// file at the end while the others idle. jest orders by how long each file took in its last run on
// this machine (its cache); a file it has no time for (a fresh clone in CI, where the cache is
// empty) it would start by file size, which put the database drills, the longest file, fourth
// among the integration files and the terraform validation near the end. Such a file takes its
// time from RECORDED instead: seconds in a full `npm test` with no jest cache, as in CI (2026-12-06,
// a 2-core machine, rounded: `npx jest --cacheDirectory <empty folder> --json`): every file of the
// integration and programs projects (sequencer.test.ts checks; worker-exit.test.ts, once unlisted,
// started last and ran alone for the last 7 s of a run), and unit files of 1 s or more.
// Only the order depends on it; refresh it from `npx jest --json --outputFile=<file>` (each
// result's endTime - startTime) when files change much. Files not listed count as 0.5 s, the larger
// first among them (as jest orders files by size).
const path = require("node:path");
const Sequencer = require("@jest/test-sequencer").default;

const RECORDED = {
  "server/database.test.ts": 110,
  "server/faults.test.ts": 69,
  "userdata/in-server-files.test.ts": 67,
  "constructs/os-update-script.test.ts": 36,
  "server/in-server.test.ts": 22,
  "launcher.test.ts": 21,
  "validate-mirror.test.ts": 20,
  "main.test.ts": 19,
  "ops/wrappers.test.ts": 16,
  "unit-runner.test.ts": 14,
  "ops/entry-points.test.ts": 11,
  "artifact/releases.test.ts": 9,
  "worker-exit.test.ts": 7.5,
  "workflows.test.ts": 4.4,
  "userdata/launch-hook.test.ts": 3.8,
  "output-lock.test.ts": 3.6,
  "patches/cdktf-resolve-shipped.test.ts": 2.5,
  "server/health-probe.test.ts": 2.1,
  "server/database-probe.test.ts": 2,
  "artifact/app-dependencies.test.ts": 2,
  "ops/pipeline-iam.test.ts": 1.9,
  "stacks/release.test.ts": 1.9,
  "ami-pin.test.ts": 1.6,
  "final-snapshot-name.test.ts": 1.4,
  "cpu-time.test.ts": 1.2,
  "shared-synth.test.ts": 1,
  "artifact/package-app.test.ts": 0.8,
  "server/supervisor.test.ts": 0.7,
  "server/load.test.ts": 0.6,
  "stacks/independent-stack-shipped.test.ts": 0.6,
  "bench-probe.test.ts": 0.5,
  "userdata/database-files.test.ts": 0.5,
  "tmpfs.test.ts": 0.5,
  "artifact/tar.test.ts": 0.2,
};
const UNLISTED_SECONDS = 0.5;

class RecordedWhereUnknown extends Sequencer {
  /** A file's duration in ms: jest's own record of it, else the recorded one. */
  time(test) {
    const known = super.time(test);
    if (known != null) return known;
    const relative = path.relative(__dirname, test.path).split(path.sep).join("/");
    // (bytes as a millionth of a millisecond: a tie-break that never outweighs a recorded time)
    return (RECORDED[relative] ?? UNLISTED_SECONDS) * 1000 + (test.context.hasteFS.getSize(test.path) ?? 0) / 1e6;
  }
}

module.exports = RecordedWhereUnknown;
module.exports.RECORDED = RECORDED;

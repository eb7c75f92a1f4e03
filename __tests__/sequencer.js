// The order jest starts test files in: the longest first, so that no worker is left with a long
// file at the end while the others idle. jest orders by how long each file took in its last run on
// this machine (its cache); a file it has no time for (a fresh clone in CI, where the cache is
// empty) it would start by file size, which put the database drills, the longest file, fourth
// among the integration files and the terraform validation near the end. Such a file takes its
// time from RECORDED instead: seconds in a full `npm test` with no jest cache, as in CI (2026-12-06,
// a 2-core machine, rounded: `npx jest --cacheDirectory <empty folder> --json`, files of 1 s or more).
// Only the order depends on it; refresh it from `npx jest --json --outputFile=<file>` (each
// result's endTime - startTime) when files change much. Files not listed count as 0.5 s, the larger
// first among them (as jest orders files by size).
const path = require("node:path");
const Sequencer = require("@jest/test-sequencer").default;

const RECORDED = {
  "server/database.test.ts": 105,
  "server/faults.test.ts": 63,
  "userdata/in-server-files.test.ts": 62,
  "constructs/os-update-script.test.ts": 29,
  "server/in-server.test.ts": 21,
  "validate-mirror.test.ts": 16,
  "main.test.ts": 13,
  "unit-runner.test.ts": 12,
  "launcher.test.ts": 12,
  "ops/wrappers.test.ts": 9.8,
  "ops/entry-points.test.ts": 6.8,
  "userdata/launch-hook.test.ts": 4.3,
  "artifact/releases.test.ts": 4.1,
  "workflows.test.ts": 3.2,
  "server/health-probe.test.ts": 2.5,
  "ami-pin.test.ts": 1.8,
  "artifact/app-dependencies.test.ts": 1.7,
  "final-snapshot-name.test.ts": 1.6,
  "stacks/release.test.ts": 1.3,
  "cpu-time.test.ts": 1.3,
  "output-lock.test.ts": 1.2,
  "patches/cdktf-resolve-shipped.test.ts": 1.1,
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

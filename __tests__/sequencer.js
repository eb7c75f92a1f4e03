// The order jest starts test files in: the longest first, so that no worker is left with a long
// file at the end while the others idle. jest orders by how long each file took in its last run on
// this machine (its cache); a file it has no time for (a fresh clone in CI, where the cache is
// empty) it would start by file size, which put the database drills, the longest file, fourth
// among the integration files and the terraform validation near the end. Such a file takes its
// time from RECORDED instead: seconds in a full `npm test` with no jest cache, as in CI (2026-12-04,
// a 2-core machine, rounded; the longest refreshed from a fresh clone's `.ci/run` on 2026-12-05).
// Only the order depends on it; refresh it from `npx jest --json --outputFile=<file>` (each
// result's endTime - startTime) when files change much. Files not listed count as 0.5 s, the larger
// first among them (as jest orders files by size).
const path = require("node:path");
const Sequencer = require("@jest/test-sequencer").default;

const RECORDED = {
  "server/database.test.ts": 51,
  "server/faults.test.ts": 41,
  "validate-mirror.test.ts": 30,
  "userdata/in-server-files.test.ts": 25,
  "artifact/releases.test.ts": 21,
  "server/in-server.test.ts": 17,
  "unit-runner.test.ts": 12,
  "main.test.ts": 10.5,
  "patches/cdktf-resolve-shipped.test.ts": 7,
  "patches/cdktf-resolve.test.ts": 3,
  "launcher.test.ts": 8.2,
  "ops/wrappers.test.ts": 5,
  "stacks/independent-stack-shipped.test.ts": 2,
  "stacks/independent-stack.test.ts": 0.7,
  "server/health-probe.test.ts": 2.1,
  "final-snapshot-name.test.ts": 2.1,
  "workflows.test.ts": 1.9,
  "artifact/package-app.test.ts": 1.7,
  "tmpfs.test.ts": 1.7,
  "userdata/database-files.test.ts": 1.6,
  "ops/entry-points.test.ts": 1.1,
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

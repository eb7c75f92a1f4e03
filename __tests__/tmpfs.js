// Where a test run keeps its temporary files: a tmpfs, /dev/shm, when it is there with room to
// spare. The tests create, hard-link and remove thousands of small files and folders (test beds,
// releases, database servers' data, cdktf's outdirs); on this machine's disk each mkdir took about
// 0.6 ms of kernel time, and the whole run spent 5 s more of it (about 3 s of `npm test`) than
// in memory. A run keeps under 200 MB there at its peak. TEST_TMPFS=0 keeps them on disk.
const fs = require("node:fs");

const TMPFS = "/dev/shm";
/** Free space /dev/shm must have (a container's default /dev/shm is 64 MB). */
const MIN_FREE_BYTES = 1024 ** 3;

/** /dev/shm when it is a writable folder with MIN_FREE_BYTES free, else undefined. */
function tmpfsRoot() {
  if (process.env.TEST_TMPFS === "0") return undefined;
  try {
    fs.accessSync(TMPFS, fs.constants.W_OK);
    const { bavail, bsize } = fs.statfsSync(TMPFS);
    return bavail * bsize >= MIN_FREE_BYTES ? TMPFS : undefined;
  } catch {
    return undefined;
  }
}

module.exports = { tmpfsRoot };

// Where a test run keeps its temporary files: a tmpfs, /dev/shm, when it is one this run can use.
// The tests create, hard-link and remove thousands of small files and folders (test beds,
// releases, database servers' data, cdktf's outdirs); on this machine's disk each mkdir took about
// 0.6 ms of kernel time, and the whole run spent 5 s more of it (about 3 s of `npm test`) than in
// memory. A run keeps under 200 MB there at its peak. TEST_TMPFS=0 keeps them on disk.
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const TMPFS = "/dev/shm";
/** statfs's f_type of a tmpfs (linux/magic.h). */
const TMPFS_MAGIC = 0x01021994;
/** Free space /dev/shm must have (a container's default /dev/shm is 64 MB). */
const MIN_FREE_BYTES = 1024 ** 3;
/** The prefix of a run's folder (global-setup.js), and the file naming the process that owns it. */
const RUN_PREFIX = "classic-servers-jest-";
const OWNER_FILE = "owner.pid";
/** How old a run's folder without an owner must be to count as abandoned. */
const ABANDONED_AFTER_MS = 10 * 60 * 1000;

/**
 * `{ root: dir }` (/dev/shm unless given) when it is a writable tmpfs with MIN_FREE_BYTES free
 * whose files may be run (the test beds run their scripts from there; Docker mounts /dev/shm
 * noexec), else `{ reason }`.
 */
function usableTmpfs(dir = TMPFS) {
  if (process.env.TEST_TMPFS === "0") return { reason: "TEST_TMPFS=0" };
  let probe;
  try {
    const { type, bavail, bsize } = fs.statfsSync(dir);
    if (type !== TMPFS_MAGIC) return { reason: `${dir} is not a tmpfs` };
    if (bavail * bsize < MIN_FREE_BYTES) return { reason: `${dir} has less than 1 GiB free` };
    probe = fs.mkdtempSync(path.join(dir, "classic-servers-probe-"));
    const script = path.join(probe, "run.sh");
    fs.writeFileSync(script, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const ran = spawnSync(script);
    if (ran.error || ran.status !== 0) return { reason: `files in ${dir} cannot be run (mounted noexec?)` };
    return { root: dir };
  } catch (error) {
    return { reason: `${dir} cannot be used: ${error.message}` };
  } finally {
    if (probe) fs.rmSync(probe, { recursive: true, force: true });
  }
}

/**
 * Removes the folders of earlier runs under `root` whose owner no longer runs (a run killed outright
 * cannot remove its own, and on a tmpfs they would hold memory until the machine restarts).
 */
function sweepAbandonedRuns(root) {
  for (const name of fs.readdirSync(root)) {
    if (!name.startsWith(RUN_PREFIX)) continue;
    const dir = path.join(root, name);
    let owner;
    try {
      owner = Number(fs.readFileSync(path.join(dir, OWNER_FILE), "utf8"));
    } catch {
      // no owner written: a run starting this moment, or a folder from before owners were written
      if (Date.now() - fs.statSync(dir).mtimeMs < ABANDONED_AFTER_MS) continue;
    }
    if (owner > 0 && isRunning(owner)) continue;
    endRun(root, dir);
  }
}

/**
 * Ends what is left of the run whose folder is `dir` (under `root`): every process whose command
 * line or environment names the folder (a test bed's nginx, app processes and watchdog run from
 * files in it, the database drills' servers from folders named after it: `runFolderTag`, and what
 * the tests start has the run's TMPDIR), with what those started, which a worker killed outright
 * (SIGKILL, the OOM killer) could not stop; then the database folders, then the folder.
 */
function endRun(root, dir) {
  const tag = path.basename(dir);
  killProcessesNaming(tag);
  // (the database drills' folders are in the run's tmpfs, or in /tmp without one)
  for (const parent of new Set([root, "/tmp"])) {
    for (const name of fs.existsSync(parent) ? fs.readdirSync(parent) : []) {
      if (name.startsWith("db-drill-") && name.includes(tag)) {
        fs.rmSync(path.join(parent, name), { recursive: true, force: true });
      }
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * SIGKILLs every process but this one whose command line or environment contains `text`, and
 * every process they started; returns their pids. The environment finds what a test started with
 * the run's TMPDIR but no path of it among its arguments (the stand-in apps, a drill's `node -e`
 * server); the children, what names the run nowhere (nginx's workers, which overwrite their command
 * line and environment with their title, and outlived their master killed alone; review DD).
 */
function killProcessesNaming(text) {
  let entries = [];
  try {
    entries = fs.readdirSync("/proc");
  } catch {
    return []; // no /proc: nothing to find them by
  }
  const read = (pid, file) => {
    try {
      return fs.readFileSync(`/proc/${pid}/${file}`, "utf8");
    } catch {
      return ""; // gone meanwhile, or not ours to read
    }
  };
  const children = new Map();
  const found = [];
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    // stat: "pid (comm) state ppid ...", comm may hold spaces and parentheses
    const ppid = Number(read(pid, "stat").split(") ")[1]?.split(" ")[1]);
    if (ppid > 0) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    if (read(pid, "cmdline").includes(text) || read(pid, "environ").includes(text)) found.push(pid);
  }
  const doomed = new Set();
  const add = (pid) => {
    if (doomed.has(pid) || pid === process.pid) return;
    doomed.add(pid);
    for (const child of children.get(pid) ?? []) add(child);
  };
  for (const pid of found) add(pid);
  for (const pid of doomed) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
  return [...doomed];
}

/** The name of this run's folder (TMPDIR), for the folders of its own it makes elsewhere; "" outside a run. */
function runFolderTag() {
  const name = path.basename(process.env.TMPDIR ?? "");
  return name.startsWith(RUN_PREFIX) ? name : "";
}

function isRunning(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}

/** A new folder for this run (`process.pid` owns it), under `root`. */
function makeRunFolder(root) {
  const dir = fs.mkdtempSync(path.join(root, RUN_PREFIX));
  fs.writeFileSync(path.join(dir, OWNER_FILE), String(process.pid));
  return dir;
}

module.exports = {
  usableTmpfs,
  sweepAbandonedRuns,
  makeRunFolder,
  endRun,
  killProcessesNaming,
  runFolderTag,
  RUN_PREFIX,
  OWNER_FILE,
};

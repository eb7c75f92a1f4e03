import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { PROJECT_ROOT } from "../src/project-root";
import { tempDir } from "./helpers";
import { privateMountNamespace } from "./server/supervisor";

/**
 * Where a test run keeps its temporary files (tmpfs.js, global-setup.js): /dev/shm only when the
 * test beds can work there, and the folders of runs killed before their teardown removed by the
 * next run, never those of a run still going.
 */
const { makeRunFolder, sweepAbandonedRuns, usableTmpfs, RUN_PREFIX, OWNER_FILE } = require("./tmpfs") as {
  makeRunFolder: (root: string) => string;
  sweepAbandonedRuns: (root: string) => void;
  usableTmpfs: (dir?: string) => { root?: string; reason?: string };
  RUN_PREFIX: string;
  OWNER_FILE: string;
};

/** A pid that no process has now: a child's, after it ended. */
function endedPid(): number {
  const child = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
  return Number(child.stdout.trim());
}

describe("the folders of earlier runs", () => {
  test("a run's folder stays while its owner runs, and goes once it does not", () => {
    const root = tempDir("tmpfs-sweep-");
    const running = makeRunFolder(root); // owned by this process
    const killed = fs.mkdtempSync(path.join(root, RUN_PREFIX));
    fs.writeFileSync(path.join(killed, OWNER_FILE), String(endedPid()));
    fs.mkdirSync(path.join(killed, "bed"));
    const other = fs.mkdtempSync(path.join(root, "cdktf.outdir."));
    sweepAbandonedRuns(root);
    expect(fs.existsSync(running)).toBe(true);
    expect(fs.existsSync(killed)).toBe(false);
    expect(fs.existsSync(other)).toBe(true); // not a run's folder
    fs.rmSync(root, { recursive: true });
  });

  test("a folder with no owner yet is left alone for 10 minutes (a run may be starting), then removed", () => {
    const root = tempDir("tmpfs-sweep-");
    const starting = fs.mkdtempSync(path.join(root, RUN_PREFIX));
    const old = fs.mkdtempSync(path.join(root, RUN_PREFIX));
    const elevenMinutesAgo = new Date(Date.now() - 11 * 60 * 1000);
    fs.utimesSync(old, elevenMinutesAgo, elevenMinutesAgo);
    sweepAbandonedRuns(root);
    expect(fs.existsSync(starting)).toBe(true);
    expect(fs.existsSync(old)).toBe(false);
    fs.rmSync(root, { recursive: true });
  });
});

describe("the tmpfs", () => {
  test("a folder on disk is not used as one, and TEST_TMPFS=0 keeps the files off /dev/shm", () => {
    expect(usableTmpfs(path.join(PROJECT_ROOT, "node_modules")).reason).toMatch(/is not a tmpfs/);
    const saved = process.env.TEST_TMPFS;
    process.env.TEST_TMPFS = "0";
    try {
      expect(usableTmpfs()).toEqual({ reason: "TEST_TMPFS=0" });
    } finally {
      if (saved === undefined) delete process.env.TEST_TMPFS;
      else process.env.TEST_TMPFS = saved;
    }
  });

  // a tmpfs of its own, in a private mount namespace (as the read-only file system drill makes one)
  const unshare = spawnSync("unshare", [...privateMountNamespace(), "true"]);
  const noNamespace =
    unshare.error || unshare.status !== 0 ? `a private mount namespace is not allowed here` : undefined;
  if (noNamespace) console.log(`skipped: the tmpfs checks on a mounted tmpfs: ${noNamespace}`);

  (noNamespace ? test.skip : test)(
    "a tmpfs whose files can be run is used; one mounted noexec, as Docker mounts /dev/shm, is not",
    () => {
      const verdict = (options: string) => {
        const dir = tempDir("tmpfs-mount-");
        const probe = `console.log(JSON.stringify(require(${JSON.stringify(path.join(__dirname, "tmpfs.js"))}).usableTmpfs(${JSON.stringify(dir)})))`;
        const run = spawnSync(
          "unshare",
          [
            ...privateMountNamespace(),
            "sh",
            "-c",
            `mount -t tmpfs -o ${options} tmpfs "$0" && exec "$1" -e "$2"`,
            dir,
            process.execPath,
            probe,
          ],
          { encoding: "utf8" },
        );
        fs.rmSync(dir, { recursive: true });
        if (run.status !== 0) throw new Error(`the probe failed: ${run.stderr}`);
        return { dir, verdict: JSON.parse(run.stdout) as { root?: string; reason?: string } };
      };
      const usable = verdict("size=2g");
      expect(usable.verdict).toEqual({ root: usable.dir });
      expect(verdict("size=2g,noexec").verdict.reason).toMatch(/cannot be run \(mounted noexec\?\)/);
      expect(verdict("size=64m").verdict.reason).toMatch(/less than 1 GiB free/);
    },
  );
});

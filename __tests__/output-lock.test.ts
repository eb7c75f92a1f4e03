import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  isRunning,
  LOCK_HOLDER_VARIABLE,
  outputLockFile,
  outputLockHolder,
  outputLockProblem,
} from "../src/output-lock";
import { tempDir } from "./helpers";

// npm run plan and drift hold <outdir>.lock while terraform runs in the output folder, so that no
// synth (another plan, npm run synth, cdktf) replaces the folder under it (src/output-lock.ts).

const REGISTER = path.join(__dirname, "unit-runner", "register.js");
const LOCK_MODULE = path.join(__dirname, "..", "src", "output-lock.ts");

/**
 * Runs takeOutputLock(outdir) in a node process of its own, which then prints whether the file is
 * its and exits; `before`: code run first (before the lock module loads).
 */
function takeInChild(outdir: string, before = ""): { status: number | null; stdout: string; stderr: string } {
  const script =
    before +
    `const lock = require(${JSON.stringify(LOCK_MODULE)}); const fs = require("node:fs");` +
    `lock.takeOutputLock(${JSON.stringify(outdir)}, "npm run plan for dev");` +
    `console.log(fs.readFileSync(lock.outputLockFile(${JSON.stringify(outdir)}), "utf8").trim() === process.pid + " npm run plan for dev");`;
  const run = spawnSync(process.execPath, ["-r", REGISTER, "-e", script], { encoding: "utf8" });
  return { status: run.status, stdout: run.stdout.trim(), stderr: run.stderr };
}

let dir: string;
let outdir: string;
beforeEach(() => {
  dir = tempDir("output-lock-");
  outdir = path.join(dir, "cdktf.out");
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test("a run takes the lock beside the output folder, holds it while it runs, and gives it back as it exits", () => {
  const run = takeInChild(outdir);
  expect(run).toMatchObject({ status: 0, stdout: "true" });
  expect(fs.existsSync(outputLockFile(outdir))).toBe(false);
  expect(outputLockFile(outdir)).toBe(path.join(fs.realpathSync(dir), "cdktf.out.lock"));
});

test("while a run holds it, a synth is refused, naming the run, and so is a second run; its own synth is not", async () => {
  const holder = spawn("sleep", ["30"]);
  try {
    fs.writeFileSync(outputLockFile(outdir), `${holder.pid} npm run plan for dev\n`);
    expect(outputLockHolder(outdir)).toEqual({ pid: holder.pid, what: "npm run plan for dev" });
    expect(outputLockProblem(outdir, {})).toBe(
      `npm run plan for dev (pid ${holder.pid}) is running terraform in ${outdir}, and a synth now would delete the ` +
        `folder it works in: wait for it to end, or synthesize into another folder (CDKTF_OUTDIR). If no such run ` +
        `is going, remove ${outputLockFile(outdir)}`,
    );
    expect(outputLockProblem(outdir, { [LOCK_HOLDER_VARIABLE]: String(holder.pid) })).toBeUndefined();
    const second = takeInChild(outdir);
    expect(second.status).toBe(1);
    expect(second.stderr).toContain(`npm run plan for dev (pid ${holder.pid}) is running terraform in ${outdir}`);
    expect(fs.readFileSync(outputLockFile(outdir), "utf8")).toBe(`${holder.pid} npm run plan for dev\n`);
  } finally {
    holder.kill("SIGKILL");
    await new Promise((resolve) => holder.once("exit", resolve));
  }
});

test("a lock left by a run that no longer runs (killed, a restart) stops nothing, and the next run takes it over", () => {
  const gone = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
  fs.writeFileSync(outputLockFile(outdir), `${gone.stdout.trim()} npm run drift for prod\n`);
  expect(outputLockHolder(outdir)).toBeUndefined();
  expect(outputLockProblem(outdir, {})).toBeUndefined();
  expect(takeInChild(outdir)).toMatchObject({ status: 0, stdout: "true" });
});

test("two runs taking the lock at once, over and over, some leaving it behind as a killed run would: never both hold it, and no reader finds it empty (review CY)", async () => {
  // Each process, for a second: take the lock (or be refused, naming the other), check the file is
  // its own, then let go of it, every other time by leaving it as a run that died leaves it, so
  // that both take over the same left-over lock at once.
  const script = `
    const lock = require(${JSON.stringify(LOCK_MODULE)}); const fs = require("node:fs");
    process.setMaxListeners(0);
    const outdir = process.argv[1], file = lock.outputLockFile(outdir), dead = process.argv[2];
    const counts = { taken: 0, refused: 0, notMine: 0, empty: 0 };
    for (const until = Date.now() + 1000; Date.now() < until; ) {
      try { lock.takeOutputLock(outdir, "npm run plan for dev"); } catch { counts.refused++; continue; }
      counts.taken++;
      let text; try { text = fs.readFileSync(file, "utf8"); } catch { text = undefined; }
      if (text === "") counts.empty++;
      else if (text !== undefined && text !== process.pid + " npm run plan for dev\\n") counts.notMine++;
      if (counts.taken % 2) fs.rmSync(file, { force: true });
      else { fs.writeFileSync(file + ".x" + process.pid, dead + " npm run drift for prod\\n"); fs.renameSync(file + ".x" + process.pid, file); }
    }
    console.log(JSON.stringify(counts));`;
  const gone = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" }).stdout.trim();
  const race = () =>
    new Promise<Record<string, number>>((resolve, reject) => {
      const child = spawn(process.execPath, ["-r", REGISTER, "-e", script, outdir, gone], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      let out = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
      child.on("error", reject);
      child.on("close", () => resolve(JSON.parse(out)));
    });
  // a reader, as a synth checks: never an empty file
  let emptyReads = 0;
  const reading = setInterval(() => {
    try {
      if (fs.readFileSync(outputLockFile(outdir), "utf8") === "") emptyReads++;
    } catch {
      // none: not held
    }
  }, 1);
  try {
    const counts = await Promise.all([race(), race()]);
    for (const each of counts) expect(each).toMatchObject({ notMine: 0, empty: 0 });
    expect(counts[0].taken + counts[1].taken).toBeGreaterThan(20);
    expect(counts[0].refused + counts[1].refused).toBeGreaterThan(0); // they did contend
  } finally {
    clearInterval(reading);
  }
  expect(emptyReads).toBe(0);
  // nothing of theirs left beside the folder but the lock itself
  expect(fs.readdirSync(dir).filter((name) => name !== "cdktf.out.lock")).toEqual([]);
});

test("on a filesystem without hard links (FAT, exFAT, some network mounts) the lock is taken by an exclusive create, as before the link (review DA)", () => {
  const noLinks = `require("node:fs").linkSync = () => { throw Object.assign(new Error("EPERM: operation not permitted, link"), { code: "EPERM" }); };`;
  expect(takeInChild(outdir, noLinks)).toMatchObject({ status: 0, stdout: "true" });
  expect(fs.readdirSync(dir)).toEqual([]); // given back, and nothing left beside it
});

test("a run leaves at its exit a lock that is no longer its (taken over meanwhile), and removes its own (review DP)", () => {
  const script =
    `const lock = require(${JSON.stringify(LOCK_MODULE)}); const fs = require("node:fs");` +
    `lock.takeOutputLock(${JSON.stringify(outdir)}, "npm run plan for dev");` +
    `fs.writeFileSync(lock.outputLockFile(${JSON.stringify(outdir)}), "4194303 npm run drift for dev\\n");`;
  const run = spawnSync(process.execPath, ["-r", REGISTER, "-e", script], { encoding: "utf8" });
  expect(run.status).toBe(0);
  expect(fs.readFileSync(outputLockFile(outdir), "utf8")).toBe("4194303 npm run drift for dev\n");
});

test("a holder this user may not signal (EPERM: another user's process) runs: its lock is not taken over (review DP)", () => {
  const kill = jest.spyOn(process, "kill").mockImplementation(() => {
    throw Object.assign(new Error("kill EPERM"), { code: "EPERM" });
  });
  try {
    expect(isRunning(4194302)).toBe(true);
    kill.mockImplementation(() => {
      throw Object.assign(new Error("kill ESRCH"), { code: "ESRCH" });
    });
    expect(isRunning(4194302)).toBe(false);
  } finally {
    kill.mockRestore();
  }
});

test("one output folder reached through a linked parent has one lock, not one per path (review DP)", () => {
  const link = path.join(dir, "linked");
  fs.mkdirSync(path.join(dir, "real"));
  fs.symlinkSync(path.join(dir, "real"), link);
  expect(outputLockFile(path.join(link, "cdktf.out"))).toBe(
    path.join(fs.realpathSync(path.join(dir, "real")), "cdktf.out.lock"),
  );
});

import * as fs from "node:fs";
import * as path from "node:path";
import { makeFolder } from "./make-folder";
import { readTextOrUndefined } from "./replace-file";

// A run of terraform in a synthesized stack's folder (`npm run plan`, `npm run drift`) holds a
// lock file beside the output folder while it runs: a synth replaces the output folder whole, and
// one started meanwhile (another plan, `npm run synth`, `cdktf synth` or `deploy`) would delete the
// folder that run works in, and it would fail with Terraform's own confusing error. The file holds
// the holder's pid and what it runs. A holder that died (killed, the machine restarted) leaves a
// file whose pid no longer runs: the next run takes it over.

/** The variable a lock holder sets for the synth it runs itself, which its lock must not stop. */
export const LOCK_HOLDER_VARIABLE = "CLASSIC_SERVERS_OUTPUT_LOCK_HOLDER";

/** The lock file of output folder `outdir`: beside it (a synth swaps the folder), its parent's links resolved. */
export function outputLockFile(outdir: string): string {
  const resolved = path.resolve(outdir);
  const parent = path.dirname(resolved);
  const real = fs.existsSync(parent) ? fs.realpathSync(parent) : parent;
  return path.join(real, `${path.basename(resolved)}.lock`);
}

/** The process that holds the lock of `outdir` and what it runs, while it runs; undefined otherwise. */
export function outputLockHolder(outdir: string): { readonly pid: number; readonly what: string } | undefined {
  const text = readTextOrUndefined(outputLockFile(outdir));
  return text === undefined ? undefined : holderIn(text);
}

/** The running process a lock file's text names, and what it runs; undefined for one that no longer runs. */
function holderIn(text: string): { readonly pid: number; readonly what: string } | undefined {
  const [pidText, ...what] = text.trim().split(" ");
  const pid = Number(pidText);
  return Number.isInteger(pid) && pid > 0 && isRunning(pid) ? { pid, what: what.join(" ") } : undefined;
}

/** Why a synth into `outdir` must not start now, or undefined: a run of terraform there holds its lock. */
export function outputLockProblem(outdir: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const holder = outputLockHolder(outdir);
  if (!holder || String(holder.pid) === env[LOCK_HOLDER_VARIABLE]) return undefined;
  return heldBy(holder, outdir);
}

/** What a run holding the lock of `outdir` stops, and how to go on. */
function heldBy(holder: { readonly pid: number; readonly what: string }, outdir: string): string {
  return (
    `${holder.what} (pid ${holder.pid}) is running terraform in ${outdir}, and a synth now would delete the ` +
    `folder it works in: wait for it to end, or synthesize into another folder (CDKTF_OUTDIR). If no such run ` +
    `is going, remove ${outputLockFile(outdir)}`
  );
}

/**
 * Takes the lock of `outdir` for this process, saying what it runs (`what`), or throws the holder's
 * problem (`outputLockProblem`); released as this process exits.
 *
 * The file appears whole or not at all: written under a name of this process's own, then linked
 * into place (a link fails when the name exists, as an exclusive create does). Created empty and
 * written after, a reader in between saw no holder: a second run took the lock as left over, and
 * both held it (review CY). A lock left by a run that no longer runs is moved aside before it is
 * removed, and only when what was moved is that very lock: two runs taking it over at once
 * otherwise each removed the other's new one.
 */
export function takeOutputLock(outdir: string, what: string): void {
  const file = outputLockFile(outdir);
  makeFolder(path.dirname(file));
  const content = `${process.pid} ${what}\n`;
  const mine = `${file}.${process.pid}`;
  fs.writeFileSync(mine, content);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        placeLock(mine, file, content);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      const found = readTextOrUndefined(file);
      const holder = found === undefined ? undefined : holderIn(found);
      if (holder?.pid === process.pid) return; // this process's already
      if (holder) throw new Error(heldBy(holder, outdir));
      if (attempt >= 3) throw new Error(`could not take ${file}: it keeps changing`);
      if (found !== undefined) setAside(file, found);
    }
  } finally {
    fs.rmSync(mine, { force: true });
  }
  process.on("exit", () => {
    try {
      if (fs.readFileSync(file, "utf8") === content) fs.rmSync(file);
    } catch {
      // gone already
    }
  });
}

/** What a filesystem that has no hard links (FAT, exFAT, some network and FUSE mounts) answers a link with. */
const NO_HARD_LINKS = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EXDEV"]);

/**
 * Puts `content` (written in `mine`) at `file`, failing with EEXIST when `file` exists: a hard
 * link, or where the filesystem has none, an exclusive create written at once (a reader may then
 * find it empty for a moment, as before review CY; review DA).
 */
function placeLock(mine: string, file: string, content: string): void {
  try {
    fs.linkSync(mine, file);
  } catch (error) {
    if (!NO_HARD_LINKS.has((error as NodeJS.ErrnoException).code ?? "")) throw error;
    fs.writeFileSync(file, content, { flag: "wx" });
  }
}

/**
 * Removes lock `file` left by a run that no longer runs, whose text was `found`: renamed aside
 * first, and put back when what was renamed is another run's lock taken meanwhile.
 */
function setAside(file: string, found: string): void {
  const aside = `${file}.stale-${process.pid}`;
  try {
    fs.renameSync(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return; // another run moved it first
    throw error;
  }
  try {
    const moved = readTextOrUndefined(aside);
    if (moved === found) return;
    try {
      placeLock(aside, file, moved ?? ""); // a live run's: back where it was
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  } finally {
    fs.rmSync(aside, { force: true });
  }
}

/** Whether process `pid` runs (one of another user's counts). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"; // another user's: it runs
  }
}

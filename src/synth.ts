import * as fs from "node:fs";
import * as path from "node:path";
import { App } from "cdktf";
import { displayPath } from "./config/load";
import { makeFolder } from "./make-folder";
import { isRunning, outputLockProblem } from "./output-lock";
import { DRIFT_PLAN_FILE, PLAN_FILE } from "./plan-files";

/** What `terraform init` leaves in a stack's working directory and the next synth must keep. */
const KEPT_ACROSS_SYNTHS = [".terraform", ".terraform.lock.hcl"];

/**
 * Synthesizes into a staging directory beside `outdir` and swaps it into place only when every
 * stack was written and validated. `App.synth()` writes stacks one by one, so a failure part-way
 * would otherwise leave a half-written `cdktf.out`; here it leaves the previous output untouched.
 *
 * `verify` reads the staged output (the policy pass) and throws to reject it.
 * Each stack's `.terraform/` and lock file (from `terraform init`) are carried into the new output.
 * Returns the names of the stacks written.
 */
export function synthesizeAtomically(
  outdir: string,
  build: (app: App) => void,
  verify: (stagingDir: string, stacks: string[]) => void = () => undefined,
  options: SynthOptions = {},
): string[] {
  const target = withoutLinks(path.resolve(outdir));
  const problem = outputFolderProblem(target, options.protectedPaths ?? []);
  if (problem) throw new OutputFolderError(problem);
  const staging = `${target}.staging-${process.pid}`;
  removeLeftovers(target);
  // cdktf creates the staging folder, not its parents
  makeFolder(
    path.dirname(target),
    (error) =>
      new OutputFolderError(
        `${error.message}, which holds the output folder ${target}: set CDKTF_OUTDIR (or cdktf's -o) to a folder that can be written`,
      ),
  );
  try {
    // made here, not by cdktf's App (which makes it when missing), so that a folder that cannot be
    // made (a read-only disk, /proc) is said in one line, not thrown from cdktf with a stack trace
    try {
      fs.mkdirSync(staging);
    } catch (error) {
      throw new OutputFolderError(cannotMake(target, staging, error));
    }
    const app = new App({ outdir: staging });
    build(app);
    app.synth();
    const stacks = Object.keys(JSON.parse(fs.readFileSync(path.join(staging, "manifest.json"), "utf8")).stacks);
    verify(staging, stacks);
    // the stack folders this synth replaces or drops: all but those a selection moves across whole
    const kept = keptStacks(target, stacks, options.keepOtherStacks);
    const state = stateInStackFolders(target, (stack) => !kept.has(stack));
    if (state) throw new OutputFolderError(state);
    for (const stack of stacks) carryOver(path.join(target, "stacks", stack), path.join(staging, "stacks", stack));
    moveKeptStacks(target, staging, kept);
    if (options.emptyFoldersForDroppedStacks) emptyFoldersForDroppedStacks(target, staging);
    // Checked again at the swap: a plan or drift may have taken the output folder's lock since the
    // caller's check, while this synth built (a second or two), and runs terraform in the folder
    // the swap would replace (review CY).
    const locked = outputLockProblem(outdir);
    if (locked) throw new OutputFolderError(locked);
    swap(target, staging);
    return stacks;
  } catch (error) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw error;
  }
}

/**
 * The path from a stack's Terraform working directory (`<outdir>/stacks/<stack>`) to
 * `projectRoot`, as Terraform resolves a relative path there: from the folder the output really
 * is in. With `cdktf.out` a link to another disk, a path worked out from the link's own place
 * would lead elsewhere, and local state would be written beside the link's target, where a
 * re-pointed link loses it. "." when the stack folder is the project (never in practice).
 */
export function projectRootFromStack(outdir: string, projectRoot: string): string {
  const stackFolder = path.join(withoutLinks(path.resolve(outdir)), "stacks", "stack");
  const relative = path.relative(stackFolder, withoutLinks(path.resolve(projectRoot)));
  return relative.split(path.sep).join("/") || ".";
}

/**
 * `target` with symbolic links resolved (`cdktf.out` linked to a bigger disk): the output is
 * swapped in where the folder really is, and the link keeps pointing at it. Swapped in at the
 * link's own path, the output would replace the link, and the stacks a selection keeps would move
 * out of the folder it pointed at. A link to nothing is refused.
 */
function withoutLinks(target: string): string {
  try {
    return fs.realpathSync(target);
  } catch {
    // missing (created by the synth), or a link to nothing
  }
  let link: fs.Stats | undefined;
  try {
    link = fs.lstatSync(target, { throwIfNoEntry: false });
  } catch (error) {
    // ENOTDIR: a file where a folder of the path should be (CDKTF_OUTDIR=README.md/out)
    throw new OutputFolderError(cannotMake(target, target, error));
  }
  if (link?.isSymbolicLink()) {
    throw new OutputFolderError(
      `the output folder ${target} is a symbolic link to ${fs.readlinkSync(target)}, which does not exist: create that folder, or set CDKTF_OUTDIR (or cdktf's -o) to another`,
    );
  }
  const parent = path.dirname(target);
  return parent === target ? target : path.join(withoutLinks(parent), path.basename(target));
}

/**
 * Why the output folder `target` cannot be written, as `making` (it, or the staging folder beside
 * it) failed with `error`: its code, a file on the way if one is, and what to do.
 */
function cannotMake(target: string, making: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code ?? String(error);
  // the first folder of the path, from the top, that is a file instead
  const above: string[] = [];
  for (let at = path.dirname(making); path.dirname(at) !== at; at = path.dirname(at)) above.unshift(at);
  const file = above.find((at) => {
    try {
      return fs.statSync(at, { throwIfNoEntry: false })?.isFile() === true;
    } catch {
      return false; // (below a file: the file comes first)
    }
  });
  return (
    `cannot make the output folder ${target} (${code}${file ? `: ${file} is a file` : ""}): ` +
    "set CDKTF_OUTDIR (or cdktf's -o) to a folder that can be written"
  );
}

export interface SynthOptions {
  /**
   * Only some stacks are synthesized (`ENVIRONMENTS=dev`): keep those other stacks of the previous
   * output for which this says yes (directories and manifest entries, with their `terraform init`),
   * instead of dropping them; the others (an environment whose folder is gone) are dropped, so
   * that `cdktf deploy` cannot pick up a stale one.
   * @default - none kept: the output holds exactly the stacks synthesized
   */
  readonly keepOtherStacks?: (stack: string) => boolean;
  /**
   * Leave an empty folder in the new output for each stack folder of the previous output that it
   * drops (an environment whose folder was removed or renamed, a state bucket no longer used). The
   * cdktf CLI lists the stack folders before it runs the app and afterwards deletes those the app
   * no longer wrote, without `force`: one the swap already took away failed `cdktf synth` and
   * `cdktf deploy` with ENOENT. It deletes these empty ones instead.
   * @default false
   */
  readonly emptyFoldersForDroppedStacks?: boolean;
  /**
   * Folders the output must never replace: neither one of them nor a folder that holds one may be
   * the output folder (the working directory is always among them).
   * @default - the working directory only
   */
  readonly protectedPaths?: readonly string[];
}

/** A synth refused before anything was written, in one message: printed without a stack trace. */
export class SynthRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SynthRefusedError";
  }
}

/** An output folder that synthesizing would destroy, or cannot write; nothing was written. */
export class OutputFolderError extends SynthRefusedError {
  constructor(message: string) {
    super(message);
    this.name = "OutputFolderError";
  }
}

/**
 * Why `target` must not be the output folder, or undefined. A synth replaces its output folder
 * whole, so an output folder set by mistake (`CDKTF_OUTDIR=` empty, `cdktf synth -o .`, a folder
 * of the project's) would delete what is there: only a folder that is missing, empty, or an
 * earlier output (`isEarlierOutput`) may be one.
 */
export function outputFolderProblem(target: string, protectedPaths: readonly string[]): string | undefined {
  const inside = (folder: string) => folder === target || folder.startsWith(`${target}${path.sep}`);
  // compared as the output folder is, with links resolved (a project reached through a link)
  const real = (p: string) => (fs.existsSync(p) ? fs.realpathSync(p) : p);
  const guarded = [process.cwd(), ...protectedPaths].map((p) => real(path.resolve(p))).find(inside);
  if (guarded) {
    return `the output folder ${target} is ${guarded === target ? "" : "a folder that holds "}${guarded}, which a synth would replace; set CDKTF_OUTDIR (or cdktf's -o) to a folder of its own, such as cdktf.out`;
  }
  let stat: fs.Stats;
  try {
    stat = fs.statSync(target);
  } catch {
    return undefined; // not there yet: it is created
  }
  if (!stat.isDirectory()) return `the output folder ${target} is a file, which a synth would replace`;
  const entries = fs.readdirSync(target);
  if (entries.length === 0 || isEarlierOutput(target, entries)) return undefined;
  return `the output folder ${target} holds files but no cdktf manifest.json, so it is not an earlier synth's output, and a synth would delete them; empty it, or choose another folder`;
}

/**
 * Why the earlier output in `target` must not be replaced because Terraform left state in the
 * folder of a stack that `replaced` says this synth writes anew or drops, or undefined. No backend
 * here writes state there (local state is in <project>/state/); what is there is the only copy of
 * something: `errored.tfstate`, which Terraform writes where it runs when it cannot save the state
 * to its backend (an apply's resources are recorded nowhere else), or the states of workspaces
 * other than default (terraform.tfstate.d/).
 */
function stateInStackFolders(target: string, replaced: (stack: string) => boolean): string | undefined {
  const stacks = path.join(target, "stacks");
  if (!fs.existsSync(stacks)) return undefined;
  for (const stack of fs.readdirSync(stacks, { withFileTypes: true })) {
    if (!stack.isDirectory() || !replaced(stack.name)) continue;
    const folder = path.join(stacks, stack.name);
    const state = fs.readdirSync(folder).find((name) => /\.tfstate(\.backup)?$|^terraform\.tfstate\.d$/.test(name));
    if (state === undefined) continue;
    const [file, out] = [displayPath(path.join(folder, state)), displayPath(target)];
    const [what, todo] =
      state === "terraform.tfstate.d"
        ? [
            "holds the states of Terraform workspaces other than default (TF_WORKSPACE), which no environment here uses",
            `Move it out of ${out} (and unset TF_WORKSPACE)`,
          ]
        : state === "errored.tfstate"
          ? [
              `is the state Terraform could not save to ${stack.name}'s backend, the only record of what its last apply made`,
              `Push it (terraform -chdir=${displayPath(folder)} state push errored.tfstate; docs/state.md), then move it out of ${out}`,
            ]
          : ["is Terraform state, which no backend here writes in a stack's folder", `Move it out of ${out}`];
    return `${file} ${what}; a synth replaces ${out} whole and would delete it. ${todo}, then synthesize again`;
  }
  return undefined;
}

/**
 * Whether `folder` is what a synth leaves: cdktf's manifest.json (an object with its `stacks`), or
 * only the empty stacks/ folder a cdktf App makes as it starts. Not a bare stacks/ beside other
 * files: the project's src/ and __tests__/ each hold a stacks/ folder of source files.
 */
function isEarlierOutput(folder: string, entries: readonly string[]): boolean {
  if (entries.includes("manifest.json")) {
    try {
      const manifest = JSON.parse(fs.readFileSync(path.join(folder, "manifest.json"), "utf8"));
      return typeof manifest?.stacks === "object" && manifest.stacks !== null && !Array.isArray(manifest.stacks);
    } catch {
      return false; // not JSON, or not a file
    }
  }
  const stacks = path.join(folder, "stacks");
  return (
    entries.length === 1 &&
    entries[0] === "stacks" &&
    fs.statSync(stacks).isDirectory() &&
    fs.readdirSync(stacks).length === 0
  );
}

/**
 * The stacks of the previous output in `target` that a selection moves across whole (by name, with
 * their manifest entries): listed in its manifest, not `synthesized` now, kept by `keep`, with a
 * folder. None without `keep` (a full synth).
 */
function keptStacks(
  target: string,
  synthesized: readonly string[],
  keep: ((stack: string) => boolean) | undefined,
): Map<string, unknown> {
  const previousManifest = path.join(target, "manifest.json");
  if (!keep || !fs.existsSync(previousManifest)) return new Map();
  const previous = JSON.parse(fs.readFileSync(previousManifest, "utf8"));
  return new Map(
    Object.entries(previous.stacks ?? {}).filter(
      ([name]) => !synthesized.includes(name) && keep(name) && fs.existsSync(path.join(target, "stacks", name)),
    ),
  );
}

/** Moves the `kept` stacks (name to manifest entry) of `target` into `staging`, folder and manifest entry. */
function moveKeptStacks(target: string, staging: string, kept: ReadonlyMap<string, unknown>): void {
  if (kept.size === 0) return;
  const manifestFile = path.join(staging, "manifest.json");
  const manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8"));
  for (const [name, entry] of kept) {
    const from = path.join(target, "stacks", name);
    // Saved plans go with every synth, also a kept stack's: its review (plan-<env>.md and
    // .changes.json, beside the stacks) is not carried over, and a plan can hold secrets.
    for (const plan of [PLAN_FILE, DRIFT_PLAN_FILE]) fs.rmSync(path.join(from, plan), { force: true });
    fs.renameSync(from, path.join(staging, "stacks", name));
    manifest.stacks[name] = entry;
  }
  fs.writeFileSync(manifestFile, JSON.stringify(manifest, null, 2));
}

/**
 * The staging and retired folders of earlier synths that were stopped half-way (Ctrl-C, a kill),
 * `<outdir>.staging-<pid>` and `<outdir>.retired-<pid>`, unless their process still runs.
 */
function removeLeftovers(target: string): void {
  const parent = path.dirname(target);
  const pattern = new RegExp(
    `^${path.basename(target).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.(?:staging|retired)-(\\d+)$`,
  );
  for (const name of fs.existsSync(parent) ? fs.readdirSync(parent) : []) {
    const pid = Number(pattern.exec(name)?.[1]);
    if (pid > 0 && (pid === process.pid || !isRunning(pid))) {
      fs.rmSync(path.join(parent, name), { recursive: true, force: true });
    }
  }
}

function carryOver(from: string, to: string): void {
  for (const entry of KEPT_ACROSS_SYNTHS) {
    const source = path.join(from, entry);
    if (fs.existsSync(source) && fs.existsSync(to)) fs.renameSync(source, path.join(to, entry));
  }
}

/** An empty folder in `staging` for each stack folder of `target` that `staging` does not hold. */
function emptyFoldersForDroppedStacks(target: string, staging: string): void {
  const previous = path.join(target, "stacks");
  if (!fs.existsSync(previous)) return;
  for (const entry of fs.readdirSync(previous, { withFileTypes: true })) {
    const kept = path.join(staging, "stacks", entry.name);
    if (entry.isDirectory() && !fs.existsSync(kept)) fs.mkdirSync(kept);
  }
}

function swap(target: string, staging: string): void {
  const retired = `${target}.retired-${process.pid}`;
  if (fs.existsSync(target)) fs.renameSync(target, retired);
  fs.renameSync(staging, target);
  fs.rmSync(retired, { recursive: true, force: true });
}

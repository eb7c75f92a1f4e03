import * as fs from "node:fs";
import * as path from "node:path";
import { App } from "cdktf";

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
  const target = path.resolve(outdir);
  const staging = `${target}.staging-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(target), { recursive: true }); // cdktf creates the staging folder, not its parents
  try {
    const app = new App({ outdir: staging });
    build(app);
    app.synth();
    const stacks = Object.keys(JSON.parse(fs.readFileSync(path.join(staging, "manifest.json"), "utf8")).stacks);
    verify(staging, stacks);
    for (const stack of stacks) carryOver(path.join(target, "stacks", stack), path.join(staging, "stacks", stack));
    if (options.keepOtherStacks) keepOtherStacks(target, staging, stacks);
    swap(target, staging);
    return stacks;
  } catch (error) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw error;
  }
}

export interface SynthOptions {
  /**
   * Only some stacks are synthesized (`ENVIRONMENTS=dev`): keep the other stacks of the previous
   * output, directories and manifest entries, instead of dropping them with their `terraform init`.
   * @default false - the output holds exactly the stacks synthesized
   */
  readonly keepOtherStacks?: boolean;
}

function keepOtherStacks(target: string, staging: string, synthesized: readonly string[]): void {
  const previousManifest = path.join(target, "manifest.json");
  if (!fs.existsSync(previousManifest)) return;
  const previous = JSON.parse(fs.readFileSync(previousManifest, "utf8"));
  const manifestFile = path.join(staging, "manifest.json");
  const manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8"));
  for (const [name, entry] of Object.entries(previous.stacks ?? {})) {
    const from = path.join(target, "stacks", name);
    if (synthesized.includes(name) || !fs.existsSync(from)) continue;
    fs.renameSync(from, path.join(staging, "stacks", name));
    manifest.stacks[name] = entry;
  }
  fs.writeFileSync(manifestFile, JSON.stringify(manifest, null, 2));
}

function carryOver(from: string, to: string): void {
  for (const entry of KEPT_ACROSS_SYNTHS) {
    const source = path.join(from, entry);
    if (fs.existsSync(source) && fs.existsSync(to)) fs.renameSync(source, path.join(to, entry));
  }
}

function swap(target: string, staging: string): void {
  const retired = `${target}.retired-${process.pid}`;
  if (fs.existsSync(target)) fs.renameSync(target, retired);
  fs.renameSync(staging, target);
  fs.rmSync(retired, { recursive: true, force: true });
}

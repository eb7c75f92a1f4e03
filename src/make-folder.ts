import * as fs from "node:fs";
import * as path from "node:path";

/**
 * Creates `dir` and its missing parents one at a time, and throws `FolderError` naming the first
 * folder that cannot be made, or what `failure` makes of it (the caller's error, saying what to
 * set). Node.js's `mkdirSync(dir, { recursive: true })` loops forever, at full CPU, on a path it
 * cannot create under some file systems (`/proc/x/y`).
 */
export function makeFolder(dir: string, failure: (error: FolderError) => Error = (error) => error): void {
  const missing: string[] = [];
  for (let at = path.resolve(dir); !fs.existsSync(at); at = path.dirname(at)) missing.unshift(at);
  for (const folder of missing) {
    try {
      fs.mkdirSync(folder);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EEXIST" && fs.statSync(folder).isDirectory()) continue; // made meanwhile
      throw failure(new FolderError(folder, code ?? "unknown error"));
    }
  }
}

/** A folder `makeFolder` could not make. */
export class FolderError extends Error {
  constructor(
    public readonly folder: string,
    public readonly code: string,
  ) {
    super(`cannot create the folder ${folder} (${code})`);
    this.name = "FolderError";
  }
}

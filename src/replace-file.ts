import * as fs from "node:fs";

/**
 * Replaces `file` with `content` whole or not at all: written beside it under a temporary name,
 * then renamed over it, so that a full disk or a kill half-way leaves the file as it was (a
 * config.yaml cut in the middle of a line no longer parses) and no temporary file behind.
 */
export function replaceFile(file: string, content: string | Uint8Array): void {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temporary, content);
    fs.renameSync(temporary, file);
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`cannot write ${file} (${code ?? (error as Error).message}): it is as it was`);
  }
}

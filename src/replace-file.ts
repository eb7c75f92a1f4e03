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

/**
 * Replaces several files together: every one written beside its file first, then each renamed
 * over it, so that a folder that cannot be written, a file that cannot be, or a full disk leaves
 * all of them as they were (a pair a test compares, a tarball and its checksum), not some. The
 * error names the file and says nothing was written (a file system error: one line, no trace).
 */
export function replaceFiles(files: ReadonlyArray<readonly [file: string, content: string | Uint8Array]>): void {
  const temporaries: string[] = [];
  try {
    for (const [file, content] of files) {
      const temporary = `${file}.${process.pid}.tmp`;
      temporaries.push(temporary);
      fs.writeFileSync(temporary, content);
    }
  } catch (error) {
    for (const temporary of temporaries) fs.rmSync(temporary, { force: true });
    const { code, syscall } = error as NodeJS.ErrnoException;
    const file = files[temporaries.length - 1][0];
    throw Object.assign(new Error(`cannot write ${file} (${code ?? (error as Error).message}): nothing was written`), {
      code: code ?? "EIO",
      syscall: syscall ?? "write",
    });
  }
  files.forEach(([file], i) => fs.renameSync(temporaries[i], file));
}

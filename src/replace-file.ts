import * as fs from "node:fs";

/**
 * Replaces `file` with `content` whole or not at all: written beside it under a temporary name,
 * then renamed over it, so that a full disk or a kill half-way leaves the file as it was (a
 * config.yaml cut in the middle of a line no longer parses) and no temporary file behind.
 */
export function replaceFile(file: string, content: string | Uint8Array): void {
  try {
    replaceFiles([[file, content]]);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`cannot write ${file} (${code ?? (error as Error).message}): it is as it was`);
  }
}

/**
 * Replaces several files together: every one written beside its file first, then each renamed
 * over it, so that a folder that cannot be written, a file that cannot be, or a full disk leaves
 * all of them as they were (a pair a test compares, a tarball and its checksum), not some. The
 * error names the file and says what was written (a file system error: one line, no trace). A
 * rename that fails after others succeeded (a folder where a file should be) says which were
 * replaced; no temporary file is left either way.
 */
export function replaceFiles(files: ReadonlyArray<readonly [file: string, content: string | Uint8Array]>): void {
  const paths = files.map(([file]) => file);
  const twice = paths.find((file, i) => paths.indexOf(file) !== i);
  if (twice !== undefined) throw new Error(`replaceFiles: ${twice} given twice`);
  const temporaries = paths.map((file, i) => `${file}.${process.pid}-${i}.tmp`);
  const fail = (error: unknown, file: string, replaced: readonly string[]) => {
    for (const temporary of temporaries) fs.rmSync(temporary, { force: true });
    const { code, syscall } = error as NodeJS.ErrnoException;
    const done = replaced.length > 0 ? `only ${replaced.join(", ")} replaced` : "nothing was written";
    return Object.assign(new Error(`cannot write ${file} (${code ?? (error as Error).message}): ${done}`), {
      code: code ?? "EIO",
      syscall: syscall ?? "write",
    });
  };
  files.forEach(([file, content], i) => {
    try {
      fs.writeFileSync(temporaries[i], content);
    } catch (error) {
      throw fail(error, file, []);
    }
  });
  paths.forEach((file, i) => {
    try {
      fs.renameSync(temporaries[i], file);
    } catch (error) {
      throw fail(error, file, paths.slice(0, i));
    }
  });
}

/** The text of `file`, or undefined when it cannot be read (missing, a folder, not this user's to read). */
export function readTextOrUndefined(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

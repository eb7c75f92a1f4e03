/**
 * Stands in for cdktf's `lib/tokens/private/stack-trace` module, in the bundle that scripts/run.js
 * builds and in the tests (jest.config.js, moduleNameMapper).
 *
 * cdktf records where each token was created, by formatting the whole JavaScript stack at that
 * moment, for one purpose: an error message about a token that cannot be resolved. A synth of the
 * shipped environments creates thousands of tokens, and formatting their stacks took about a fifth
 * of its time and 19 MB of its memory (docs/development.md#benchmark); none of it reaches the output. Here the
 * stack is recorded only when `CDKTF_CREATION_STACKS=1` is set, and otherwise the error message says
 * how to get it.
 */

const OFF: readonly string[] = Object.freeze([
  "(not recorded: run again with CDKTF_CREATION_STACKS=1 to see where this token was created)",
]);

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export function captureStackTrace(below?: Function): string[] {
  if (process.env.CDKTF_CREATION_STACKS !== "1") return OFF as string[];
  const holder: { stack?: string } = {};
  const previousLimit = Error.stackTraceLimit;
  try {
    Error.stackTraceLimit = Number.MAX_SAFE_INTEGER;
    Error.captureStackTrace(holder, below ?? captureStackTrace);
  } finally {
    Error.stackTraceLimit = previousLimit;
  }
  return (holder.stack ?? "")
    .split("\n")
    .slice(1)
    .map((line) => line.replace(/^\s*at\s+/, ""));
}

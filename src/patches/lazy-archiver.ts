/**
 * Stands in for the `archiver` package where cdktf's `lib/private/fs.js` loads it, in the bundle
 * that scripts/run.js builds and in the tests (__tests__/resolver.js,
 * __tests__/unit-runner/register.js).
 *
 * cdktf loads archiver and its ~100 modules at start, for one function: zipping a folder asset.
 * This project's assets are files (the release tarballs), never zipped folders, yet loading them
 * was about a twentieth of every test file's time. Here archiver loads when it is first called.
 */
export = function archiver(...args: unknown[]): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const load = require("archiver") as (...a: unknown[]) => unknown;
  return load(...args);
};

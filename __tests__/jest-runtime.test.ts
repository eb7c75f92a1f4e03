import * as path from "node:path";
import * as vm from "node:vm";

// The test runtime's code cache (jest-runtime.js) is kept per worker across test files.
const { cacheKey } = require("./jest-runtime") as { cacheKey: (filename: string, source: string) => string };

const older = "(function () { return 111; })()";
const newer = "(function () { return 222; })()"; // a rewrite of the same length

test("V8 takes one source's code cache for another of the same length, so the cache's key must tell them apart", () => {
  const first = new vm.Script(older);
  first.runInThisContext();
  const second = new vm.Script(newer, { cachedData: first.createCachedData() });
  // What this Node does (why the key holds a hash): the cache is not rejected.
  const stale = !second.cachedDataRejected;
  const file = path.join(__dirname, "..", "src", "naming.js");
  expect(cacheKey(file, newer)).not.toBe(cacheKey(file, older));
  expect(cacheKey(file, older)).toBe(cacheKey(file, older));
  if (!stale) expect(second.runInThisContext()).toBe(222);
});

test("an installed package's key is its file and length: packages do not change during a run", () => {
  const file = path.join(__dirname, "..", "node_modules", "cdktf", "lib", "index.js");
  expect(cacheKey(file, older)).toBe(cacheKey(file, newer));
  expect(cacheKey(file, older)).not.toBe(cacheKey(file, `${older};`));
});

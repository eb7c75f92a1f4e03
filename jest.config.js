/**
 * Tests are compiled by SWC (@swc/jest): type-stripping only, no type checking, so a test file
 * starts in milliseconds; `npm run typecheck` (tsc --noEmit) checks the types separately.
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/__tests__"],
  testMatch: ["**/*.test.ts"],
  transform: {
    "^.+\\.ts$": ["@swc/jest", { jsc: { parser: { syntax: "typescript" }, target: "es2022" }, module: { type: "commonjs" } }],
  },
  setupFilesAfterEnv: ["<rootDir>/__tests__/setup.ts"],
  globalSetup: "<rootDir>/__tests__/global-setup.js",
  globalTeardown: "<rootDir>/__tests__/global-teardown.js",
  maxWorkers: 2,
  // The in-server drills run their scenarios as test.concurrent, one test bed each.
  maxConcurrency: 16,
};

// How SWC compiles the tests' TypeScript, for both projects: @swc/jest in the integration project
// (jest.config.js) and the unit runner's require hook (__tests__/unit-runner/register.js).
// Type-stripping to CommonJS only; `tsc --noEmit` checks the types. No .swcrc or config file is
// read: these options are all there is (the unit runner's transform cache is keyed by them).
module.exports = {
  jsc: { parser: { syntax: "typescript" }, target: "es2022" },
  module: { type: "commonjs" },
  swcrc: false,
  configFile: false,
};

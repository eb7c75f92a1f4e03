// jest's module resolution, but for the dependency modules the bundle replaces too (scripts/run.js,
// REPLACED_MODULES): the tests run the same code as `npm run synth`.
const path = require("node:path");

const { REPLACED_MODULES } = require("../scripts/run.js");

const ROOT = path.join(__dirname, "..");

module.exports = (request, options) => {
  const resolved = options.defaultResolver(request, options);
  const normalized = resolved.split(path.sep).join("/");
  const replaced = Object.keys(REPLACED_MODULES).find((module) => normalized.endsWith(`/${module}`));
  return replaced ? path.join(ROOT, REPLACED_MODULES[replaced]) : resolved;
};

// jest's module resolution, but for the dependency modules the bundle replaces too (scripts/run.js,
// REPLACED_MODULES): the tests run the same code as `npm run synth`.
const { replacementFor } = require("../scripts/run.js");

module.exports = (request, options) =>
  replacementFor(request, options.basedir, () => options.defaultResolver(request, options)) ??
  options.defaultResolver(request, options);

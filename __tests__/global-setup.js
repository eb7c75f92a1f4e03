// cdktf's Testing.app() makes a temporary cdktf.outdir.* folder for every test app and never removes
// it. Point the test run (and its workers, which inherit the environment) at one folder of its own,
// removed in global-teardown.js.
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

module.exports = async () => {
  process.env.TMPDIR = fs.mkdtempSync(path.join(os.tmpdir(), "classic-servers-jest-"));
};

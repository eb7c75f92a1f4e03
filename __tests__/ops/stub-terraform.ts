import * as fs from "node:fs";
import * as path from "node:path";

// A STUB `terraform` that the wrapper tests write and control: a small node script put first on the
// child process's PATH. It records each call (arguments, working directory, environment) and answers
// as the test's STUB_TF_* variables say. It is not Terraform, talks to no provider and no AWS; its
// output is whatever the test chose, and the tests say so.
const STUB = `
const fs = require("node:fs");
const args = process.argv.slice(2);
fs.appendFileSync(process.env.STUB_TF_LOG, JSON.stringify({
  args,
  cwd: process.cwd(),
  checkpointDisable: process.env.CHECKPOINT_DISABLE,
  inAutomation: process.env.TF_IN_AUTOMATION,
}) + "\\n");
const fail = (text) => { process.stderr.write(text + "\\n"); process.exit(1); };
switch (args[0]) {
  case "init":
    if (process.env.STUB_TF_INIT_ERROR) fail(process.env.STUB_TF_INIT_ERROR);
    if (process.env.STUB_TF_INIT_ERROR_UNLESS_UPGRADE && !args.includes("-upgrade"))
      fail(process.env.STUB_TF_INIT_ERROR_UNLESS_UPGRADE);
    console.log("(stub) initialized");
    break;
  case "plan": {
    if (process.env.STUB_TF_PLAN_ERROR) fail(process.env.STUB_TF_PLAN_ERROR);
    const out = args.find((a) => a.startsWith("-out="));
    if (out) fs.writeFileSync(out.slice("-out=".length), "(stub) plan file");
    console.log("(stub) plan output");
    process.exit(Number(process.env.STUB_TF_PLAN_EXIT || "0"));
  }
  case "show": {
    const planFile = args[args.length - 1];
    if (!fs.existsSync(planFile)) fail("(stub) no plan file " + planFile);
    process.stdout.write(fs.readFileSync(process.env.STUB_TF_SHOW_JSON, "utf8"));
    break;
  }
  default:
    fail("(stub) unexpected command " + args[0]);
}
`;

/** One call the stub received. */
export interface StubCall {
  readonly args: string[];
  readonly cwd: string;
  readonly checkpointDisable?: string;
  readonly inAutomation?: string;
}

/** Writes the stub into `<dir>/bin/terraform`; returns the PATH entry and a reader of its calls. */
export function installStubTerraform(dir: string): { binDir: string; log: string; calls: () => StubCall[] } {
  const binDir = path.join(dir, "bin");
  fs.mkdirSync(binDir, { recursive: true });
  const file = path.join(binDir, "terraform");
  fs.writeFileSync(file, `#!${process.execPath}\n${STUB}`, { mode: 0o755 });
  const log = path.join(dir, "terraform-calls.jsonl");
  return {
    binDir,
    log,
    calls: () =>
      fs.existsSync(log)
        ? fs
            .readFileSync(log, "utf8")
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l) as StubCall)
        : [],
  };
}

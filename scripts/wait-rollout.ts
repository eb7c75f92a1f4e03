import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { waitForRefresh, type Runner } from "../src/ops/rollout";
import { OpsError, runTerraform } from "../src/ops/terraform";

// `npm run wait-rollout -- <env>`: after `cdktf deploy <env>`, wait for the Auto Scaling group's
// instance refresh to end (the provider does not). Reads the group's name from the stack's
// outputs. Exit 0 when it succeeded (or the layout has no group), 1 when it failed, was cancelled
// or is still running after ROLLOUT_TIMEOUT_MINUTES (default 60).

const ROOT = path.resolve(__dirname, "..");

const run: Runner = (command, args) =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ status: code ?? 1, stdout, stderr }));
  });

async function main(): Promise<number> {
  const env = process.argv[2];
  if (!env) throw new OpsError("usage: npm run wait-rollout -- <env>");
  const dir = path.join(path.resolve(process.env.CDKTF_OUTDIR ?? path.join(ROOT, "cdktf.out")), "stacks", env);
  const stackFile = path.join(dir, "cdk.tf.json");
  if (!fs.existsSync(stackFile)) throw new OpsError(`no synthesized stack at ${stackFile}: deploy ${env} first`);
  const region = JSON.parse(fs.readFileSync(stackFile, "utf8")).provider?.aws?.[0]?.region;
  const outputs = await runTerraform("output", ["-json"], { cwd: dir });
  if (outputs.status !== 0) throw new OpsError(`terraform output failed in ${dir}: ${outputs.stderr.trim()}`);
  const group = JSON.parse(outputs.stdout || "{}").app_autoscaling_group?.value;
  return waitForRefresh({
    group,
    region,
    run,
    intervalMs: 15_000,
    timeoutMs: Number(process.env.ROLLOUT_TIMEOUT_MINUTES ?? 60) * 60_000,
    log: (line) => console.log(`wait-rollout ${env}: ${line}`),
  });
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error(`wait-rollout: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);

import { rolloutSince, rolloutTimeoutMs, waitForRefresh } from "../src/ops/rollout";
import { OpsError, runProcess, runTerraform } from "../src/ops/terraform";
import { runCli, synthesizedStack } from "../src/ops/workflow";

// `npm run wait-rollout -- <env>`: after `cdktf deploy <env>`, wait for the Auto Scaling group's
// instance refresh to end (the provider does not), and for the environment's alarms to be out of
// ALARM: one that goes into ALARM during the refresh cancels it, one still in ALARM 10 minutes after
// it fails the wait, so that the deploy chain stops before the next environment. Reads the group's name from the stack's
// outputs. Exit 0 when it succeeded (or the layout has no group), 1 when it failed, was cancelled
// or is still running after ROLLOUT_TIMEOUT_MINUTES (by default as long as a rollout of the group may
// take while it makes progress: rolloutTimeoutSeconds), or when 3 of its new servers never came into
// service. ROLLOUT_SINCE (an ISO 8601
// time, the deploy's start) makes only a refresh started since count: a deploy that changed no
// launch template then has nothing to wait for, however an earlier refresh ended.

const USAGE = `usage: npm run wait-rollout -- <env>
  exit codes: 0 the rollout succeeded (or there is none), 1 it failed, timed out, or an error`;

runCli({ name: "wait-rollout", usage: USAGE }, async (args) => {
  // Read first: a bad value stops here, before terraform runs.
  const since = rolloutSince(process.env.ROLLOUT_SINCE);
  // The stack as deployed: never synthesized again here.
  const stack = synthesizedStack(args.stack, { synth: false });
  const timeoutMs = rolloutTimeoutMs(process.env.ROLLOUT_TIMEOUT_MINUTES, stack.document);
  const region = (stack.document as { provider?: { aws?: Array<{ region?: string }> } }).provider?.aws?.[0]?.region;
  if (!region) throw new OpsError(`stack ${stack.name} has no AWS provider region`);
  const outputs = await runTerraform("output", ["-json"], { cwd: stack.dir });
  if (outputs.status !== 0) throw new OpsError(`terraform output failed in ${stack.dir}: ${outputs.stderr.trim()}`);
  // The environment's alarms, by name, as synthesized (never another environment's of a like name).
  const alarms = Object.values(
    (stack.document as { resource?: Record<string, Record<string, { alarm_name?: string }>> }).resource
      ?.aws_cloudwatch_metric_alarm ?? {},
  ).flatMap((alarm) => (typeof alarm.alarm_name === "string" ? [alarm.alarm_name] : []));
  return waitForRefresh({
    since,
    alarms,
    group: JSON.parse(outputs.stdout || "{}").app_autoscaling_group?.value,
    region,
    run: (command, commandArgs) => runProcess(command, commandArgs),
    intervalMs: 15_000,
    timeoutMs,
    log: (line) => console.log(`wait-rollout ${stack.name}: ${line}`),
  });
});

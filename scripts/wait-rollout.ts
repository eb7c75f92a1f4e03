import {
  parseAnswer,
  releaseAlarms,
  rolloutSince,
  rolloutTimeoutMs,
  unwatchedRefresh,
  waitForRefresh,
  watchedGroup,
} from "../src/ops/rollout";
import { OpsError, runProcess, runTerraform } from "../src/ops/terraform";
import { runCli, stateReadFailed, synthesizedStack } from "../src/ops/workflow";

// `npm run wait-rollout -- <env>`: after `cdktf deploy <env>`, wait for the Auto Scaling group's
// instance refresh to end (the provider does not), then watch the release alarms (5xx rates,
// latency) as long as the slowest of them takes to fire. Exit 0 when the rollout succeeded (or the
// layout has no group) and no release alarm is in ALARM after the watch. Exit 1 when the refresh
// failed, was cancelled or is still running after ROLLOUT_TIMEOUT_MINUTES (by default as long as a
// rollout of the group may take while it makes progress: rolloutTimeoutSeconds), when 3 of its new servers never came into
// service, when a release alarm went into ALARM during it (the refresh is cancelled), or when one
// is still in ALARM 10 minutes after the watch. ROLLOUT_SINCE (an ISO 8601 time, the deploy's
// start) makes only a refresh started since count; with none since, an earlier one still running
// is waited for, and one that ended without replacing every server fails the wait.
// ROLLOUT_ALARMS=ignore skips the alarms (an emergency).

/** How long one AWS CLI call of the watch may take (its own retries included). */
const AWS_CALL_TIMEOUT_MS = 120_000;
const USAGE = `usage: npm run wait-rollout -- <env>
  exit codes: 0 the rollout succeeded (or there is none), 1 it failed, timed out, or an error`;

runCli({ name: "wait-rollout", usage: USAGE }, async (args) => {
  // Read first: a bad value stops here, before terraform runs.
  const since = rolloutSince(process.env.ROLLOUT_SINCE);
  // ROLLOUT_ALARMS=ignore reads no alarm (an emergency: the repository variable in CI)
  const ignoreAlarms = process.env.ROLLOUT_ALARMS === "ignore";
  if (!ignoreAlarms && process.env.ROLLOUT_ALARMS)
    throw new OpsError(`ROLLOUT_ALARMS may only be "ignore" (got "${process.env.ROLLOUT_ALARMS}")`);
  // The stack as deployed: never synthesized again here.
  const stack = synthesizedStack(args.stack, { synth: false });
  const timeoutMs = rolloutTimeoutMs(process.env.ROLLOUT_TIMEOUT_MINUTES, stack.document);
  const region = (stack.document as { provider?: { aws?: Array<{ region?: string }> } }).provider?.aws?.[0]?.region;
  if (!region) throw new OpsError(`stack ${stack.name} has no AWS provider region`);
  const outputs = await runTerraform("output", ["-json"], { cwd: stack.dir });
  if (outputs.status !== 0) throw stateReadFailed("output", outputs, stack);
  if (ignoreAlarms) console.log(`wait-rollout ${stack.name}: ROLLOUT_ALARMS=ignore: the release alarms are not read`);
  const alarms = releaseAlarms(stack.document as Record<string, any>);
  const group = watchedGroup(
    { name: stack.name, document: stack.document as Record<string, any> },
    parseAnswer(outputs.stdout, `terraform output -json in ${stack.dir}`),
    { names: alarms.names, ignored: ignoreAlarms },
  );
  // stopped (the CI job cancelled or timed out, Ctrl-C): the refresh goes on, unwatched; say so
  for (const [signal, code] of [
    ["SIGTERM", 143],
    ["SIGINT", 130],
  ] as const) {
    process.once(signal, () => {
      console.error(
        `wait-rollout ${stack.name}: stopped (${signal}).${group ? ` ${unwatchedRefresh(group, region)}` : ""}`,
      );
      process.exit(code);
    });
  }
  return waitForRefresh({
    since,
    alarms: ignoreAlarms ? [] : alarms.names,
    // as long as the slowest release alarm takes to fire
    alarmWatchMs: alarms.watchMs,
    group,
    region,
    run: (command, commandArgs) =>
      // a call that hangs (a network that drops the answer) ends the watch, saying so, instead of
      // holding the deploy job to its 6-hour timeout
      runProcess(command, commandArgs, { timeoutMs: AWS_CALL_TIMEOUT_MS }).catch((error: NodeJS.ErrnoException) => {
        throw error.code === "ENOENT"
          ? new OpsError(`${command} is not on PATH: install the AWS CLI v2 (docs/getting-started.md)`)
          : error;
      }),
    intervalMs: 15_000,
    timeoutMs,
    log: (line) => console.log(`wait-rollout ${stack.name}: ${line}`),
  });
});

import { OpsError } from "./terraform";

/**
 * `text`, a command's JSON answer, parsed; an answer that is not JSON (a CLI that printed a
 * warning, a proxy's page) is an OpsError naming the command, never a bare SyntaxError.
 */
export function parseAnswer(text: string, command: string): Record<string, any> {
  try {
    const parsed: unknown = JSON.parse(text || "{}");
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, any>;
  } catch {
    // (said below)
  }
  const shown = text.trim().split("\n")[0].slice(0, 120);
  throw new OpsError(`${command} answered with something other than a JSON object: "${shown}"`);
}

/**
 * Waiting for a load-balanced environment's rollout. `cdktf deploy` returns as soon as the Auto
 * Scaling group points at the new launch template version; the instance refresh that replaces
 * the servers runs on after it, and the provider does not wait for it. This reads the newest
 * refresh (`aws autoscaling describe-instance-refreshes`) until it ends.
 */

/**
 * The deploy's start as `ROLLOUT_SINCE` gives it (an ISO 8601 time), or undefined when unset: only
 * a refresh started since then is this deploy's.
 */
export function rolloutSince(value: string | undefined): Date | undefined {
  if (value === undefined || value === "") return undefined;
  const since = new Date(value);
  if (!/^\d{4}-\d\d-\d\dT/.test(value) || Number.isNaN(since.getTime())) {
    throw new OpsError(`ROLLOUT_SINCE must be an ISO 8601 time such as 2026-12-04T15:30:00Z (got "${value}")`);
  }
  return since;
}

/**
 * How long wait-rollout waits: `ROLLOUT_TIMEOUT_MINUTES` when set (a positive number), else
 * `rolloutTimeoutSeconds` of the stack's Auto Scaling group (0 for a stack without one: there is
 * nothing to wait for).
 */
export function rolloutTimeoutMs(minutes: string | undefined, document: Record<string, any>): number {
  if (minutes !== undefined && minutes !== "") {
    const value = Number(minutes);
    if (!Number.isFinite(value) || value <= 0) {
      throw new OpsError(`ROLLOUT_TIMEOUT_MINUTES must be a positive number of minutes (got "${minutes}")`);
    }
    return value * 60_000;
  }
  const [group] = Object.values(document.resource?.aws_autoscaling_group ?? {}) as Array<Record<string, any>>;
  return group ? rolloutTimeoutSeconds(group) * 1000 : 0;
}

/** Instance refresh statuses that are still moving. */
const IN_PROGRESS = new Set(["Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"]);

export interface RefreshVerdict {
  /** done: ended well (or nothing to wait for); failed: ended badly; waiting: still running. */
  readonly state: "done" | "failed" | "waiting";
  readonly message: string;
  /** When the refresh it reads started (ms since the epoch), when there is one. */
  readonly startedAt?: number;
}

/**
 * What the newest instance refresh in `describe-instance-refreshes` JSON output says; with `since`,
 * only a refresh started at or after it counts (one the deploy started, not an earlier one's end).
 */
export function refreshVerdict(describeOutput: string, since?: Date, region?: string): RefreshVerdict {
  const started = (refresh: Record<string, any>) => Date.parse(String(refresh.StartTime ?? ""));
  // newest first
  const answer = parseAnswer(describeOutput, "aws autoscaling describe-instance-refreshes");
  const refreshes = ((answer.InstanceRefreshes ?? []) as Array<Record<string, any>>).sort(
    (a, b) => (started(b) || 0) - (started(a) || 0),
  );
  const newest = refreshes.find((refresh) => since === undefined || started(refresh) >= since.getTime());
  if (!newest) {
    // An earlier refresh still running (its deploy's job cancelled, or past its time limit) leaves
    // the group on two releases: the next environment must not start before it ends.
    const running = refreshes.find((refresh) => IN_PROGRESS.has(refresh.Status));
    if (running) {
      return {
        state: "waiting",
        message:
          `an earlier instance refresh, ${running.InstanceRefreshId} (started ${running.StartTime}), is still ` +
          `${running.Status}: waiting for it to end`,
        startedAt: started(running) || undefined,
      };
    }
    // The group's last refresh ended without replacing every server (cancelled, failed) and this
    // deploy started none: the fleet runs two launch template versions, whatever this plan changed.
    const latest = refreshes[0];
    if (latest && latest.Status !== "Successful") {
      return {
        state: "failed",
        message:
          `the group's last instance refresh, ${latest.InstanceRefreshId} (started ${latest.StartTime}), ended ` +
          `${latest.Status}${latest.StatusReason ? ` (${latest.StatusReason})` : ""}, and this deploy started none: ` +
          `servers it did not replace still run the older launch template version. Finish it (aws autoscaling ` +
          `start-instance-refresh${region ? ` --region ${region}` : ""} --auto-scaling-group-name ` +
          `${String(latest.AutoScalingGroupName)}: the group's instance maintenance policy keeps every server serving ` +
          `while it replaces them), or deploy the app.version that ran before`,
        startedAt: started(latest) || undefined,
      };
    }
    const when = since ? ` since ${since.toISOString()}` : "";
    return { state: "done", message: `no instance refresh${when}: nothing to wait for` };
  }
  const progress = newest.PercentageComplete === undefined ? "" : `, ${newest.PercentageComplete}% done`;
  const reason = newest.StatusReason ? `: ${newest.StatusReason}` : "";
  const what = `instance refresh ${newest.InstanceRefreshId} ${newest.Status}${progress}${reason}`;
  const startedAt = started(newest) || undefined;
  if (newest.Status === "Successful") return { state: "done", message: what, startedAt };
  if (IN_PROGRESS.has(newest.Status)) return { state: "waiting", message: what, startedAt };
  return { state: "failed", message: what, startedAt };
}

/**
 * A refresh whose new servers never come into service does not end: AWS goes on launching while
 * each boot fails and the launch hook abandons it, or EC2 refuses the launch. This many launches in
 * a row that failed, with none in between that came into service, is a launch template that does
 * not boot (or cannot launch); one failed boot among successful ones is not.
 */
export const FAILED_LAUNCHES = 3;

/** A finished launch of the group, as "<start> <description>: <status>: <AWS's message>". */
export interface Launch {
  readonly id: string;
  readonly failed: boolean;
  /** EC2 did not start it (`Failed`: capacity, quotas), which the group retries; else the hook abandoned it. */
  readonly refused: boolean;
  /**
   * Refused for want of capacity in an AZ, or throttled: says nothing of the launch template, and
   * the group tries again (often in another AZ), so it neither counts toward FAILED_LAUNCHES nor
   * ends a streak. A refusal of the template itself (an AMI of the other architecture, a missing
   * profile) is no such thing, and counts.
   */
  readonly transient: boolean;
  readonly line: string;
}

/**
 * The finished launches in `describe-scaling-activities` JSON output started at or after `since`,
 * newest first: come into service (`Successful`), abandoned at the launch hook (`Cancelled`: a boot
 * that failed or hung) or refused by EC2 (`Failed`). Launches still going are left out.
 */
export function finishedLaunches(describeOutput: string, since: number): Launch[] {
  const activities = (parseAnswer(describeOutput, "aws autoscaling describe-scaling-activities").Activities ??
    []) as Array<Record<string, any>>;
  const started = (activity: Record<string, any>) => Date.parse(String(activity.StartTime ?? ""));
  return activities
    .filter((activity) => String(activity.Description ?? "").startsWith("Launching a new EC2 instance"))
    .filter((activity) => started(activity) >= since)
    .filter((activity) => ["Successful", "Cancelled", "Failed"].includes(activity.StatusCode))
    .sort((a, b) => started(b) - started(a))
    .map((activity) => ({
      id: String(activity.ActivityId),
      failed: activity.StatusCode !== "Successful",
      refused: activity.StatusCode === "Failed",
      transient:
        activity.StatusCode === "Failed" &&
        TRANSIENT_REFUSAL.test(`${activity.Description ?? ""} ${activity.StatusMessage ?? ""}`),
      line:
        `${activity.StartTime} ${activity.Description}: ${activity.StatusCode}: ` +
        `${activity.StatusMessage ?? "(no message)"}`,
    }));
}

/**
 * What EC2 says when it has no capacity for a launch in an AZ, or throttles it ("We currently do not
 * have sufficient t3.small capacity in the Availability Zone you requested",
 * InsufficientInstanceCapacity, RequestLimitExceeded).
 */
const TRANSIENT_REFUSAL =
  /InsufficientInstanceCapacity|do not have sufficient \S+ capacity|insufficient capacity|RequestLimitExceeded|throttl/i;

/**
 * The newest launches that failed in a row (`finishedLaunches`, newest first), up to the newest
 * success; refusals for want of capacity are left out (`Launch.transient`).
 */
export function failingStreak(launches: readonly Launch[]): Launch[] {
  const counted = launches.filter((launch) => !launch.transient);
  const success = counted.findIndex((launch) => !launch.failed);
  return success < 0 ? counted : counted.slice(0, success);
}

/**
 * The longest a rollout of the synthesized group `group` may take while it still makes progress:
 * at whichever size from `min_size` to `max_size` takes the most batches, the refresh replacing as
 * many servers at a time as the maximum healthy percentage leaves room for (at least one); each batch waits out a whole boot (the launch hook's
 * timeout), the instance warmup, and 2 minutes for the load balancer's health checks and the old
 * servers' draining; and the refresh pauses at every checkpoint. `npm run wait-rollout` waits this
 * long by default.
 */
export function rolloutTimeoutSeconds(group: Record<string, any>): number {
  const preferences = group.instance_refresh?.preferences ?? {};
  const extra = Number(preferences.max_healthy_percentage ?? 100) - 100;
  // The most batches any size from min to max takes (not the largest size's: 3 servers at 150%
  // take 3 batches, 4 take 2).
  const [minSize, maxSize] = [Number(group.min_size ?? 1), Number(group.max_size)];
  if (!Number.isInteger(maxSize) || maxSize < 1 || !Number.isInteger(minSize)) {
    throw new OpsError("rolloutTimeoutSeconds: the stack's Auto Scaling group has no whole min_size and max_size");
  }
  // Rounded down, the safe side: should AWS round up, the wait is longer than it need be.
  let batches = 0;
  for (let size = Math.max(1, minSize); size <= maxSize; size++) {
    batches = Math.max(batches, Math.ceil(size / Math.max(1, Math.floor((size * extra) / 100))));
  }
  const boot = Number(group.initial_lifecycle_hook?.[0]?.heartbeat_timeout ?? 0);
  const warmup = Number(group.default_instance_warmup ?? group.health_check_grace_period ?? 300);
  const checkpoints = (preferences.checkpoint_percentages ?? []).length * Number(preferences.checkpoint_delay ?? 3600);
  const seconds = batches * (boot + warmup + 120) + checkpoints;
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new OpsError(
      "rolloutTimeoutSeconds: the stack's Auto Scaling group has no max_size or instance refresh to reckon with",
    );
  }
  return seconds;
}

/** Runs a command and returns its exit status and output (injected: tests pass their own). */
export type Runner = (
  command: string,
  args: readonly string[],
) => Promise<{ status: number; stdout: string; stderr: string }>;

export interface WaitOptions {
  /** The group of the stack (`terraform output app_autoscaling_group`), or undefined for none. */
  readonly group: string | undefined;
  readonly region: string;
  readonly run: Runner;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly log: (line: string) => void;
  /** Only a refresh started at or after this counts (the deploy's start): an earlier one is not this deploy's. */
  readonly since?: Date;
  /**
   * The release alarms (`RELEASE_ALARM`), by name. One that goes into ALARM after the deploy began
   * (`since`, else the wait's start) while the refresh runs cancels the refresh; once it is done,
   * they are watched for `alarmWatchMs`, and any still in ALARM `alarmSettleMs` after that fails the
   * wait, so that the deploy chain stops here.
   * @default none: no alarm is read
   */
  readonly alarms?: readonly string[];
  /** How long the alarms are watched once the rollout is done. @default ALARM_WATCH_MS */
  readonly alarmWatchMs?: number;
  /** How long alarms in ALARM after the watch may take to clear. @default ALARM_SETTLE_MS */
  readonly alarmSettleMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

/**
 * What a failed refresh leaves: the group already launches from the new template version (the
 * provider moves it there before the refresh starts), so the servers it replaced run the new
 * release, and so will every server it launches from now on.
 */
const FAILED_REFRESH_HINT =
  "the servers this refresh already replaced run the new launch template, and so will every server the group " +
  "launches from now on (a scale-out, a replacement): deploy the previous app.version to undo (docs/layouts.md)";

/** Waits `ms` (what `WaitOptions.sleep` defaults to). */
const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** How many times a call the AWS CLI failed for a passing reason is tried in all. */
export const AWS_TRIES = 5;

/**
 * A failure that passes: throttling, AWS's own trouble, the network (the CLI's exit 255). An
 * expired token, a denied call or a missing resource does not pass, and is not tried again.
 */
export const TRANSIENT =
  /Throttl|Rate exceeded|RequestLimitExceeded|TooManyRequests|ServiceUnavailable|InternalFailure|InternalError|Could not connect|EndpointConnectionError|Connection (was )?(closed|reset)|timed out/i;

/**
 * Failures that never pass, though the CLI ends with 255 for them as for a dropped connection: a
 * profile that does not exist, partial credentials in the environment, a config file it cannot
 * parse, an expired SSO session, no region (an expired or unknown token and a denied call end
 * with 254, a service's error, and are not tried again either). Not "Unable to locate
 * credentials": an instance role's call to the metadata service that timed out says just that,
 * and ending the watch on it would leave the refresh rolling unwatched (review DG); without any
 * credentials the watch says so after its tries, about 35 s.
 */
export const NOT_PASSING =
  /config profile .* could not be found|Partial credentials found|Unable to parse config file|SSO session .* expired|Error when retrieving token from sso|You must specify a region/i;

/**
 * The AWS CLI with `args`, its output; one that fails for a passing reason is tried again, up to
 * AWS_TRIES times, 2, 4, 8 and 16 s apart. A watch of hours meets a throttled call or a dropped
 * connection, and ending it there would leave the refresh rolling with no alarm to stop it.
 */
async function aws(options: WaitOptions, args: readonly string[], tolerate?: RegExp): Promise<string | undefined> {
  const sleep = options.sleep ?? wait;
  for (let attempt = 1; ; attempt++) {
    const result = await options.run("aws", args);
    if (result.status === 0) return result.stdout;
    if (tolerate?.test(result.stderr)) return undefined;
    const passing = !NOT_PASSING.test(result.stderr) && (result.status === 255 || TRANSIENT.test(result.stderr));
    if (!passing || attempt >= AWS_TRIES) {
      throw new OpsError(
        `aws ${args.slice(0, 2).join(" ")} failed${attempt > 1 ? ` (tried ${attempt} times)` : ""}: ${result.stderr.trim()}`,
      );
    }
    await sleep(1000 * 2 ** attempt);
  }
}

/**
 * `aws autoscaling <operation>` on the group in `options`, as JSON; a failing CLI is an error that
 * quotes it (after the tries a passing failure gets). `tolerate`: an error that is an answer
 * (undefined).
 */
async function describeGroup(
  options: WaitOptions,
  operation: string,
  limit: readonly string[],
  tolerate?: RegExp,
): Promise<string | undefined> {
  return aws(
    options,
    [
      "autoscaling",
      operation,
      "--region",
      options.region,
      "--auto-scaling-group-name",
      options.group!,
      ...limit,
      "--output",
      "json",
    ],
    tolerate,
  );
}

/**
 * What to do about a refresh the wait no longer watches (an error, a timeout, the wait stopped):
 * it may go on rolling, and no alarm cancels it any more.
 */
export function unwatchedRefresh(group: string, region: string): string {
  return (
    `the group's instance refresh may still be running, and no longer watched: a release alarm will not cancel it. ` +
    `See it: aws autoscaling describe-instance-refreshes --region ${region} --auto-scaling-group-name ${group}; ` +
    `stop it: aws autoscaling cancel-instance-refresh --region ${region} --auto-scaling-group-name ${group}`
  );
}

/**
 * The alarms a release trips, which wait-rollout gates on: its errors and its slowness. Not the
 * rollout's own mechanics (servers replaced, health checks on a new path: a load balancer with no
 * healthy target still serves through all of them), nor the environment's other troubles (a disk
 * filling, database storage): those page, but are not this release's verdict.
 */
const RELEASE_ALARM_SUFFIXES = ["alb-5xx-rate", "target-5xx-rate", "app-5xx-rate", "latency-p95", "latency-p99"];
export const RELEASE_ALARM = new RegExp(`-(${RELEASE_ALARM_SUFFIXES.join("|")})$`);

/**
 * How long the release alarms are watched once the rollout is done, before it counts as good:
 * they evaluate over 3 one-minute periods, and their metrics arrive a minute or two late.
 */
export const ALARM_WATCH_MS = 5 * 60_000;

/**
 * A stack's release alarms, as synthesized (never another environment's of a like name): their
 * names, and how long they take to go into ALARM at the most (`watchMs`: each one's evaluation
 * periods times its period, plus 2 minutes for their metrics to arrive, a log metric filter's or a
 * load balancer's), which the watch after a rollout lasts (at least `ALARM_WATCH_MS`).
 */
export function releaseAlarms(document: Record<string, any>): { names: string[]; watchMs: number } {
  const alarms = (
    Object.values(document.resource?.aws_cloudwatch_metric_alarm ?? {}) as Array<Record<string, any>>
  ).filter((alarm) => typeof alarm.alarm_name === "string" && RELEASE_ALARM.test(alarm.alarm_name));
  const windows = alarms.map((alarm) => {
    const period = Number(
      alarm.period ??
        (alarm.metric_query as Array<Record<string, any>> | undefined)?.find((q) => q.metric)?.metric?.period ??
        60,
    );
    return Number(alarm.evaluation_periods ?? 1) * period * 1000;
  });
  return {
    names: alarms.map((alarm) => alarm.alarm_name as string),
    watchMs: Math.max(ALARM_WATCH_MS, ...windows.map((ms) => ms + 2 * 60_000)),
  };
}

/**
 * How long after the watch alarms in ALARM may take to clear before the wait fails: a fix deployed
 * during an incident clears them once its servers serve.
 */
export const ALARM_SETTLE_MS = 10 * 60_000;

/** An alarm in ALARM, and since when (its state's last change). */
interface Firing {
  readonly name: string;
  readonly since: number;
}

/** What describe-alarms tells of an alarm. */
interface DescribedAlarm {
  readonly AlarmName?: string;
  readonly StateTransitionedTimestamp?: string;
  readonly StateUpdatedTimestamp?: string;
}

/** `options.alarms` as CloudWatch describes them, those in `state` only when it is given. */
async function describeAlarms(options: WaitOptions, state?: "ALARM"): Promise<DescribedAlarm[]> {
  const stdout = await aws(options, [
    "cloudwatch",
    "describe-alarms",
    "--region",
    options.region,
    "--alarm-names",
    ...(options.alarms ?? []),
    ...(state ? ["--state-value", state] : []),
    "--output",
    "json",
  ]);
  const answer = parseAnswer(stdout ?? "", "aws cloudwatch describe-alarms") as Record<
    string,
    DescribedAlarm[] | undefined
  >;
  return [...(answer.MetricAlarms ?? []), ...(answer.CompositeAlarms ?? [])];
}

/** `options.alarms` in ALARM now, by name. */
async function alarmsInAlarm(options: WaitOptions): Promise<Firing[]> {
  if (!options.alarms || options.alarms.length === 0) return [];
  // When the state last changed (StateUpdatedTimestamp also moves with the evaluation state).
  const changed = (alarm: DescribedAlarm) =>
    Date.parse(String(alarm.StateTransitionedTimestamp ?? alarm.StateUpdatedTimestamp)) || 0;
  return (await describeAlarms(options, "ALARM"))
    .map((alarm) => ({ name: String(alarm.AlarmName), since: changed(alarm) }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

const names = (firing: readonly Firing[]) => firing.map((f) => f.name).join(", ");

/**
 * Refuses release alarms that AWS does not have (renamed, or in another region): a query by state
 * would answer for them as for alarms that are OK, and the rollout would go unguarded.
 */
async function alarmsExist(options: WaitOptions): Promise<void> {
  if (!options.alarms || options.alarms.length === 0) return;
  const found = new Set((await describeAlarms(options)).map((alarm) => alarm.AlarmName));
  const missing = options.alarms.filter((name) => !found.has(name));
  if (missing.length > 0) {
    throw new OpsError(
      `the release alarms ${missing.join(", ")} are not in ${options.region}: a rollout would go unwatched. ` +
        `Deploy the stack that creates them (cdktf deploy), or set ROLLOUT_ALARMS=ignore to roll out without them`,
    );
  }
}

/**
 * Once the rollout is done: the release alarms are watched for `alarmWatchMs`; 0 when none is in
 * ALARM once the watch is over, or all clear within `alarmSettleMs` after it; 1 otherwise, naming
 * them (the next environment in the chain waits).
 */
async function alarmsSettled(
  options: WaitOptions,
  sleep: (ms: number) => Promise<void>,
  now: () => number,
): Promise<number> {
  if (!options.alarms || options.alarms.length === 0) return 0;
  const [watchMs, settleMs] = [options.alarmWatchMs ?? ALARM_WATCH_MS, options.alarmSettleMs ?? ALARM_SETTLE_MS];
  const watchEnd = now() + watchMs;
  const deadline = watchEnd + settleMs;
  options.log(`watching ${options.alarms.join(", ")} for ${Math.round(watchMs / 60_000)} min`);
  let told = "";
  let seen = false;
  for (;;) {
    const firing = await alarmsInAlarm(options);
    seen ||= firing.length > 0;
    if (firing.length === 0 && now() >= watchEnd) {
      options.log(seen ? "the release alarms are out of ALARM" : "no release alarm went into ALARM");
      return 0;
    }
    if (names(firing) !== told && firing.length > 0) options.log(`in ALARM after the rollout: ${names(firing)}`);
    told = names(firing);
    if (now() >= deadline) {
      options.log(
        `still in ALARM ${Math.round((watchMs + settleMs) / 60_000)} min after the rollout: ${names(firing)}. The deploy stops here, and the ` +
          `environments after this one in the chain are not deployed. Read each alarm's description (what to look ` +
          `at first); if the new release is the cause, deploy the previous app.version`,
      );
      return 1;
    }
    await sleep(options.intervalMs);
  }
}

/**
 * Polls until the newest refresh ends, then until the environment's alarms are out of ALARM;
 * resolves to the exit code (0 done, 1 failed, timed out, its last `FAILED_LAUNCHES` new servers
 * never came into service, an alarm went into ALARM during it (the refresh is cancelled), or an
 * alarm stayed in ALARM after it).
 */
export async function waitForRefresh(options: WaitOptions): Promise<number> {
  const { log } = options;
  const sleep = options.sleep ?? wait;
  const now = options.now ?? Date.now;
  await alarmsExist(options);
  if (!options.group) {
    log("no Auto Scaling group in this environment (not load-balanced): no refresh to wait for");
    return alarmsSettled(options, sleep, now);
  }
  try {
    return await watchRefresh({ ...options, group: options.group }, sleep, now);
  } catch (error) {
    // the refresh goes on without the watch, whatever stopped it: say so, and how to see or stop it
    const message = error instanceof Error ? error.message : String(error);
    throw new OpsError(`${message}\n${unwatchedRefresh(options.group, options.region)}`);
  }
}

/** waitForRefresh's watch of the group's refresh, its alarms and its launches. */
async function watchRefresh(
  options: WaitOptions & { readonly group: string },
  sleep: (ms: number) => Promise<void>,
  now: () => number,
): Promise<number> {
  const { log } = options;
  const waitStart = now();
  const deadline = waitStart + options.timeoutMs;
  // An alarm in ALARM since before the deploy began is not this rollout's doing (a deploy may be
  // its fix); one that went into ALARM since (during the apply, which starts the refresh, too) is.
  // The deploy began at ROLLOUT_SINCE, or when the wait began, or when the refresh it watches
  // began, whichever is first: a wait run by hand after `cdktf deploy`, or run again after an
  // error, starts after the refresh, and an alarm it fired before the wait is still its doing.
  let rolloutStart = options.since?.getTime() ?? waitStart;
  // In ALARM at the first look and since before the deploy began: the incident this deploy may
  // fix. It never cancels the refresh, even if it clears and fires again meanwhile.
  let incident: Set<string> | undefined;
  let last = "";
  const reported = new Set<string>();
  for (;;) {
    const refreshes = await describeGroup(options, "describe-instance-refreshes", ["--max-records", "5"]);
    const verdict = refreshVerdict(refreshes!, options.since, options.region);
    if (verdict.message !== last) log(verdict.message);
    last = verdict.message;
    if (verdict.state === "done") return alarmsSettled(options, sleep, now);
    if (verdict.state === "failed") {
      log(FAILED_REFRESH_HINT);
      return 1;
    }
    if (verdict.startedAt !== undefined && verdict.startedAt < rolloutStart) rolloutStart = verdict.startedAt;
    const inAlarm = await alarmsInAlarm(options);
    incident ??= new Set(inAlarm.filter((alarm) => alarm.since < rolloutStart).map((alarm) => alarm.name));
    const fired = inAlarm.filter((alarm) => alarm.since >= rolloutStart && !incident!.has(alarm.name));
    if (fired.length > 0) {
      log(`in ALARM during the rollout: ${names(fired)}; cancelling the instance refresh`);
      // (tried again on a passing failure; an error after that says the refresh still runs)
      const cancelled = await describeGroup(options, "cancel-instance-refresh", [], /ActiveInstanceRefreshNotFound/);
      log(
        `${cancelled === undefined ? "no refresh was running any more (ended, or cancelled by a first try whose answer was lost)" : "cancelled"}: servers not yet replaced keep ` +
          `the release they run. The deploy stops here. ${FAILED_REFRESH_HINT}`,
      );
      return 1;
    }
    const launches = finishedLaunches(
      (await describeGroup(options, "describe-scaling-activities", ["--max-items", "50"]))!,
      verdict.startedAt ?? options.since?.getTime() ?? waitStart,
    );
    // EC2 refusing a launch is told once each: the group retries it, often in another AZ.
    for (const launch of launches.filter((l) => l.refused && !reported.has(l.id))) {
      reported.add(launch.id);
      log(`${launch.line} (EC2 did not start it; the group tries again)`);
    }
    const streak = failingStreak(launches);
    if (streak.length >= FAILED_LAUNCHES) {
      for (const launch of streak) log(launch.line);
      log(
        `the last ${streak.length} servers launched since the refresh began never came into service, and none in ` +
          `between did (a boot that failed or hung is abandoned, a launch EC2 refused is tried again, and the ` +
          `group launches another): the new launch template does not boot, or cannot launch. Read the boot log ` +
          `(the environment's /boot log group) of one of them; the refresh goes on launching until you cancel ` +
          `it (aws autoscaling cancel-instance-refresh --region ${options.region} --auto-scaling-group-name ${options.group}). ` +
          FAILED_REFRESH_HINT,
      );
      return 1;
    }
    if (now() >= deadline) {
      log(
        `still running after ${Math.round(options.timeoutMs / 60000)} min: giving up waiting. ` +
          unwatchedRefresh(options.group, options.region),
      );
      return 1;
    }
    await sleep(options.intervalMs);
  }
}

/**
 * The Auto Scaling group wait-rollout watches: the `app_autoscaling_group` output of the state, or
 * undefined for a layout without one. A stack with a group whose state has no such output is an
 * error (a state that is not this environment's: another clone, backend or key; or never applied),
 * as is a group without release alarms to watch (unless they are ignored): either would pass a
 * rollout that was never watched.
 */
export function watchedGroup(
  stack: { readonly name: string; readonly document: Record<string, any> },
  outputs: Record<string, { value?: unknown } | undefined>,
  alarms: { readonly names: readonly string[]; readonly ignored: boolean },
): string | undefined {
  const hasGroup = Object.keys(stack.document.resource?.aws_autoscaling_group ?? {}).length > 0;
  const group = outputs.app_autoscaling_group?.value;
  if (!hasGroup) return undefined;
  if (typeof group !== "string" || group === "") {
    throw new OpsError(
      `stack ${stack.name} has an Auto Scaling group, but the state's outputs have no app_autoscaling_group: the ` +
        `state read is not this environment's (another clone, backend or key), or it was never applied; nothing to watch`,
    );
  }
  if (alarms.names.length === 0 && !alarms.ignored) {
    throw new OpsError(
      `stack ${stack.name} has an Auto Scaling group but no release alarms (names ending ${RELEASE_ALARM_SUFFIXES.map((suffix) => `-${suffix}`).join(", ")}): ` +
        `its rollout would go unwatched. Set ROLLOUT_ALARMS=ignore to roll out without them`,
    );
  }
  return group;
}

import childProcess = require("node:child_process");
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  TRANSIENT,
  AWS_TRIES,
  ALARM_SETTLE_MS,
  ALARM_WATCH_MS,
  RELEASE_ALARM,
  releaseAlarms,
  failingStreak,
  FAILED_LAUNCHES,
  finishedLaunches,
  refreshVerdict,
  rolloutSince,
  rolloutTimeoutMs,
  rolloutTimeoutSeconds,
  waitForRefresh,
  watchedGroup,
  type Runner,
} from "../../src/ops/rollout";
import { shippedStack } from "../shipped";
import { OpsError, runProcess } from "../../src/ops/terraform";
import { shown, stateReadFailed } from "../../src/ops/workflow";

// describe-instance-refreshes output in the AWS CLI's JSON shape, written by these tests (not captured).
const refreshes = (...items: Array<Record<string, unknown>>) => JSON.stringify({ InstanceRefreshes: items });
const refresh = (status: string, extra: Record<string, unknown> = {}) => ({
  InstanceRefreshId: "r-1",
  AutoScalingGroupName: "shop-prod-app-x",
  Status: status,
  StartTime: "2026-11-25T10:00:00Z",
  ...extra,
});

describe("refreshVerdict", () => {
  test("reads the newest refresh: running, succeeded, failed with its reason", () => {
    expect(refreshVerdict(refreshes(refresh("InProgress", { PercentageComplete: 50 }))).state).toBe("waiting");
    expect(refreshVerdict(refreshes(refresh("Successful"))).state).toBe("done");
    const failed = refreshVerdict(refreshes(refresh("Failed", { StatusReason: "instances failed ELB health checks" })));
    expect(failed).toEqual({
      state: "failed",
      message: "instance refresh r-1 Failed: instances failed ELB health checks",
      startedAt: Date.parse("2026-11-25T10:00:00Z"),
    });
    for (const status of ["Cancelled", "RollbackSuccessful", "RollbackFailed"]) {
      expect(refreshVerdict(refreshes(refresh(status))).state).toBe("failed");
    }
    // each of AWS's statuses of a refresh not yet ended is waited for, none taken as an end
    for (const status of ["Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"]) {
      expect({ status, state: refreshVerdict(refreshes(refresh(status))).state }).toEqual({ status, state: "waiting" });
    }
    const older = refresh("Failed", { InstanceRefreshId: "r-0", StartTime: "2026-11-24T10:00:00Z" });
    expect(refreshVerdict(refreshes(older, refresh("Successful"))).state).toBe("done");
    expect(refreshVerdict(refreshes()).state).toBe("done");
  });
});

// describe-scaling-activities output in the AWS CLI's JSON shape, written by these tests (not captured).
const activities = (...items: Array<Record<string, unknown>>) => JSON.stringify({ Activities: items });
const launch = (instance: string, status: string, start = "2026-11-25T10:05:00Z") => ({
  ActivityId: `a-${instance}`,
  Description: `Launching a new EC2 instance: ${instance}`,
  StartTime: start,
  StatusCode: status,
  StatusMessage: status === "Successful" ? undefined : "Instance failed to complete user's Lifecycle Action",
});

describe("waitForRefresh", () => {
  /**
   * A runner standing in for the AWS CLI: answers describe-instance-refreshes with the next status
   * of a script, describe-scaling-activities with `launches` (none by default), and records calls.
   */
  function scripted(
    statuses: string[],
    launches: Array<Record<string, unknown>> = [],
  ): { run: Runner; calls: string[][] } {
    const calls: string[][] = [];
    let polls = 0;
    const run: Runner = async (command, args) => {
      calls.push([command, ...args]);
      if (args.includes("describe-scaling-activities"))
        return { status: 0, stdout: activities(...launches), stderr: "" };
      const status = statuses[Math.min(polls++, statuses.length - 1)];
      return { status: 0, stdout: refreshes(refresh(status)), stderr: "" };
    };
    return { run, calls };
  }
  const refreshPolls = (calls: string[][]) => calls.filter((call) => call.includes("describe-instance-refreshes"));
  const base = { region: "ap-northeast-2", intervalMs: 1000, log: () => undefined, sleep: async () => undefined };

  test("polls the group's refreshes until it succeeds: exit 0", async () => {
    const { run, calls } = scripted(["Pending", "InProgress", "Successful"]);
    expect(await waitForRefresh({ ...base, group: "shop-prod-app-x", run, timeoutMs: 60_000 })).toBe(0);
    expect(refreshPolls(calls)).toHaveLength(3);
    expect(calls[0]).toEqual(
      expect.arrayContaining(["describe-instance-refreshes", "--auto-scaling-group-name", "shop-prod-app-x"]),
    );
  });

  test("with the deploy's start, an earlier refresh is not this deploy's: none since is nothing to wait for, a newer one counts", () => {
    const earlier = refresh("Failed", { InstanceRefreshId: "r-0", StartTime: "2026-11-24T10:00:00Z" });
    const since = new Date("2026-11-24T11:00:00Z");
    // an earlier refresh that ended well: nothing to wait for
    const succeeded = refresh("Successful", { InstanceRefreshId: "r-0", StartTime: "2026-11-24T10:00:00Z" });
    expect(refreshVerdict(refreshes(succeeded), since)).toEqual({
      state: "done",
      message: "no instance refresh since 2026-11-24T11:00:00.000Z: nothing to wait for",
    });
    // one that ended without replacing every server (cancelled by an alarm, failed) leaves the fleet on
    // two launch template versions, whatever this deploy changed: a re-run must not pass for it
    expect(refreshVerdict(refreshes(earlier), since)).toMatchObject({
      state: "failed",
      message: expect.stringMatching(
        /^the group's last instance refresh, r-0 \(started 2026-11-24T10:00:00Z\), ended Failed, and this deploy started none: .*start-instance-refresh --auto-scaling-group-name shop-prod-app-x/,
      ),
    });
    const cancelled = refresh("Cancelled", { InstanceRefreshId: "r-0", StartTime: "2026-11-24T10:00:00Z" });
    expect(refreshVerdict(refreshes(cancelled), since).state).toBe("failed");
    expect(refreshVerdict(refreshes(earlier)).state).toBe("failed"); // without a start, the newest counts
    const ours = refresh("InProgress", { InstanceRefreshId: "r-1", StartTime: "2026-11-24T11:00:07Z" });
    expect(refreshVerdict(refreshes(earlier, ours), since)).toMatchObject({ state: "waiting" });
    expect(refreshVerdict(refreshes(ours, earlier), since).message).toMatch(/^instance refresh r-1 InProgress/);
  });

  test("an earlier refresh still running (its deploy's job gone) is waited for, not taken for nothing to wait for", () => {
    const since = new Date("2026-11-24T11:00:00Z");
    const running = refresh("InProgress", { InstanceRefreshId: "r-0", StartTime: "2026-11-24T10:00:00Z" });
    expect(refreshVerdict(refreshes(running), since)).toEqual({
      state: "waiting",
      message:
        "an earlier instance refresh, r-0 (started 2026-11-24T10:00:00Z), is still InProgress: waiting for it to end",
      startedAt: Date.parse("2026-11-24T10:00:00Z"),
    });
    const ended = refresh("Successful", { InstanceRefreshId: "r-0", StartTime: "2026-11-24T10:00:00Z" });
    expect(refreshVerdict(refreshes(ended), since).state).toBe("done");
  });

  test("ROLLOUT_SINCE: unset is no start; an ISO 8601 time is one; anything else is refused, naming the variable and an example", () => {
    expect(rolloutSince(undefined)).toBeUndefined();
    expect(rolloutSince("")).toBeUndefined();
    expect(rolloutSince("2026-12-04T15:30:00Z")?.toISOString()).toBe("2026-12-04T15:30:00.000Z");
    // (a date Date.parse reads, in the machine's local time, is refused too: review DP)
    for (const bad of ["yesterday", "1733326200", "2026-13-40T99:00:00Z", "12/04/2026 15:30", "Dec 4 2026 15:30"]) {
      expect(() => rolloutSince(bad)).toThrow(
        `ROLLOUT_SINCE must be an ISO 8601 time such as 2026-12-04T15:30:00Z (got "${bad}")`,
      );
    }
  });

  test("a failed refresh is exit 1, saying what it left and how to undo it; so is one still running at the deadline", async () => {
    const lines: string[] = [];
    const run = scripted(["InProgress", "Failed"]).run;
    expect(await waitForRefresh({ ...base, group: "g", run, log: (line) => lines.push(line), timeoutMs: 60_000 })).toBe(
      1,
    );
    expect(lines.at(-1)).toMatch(
      /already replaced run the new launch template.*deploy the previous app\.version to undo/,
    );
    let clock = 0;
    const stuck = scripted(["InProgress"]);
    const code = await waitForRefresh({
      ...base,
      group: "g",
      run: stuck.run,
      timeoutMs: 5000,
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
    });
    expect(code).toBe(1);
    expect(refreshPolls(stuck.calls).length).toBe(6); // t = 0 .. 5 s, one poll a second
  });

  test("an environment without a group has nothing to wait for; a failing CLI is an error", async () => {
    const { run, calls } = scripted(["Successful"]);
    expect(await waitForRefresh({ ...base, group: undefined, run, timeoutMs: 1000 })).toBe(0);
    expect(calls).toHaveLength(0);
    const broken: Runner = async () => ({ status: 255, stdout: "", stderr: "Unable to locate credentials" });
    await expect(waitForRefresh({ ...base, group: "g", run: broken, timeoutMs: 1000 })).rejects.toThrow(
      /Unable to locate credentials/,
    );
  });

  test("a call that hangs is stopped at its deadline and fails as timed out, which the watch tries again as passing (wait-rollout gives each AWS call 2 minutes)", async () => {
    const started = Date.now();
    const result = await runProcess("sleep", ["30"], { timeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toBe("sleep 30: timed out, no answer within 0.3 s, stopped\n");
    expect(TRANSIENT.test(result.stderr)).toBe(true);
    // one that exits 0 on SIGTERM still failed (review DP; one that ignores it: ops/entry-points.test.ts)
    const polite = await runProcess("bash", ["-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"], {
      timeoutMs: 300,
    });
    expect(polite.status).toBe(1);
    // one that answers in time is left alone
    expect(await runProcess("sh", ["-c", "echo fine"], { timeoutMs: 10_000 })).toEqual({
      status: 0,
      stdout: "fine\n",
      stderr: "",
    });
  });

  test("the stop signals are listened for before the program starts: a SIGTERM the moment it has started is held for it, never this process's end with the program left running (CI saw it under load)", async () => {
    const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
    const listeners = () => signals.map((signal) => process.listenerCount(signal));
    const before = listeners();
    const atStart: number[][] = [];
    const original = childProcess.spawn;
    childProcess.spawn = ((...args: Parameters<typeof original>) => {
      atStart.push(listeners());
      return original(...args);
    }) as typeof original;
    try {
      expect(await runProcess("sh", ["-c", "echo fine"])).toMatchObject({ status: 0, stdout: "fine\n" });
    } finally {
      childProcess.spawn = original;
    }
    expect(atStart).toEqual([before.map((count) => count + 1)]);
    expect(listeners()).toEqual(before); // and let go of once it has ended
  });

  test("an answer that is not JSON, or a runner that throws, ends the watch with the command named and the refresh said to run on unwatched", async () => {
    const notJson: Runner = async () => ({ status: 0, stdout: "not json", stderr: "" });
    const stopped = waitForRefresh({ ...base, group: "shop-prod-app-x", run: notJson, timeoutMs: 1000 });
    await expect(stopped).rejects.toThrow(OpsError);
    await expect(stopped).rejects.toThrow(
      /aws autoscaling describe-instance-refreshes answered with something other than a JSON object: "not json"/,
    );
    await expect(stopped).rejects.toThrow(/no longer watched/);
    // (aws missing: the runner rejects with whatever it rejects with, and the warning still comes)
    const missing: Runner = async () => {
      throw new Error("aws is not on PATH: install the AWS CLI v2 (docs/getting-started.md)");
    };
    const gone = waitForRefresh({ ...base, group: "shop-prod-app-x", run: missing, timeoutMs: 1000 });
    await expect(gone).rejects.toThrow(OpsError);
    await expect(gone).rejects.toThrow(/aws is not on PATH[\s\S]*no longer watched/);
  });
});

describe("the release alarms around a rollout (a stand-in runner answers the AWS CLI's calls)", () => {
  const ALARMS = ["shop-prod-alb-5xx-rate", "shop-prod-target-5xx-rate", "shop-prod-latency-p99"];
  const START = 10_000_000; // the deploy's start, on the test's clock
  const before = new Date(START - 3_600_000).toISOString(); // in ALARM since an hour before the deploy
  const during = new Date(START + 60_000).toISOString(); // went into ALARM since the deploy began
  /**
   * Answers describe-instance-refreshes with the next of `statuses` and describe-alarms with the
   * next of `firing` (name and when it went into ALARM), the last one repeated; records every call.
   */
  function stand_in(statuses: string[], firing: Array<Array<[string, string]>>) {
    const calls: string[][] = [];
    let [refreshPoll, alarmPoll] = [0, 0];
    const run: Runner = async (command, args) => {
      calls.push([command, ...args]);
      // (without a state: which of the alarms exist, all of them)
      if (args.includes("describe-alarms") && !args.includes("--state-value")) {
        return {
          status: 0,
          stdout: JSON.stringify({ MetricAlarms: ALARMS.map((AlarmName) => ({ AlarmName })) }),
          stderr: "",
        };
      }
      if (args.includes("describe-alarms")) {
        const now = firing[Math.min(alarmPoll++, firing.length - 1)];
        const MetricAlarms = now.map(([AlarmName, StateUpdatedTimestamp]) => ({ AlarmName, StateUpdatedTimestamp }));
        return { status: 0, stdout: JSON.stringify({ MetricAlarms }), stderr: "" };
      }
      if (args.includes("describe-scaling-activities")) return { status: 0, stdout: activities(), stderr: "" };
      if (args.includes("cancel-instance-refresh")) return { status: 0, stdout: "{}", stderr: "" };
      const status = statuses[Math.min(refreshPoll++, statuses.length - 1)];
      return {
        status: 0,
        stdout: refreshes(refresh(status, { StartTime: new Date(START).toISOString() })),
        stderr: "",
      };
    };
    return { run, calls };
  }
  function clocked() {
    let clock = START;
    return {
      now: () => clock,
      sleep: async (ms: number) => {
        clock += ms;
      },
    };
  }
  const common = {
    region: "ap-northeast-2",
    intervalMs: 60_000,
    timeoutMs: 3_600_000,
    alarms: ALARMS,
    since: new Date(START),
  };

  test("the gate is the release's alarms: its 5xx rates and latency, not a disk, the database or the health checks a new path moves", () => {
    const gated = ["alb-5xx-rate", "target-5xx-rate", "app-5xx-rate", "latency-p95", "latency-p99"];
    for (const what of gated) expect(RELEASE_ALARM.test(`shop-prod-${what}`)).toBe(true);
    for (const what of ["app-disk", "db-free-storage", "no-healthy-hosts", "unhealthy-hosts", "app-cpu", "app-health"])
      expect(RELEASE_ALARM.test(`shop-prod-${what}`)).toBe(false);
    const shipped = Object.values((shippedStack("prod").doc as any).resource.aws_cloudwatch_metric_alarm).map(
      (a: any) => a.alarm_name as string,
    );
    expect(shipped.filter((name) => RELEASE_ALARM.test(name)).sort()).toEqual(
      ["shop-prod-alb-5xx-rate", "shop-prod-latency-p95", "shop-prod-latency-p99", "shop-prod-target-5xx-rate"].map(
        (n) => n.replace("shop", (shippedStack("prod").doc as any).provider.aws[0].default_tags[0].tags.Project),
      ),
    );
  });

  test("a release alarm that goes into ALARM while the refresh runs cancels it: exit 1, the alarm named, the refresh cancelled on the group", async () => {
    const lines: string[] = [];
    const { run, calls } = stand_in(["InProgress"], [[], [["shop-prod-target-5xx-rate", during]]]);
    const code = await waitForRefresh({
      ...common,
      ...clocked(),
      group: "shop-prod-app-x",
      run,
      log: (l) => lines.push(l),
    });
    expect(code).toBe(1);
    expect(lines).toContain("in ALARM during the rollout: shop-prod-target-5xx-rate; cancelling the instance refresh");
    expect(calls.find((c) => c.includes("cancel-instance-refresh"))).toEqual(
      expect.arrayContaining([
        "aws",
        "autoscaling",
        "cancel-instance-refresh",
        "--auto-scaling-group-name",
        "shop-prod-app-x",
      ]),
    );
    // the alarms are asked by name, in ALARM only, in the environment's region (after a first
    // question without a state: whether they all exist)
    expect(calls.find((c) => c.includes("describe-alarms") && c.includes("--state-value"))).toEqual([
      "aws",
      "cloudwatch",
      "describe-alarms",
      "--region",
      "ap-northeast-2",
      "--alarm-names",
      ...ALARMS,
      "--state-value",
      "ALARM",
      "--output",
      "json",
    ]);
  });

  test("an alarm in ALARM since before the deploy does not cancel the refresh (the deploy may be its fix); it clearing after the watch is a success", async () => {
    const lines: string[] = [];
    const old: [string, string] = ["shop-prod-latency-p99", before];
    const { run, calls } = stand_in(["InProgress", "InProgress", "Successful"], [[old], [old], [old], [old], []]);
    const time = clocked();
    const code = await waitForRefresh({ ...common, ...time, group: "g", run, log: (l) => lines.push(l) });
    expect(code).toBe(0);
    expect(calls.some((c) => c.includes("cancel-instance-refresh"))).toBe(false);
    expect(lines).toContain("in ALARM after the rollout: shop-prod-latency-p99");
    expect(lines.at(-1)).toBe("the release alarms are out of ALARM");
  });

  test("an incident alarm (in ALARM at the first look, since before the deploy) never cancels the refresh, even when it clears and fires again; the state's own change time counts, not the evaluation's", async () => {
    const lines: string[] = [];
    const again = new Date(START + 7 * 60_000).toISOString();
    // in ALARM since before; OK on one look; in ALARM again during the refresh (a fresh transition)
    const { run, calls } = stand_in(
      ["InProgress", "InProgress", "InProgress", "Successful"],
      [[["shop-prod-target-5xx-rate", before]], [], [["shop-prod-target-5xx-rate", again]], []],
    );
    expect(await waitForRefresh({ ...common, ...clocked(), group: "g", run, log: (l) => lines.push(l) })).toBe(0);
    expect(calls.some((c) => c.includes("cancel-instance-refresh"))).toBe(false);
    // StateUpdatedTimestamp moves with the evaluation state too: StateTransitionedTimestamp says when it went into ALARM
    const transitioned: Runner = async (_command, args) => {
      if (args.includes("describe-alarms") && !args.includes("--state-value")) {
        return {
          status: 0,
          stdout: JSON.stringify({ MetricAlarms: ALARMS.map((AlarmName) => ({ AlarmName })) }),
          stderr: "",
        };
      }
      if (args.includes("describe-alarms")) {
        const MetricAlarms = [
          { AlarmName: "shop-prod-latency-p99", StateTransitionedTimestamp: before, StateUpdatedTimestamp: during },
        ];
        return { status: 0, stdout: JSON.stringify({ MetricAlarms }), stderr: "" };
      }
      if (args.includes("describe-scaling-activities")) return { status: 0, stdout: activities(), stderr: "" };
      return {
        status: 0,
        stdout: refreshes(refresh("InProgress", { StartTime: new Date(START).toISOString() })),
        stderr: "",
      };
    };
    const time = clocked();
    const code = await waitForRefresh({
      ...common,
      ...time,
      timeoutMs: 180_000,
      group: "g",
      run: transitioned,
      log: () => undefined,
    });
    expect(code).toBe(1); // the timeout, not a cancel
    expect(time.now() - START).toBeGreaterThanOrEqual(180_000);
  });

  test("the watch lasts as long as the slowest release alarm takes to fire, plus its metrics' delay", () => {
    const doc = (alarms: Array<Record<string, unknown>>) => ({
      resource: { aws_cloudwatch_metric_alarm: Object.fromEntries(alarms.map((a, i) => [`A${i}`, a])) },
    });
    // 5 periods of 60 s (dev's 4 of 5), and a metric-math alarm whose period is in its queries
    const dev = releaseAlarms(
      doc([
        {
          alarm_name: "shop-dev-app-5xx-rate",
          evaluation_periods: 5,
          metric_query: [{ id: "e", metric: { period: 60 } }],
        },
        { alarm_name: "shop-dev-app-cpu", evaluation_periods: 15, period: 300 }, // not a release alarm
      ]),
    );
    expect(dev).toEqual({ names: ["shop-dev-app-5xx-rate"], watchMs: (5 * 60 + 120) * 1000 });
    expect(releaseAlarms(doc([]))).toEqual({ names: [], watchMs: ALARM_WATCH_MS });
    expect(releaseAlarms(shippedStack("prod").doc as Record<string, any>).watchMs).toBeGreaterThanOrEqual(
      ALARM_WATCH_MS,
    );
  });

  test("a rollout counts as good only after the watch: an alarm that goes into ALARM minutes after the refresh ended is caught", async () => {
    const lines: string[] = [];
    const late: [string, string] = ["shop-prod-alb-5xx-rate", during];
    // the refresh ends at once; the alarm fires on the third look, and stays
    const { run } = stand_in(["Successful"], [[], [], [late]]);
    const time = clocked();
    expect(await waitForRefresh({ ...common, ...time, group: "g", run, log: (l) => lines.push(l) })).toBe(1);
    expect(time.now() - START).toBe(ALARM_WATCH_MS + ALARM_SETTLE_MS);
    expect(lines.at(-1)).toMatch(
      /^still in ALARM 15 min after the rollout: shop-prod-alb-5xx-rate\. The deploy stops here, .*deploy the previous app\.version$/,
    );
    // and with nothing in ALARM, it is done once the watch is over, not before
    const quiet = stand_in(["Successful"], [[]]);
    const quietTime = clocked();
    expect(await waitForRefresh({ ...common, ...quietTime, group: "g", run: quiet.run, log: () => undefined })).toBe(0);
    expect(quietTime.now() - START).toBe(ALARM_WATCH_MS);
  });

  test("a wait that starts after the refresh (run by hand after cdktf deploy, or again after an error) still cancels it for an alarm that fired since the refresh began (review AU)", async () => {
    const fired: [string, string] = ["shop-prod-target-5xx-rate", new Date(START + 10 * 60_000).toISOString()];
    for (const since of [undefined, new Date(START + 30 * 60_000)]) {
      const lines: string[] = [];
      const { run, calls } = stand_in(["InProgress"], [[fired]]);
      // the refresh began at START (stand_in), the wait 30 minutes later
      let clock = START + 30 * 60_000;
      const code = await waitForRefresh({
        ...common,
        since,
        now: () => clock,
        sleep: async (ms: number) => {
          clock += ms;
        },
        group: "g",
        run,
        log: (l) => lines.push(l),
      });
      expect({ since, code }).toEqual({ since, code: 1 });
      expect(lines).toContain(
        "in ALARM during the rollout: shop-prod-target-5xx-rate; cancelling the instance refresh",
      );
      expect(calls.some((c) => c.includes("cancel-instance-refresh"))).toBe(true);
    }
    // one in ALARM since before the refresh began is still the incident the deploy may fix
    const { run, calls } = stand_in(["InProgress", "Successful"], [[["shop-prod-target-5xx-rate", before]], []]);
    let clock = START + 30 * 60_000;
    const code = await waitForRefresh({
      ...common,
      since: undefined,
      now: () => clock,
      sleep: async (ms: number) => {
        clock += ms;
      },
      group: "g",
      run,
      log: () => undefined,
    });
    expect(code).toBe(0);
    expect(calls.some((c) => c.includes("cancel-instance-refresh"))).toBe(false);
  });

  test("a layout without a group (its deploy ran in the apply) is watched the same way; no alarms to read is no wait", async () => {
    const firing = stand_in([], [[["shop-dev-app-5xx-rate", during]]]);
    expect(
      await waitForRefresh({ ...common, ...clocked(), group: undefined, run: firing.run, log: () => undefined }),
    ).toBe(1);
    const none = stand_in([], [[]]);
    const time = clocked();
    expect(
      await waitForRefresh({ ...common, ...time, alarms: [], group: undefined, run: none.run, log: () => undefined }),
    ).toBe(0);
    expect([time.now(), none.calls]).toEqual([START, []]);
  });
});

describe("a refresh whose new servers never come into service", () => {
  const at = (minute: number) => `2026-11-25T10:${String(minute).padStart(2, "0")}:00Z`;

  test("finished launches since the refresh began, newest first; earlier ones, ones still going and other activities are left out", () => {
    const output = activities(
      launch("i-1", "Cancelled", at(5)),
      launch("i-2", "Successful", at(7)),
      launch("i-3", "Failed", at(6)),
      launch("i-4", "InProgress", at(8)),
      launch("i-0", "Cancelled", "2026-11-25T09:59:59Z"),
      { Description: "Terminating EC2 instance: i-9", StartTime: at(9), StatusCode: "Cancelled" },
    );
    const launches = finishedLaunches(output, Date.parse(at(0)));
    expect(launches.map((l) => [l.id, l.failed, l.refused])).toEqual([
      ["a-i-2", false, false],
      ["a-i-3", true, true],
      ["a-i-1", true, false],
    ]);
    expect(launches[2].line).toBe(
      `${at(5)} Launching a new EC2 instance: i-1: Cancelled: Instance failed to complete user's Lifecycle Action`,
    );
  });

  test("only failures in a row count: one failed boot before a server that came into service is not a template that does not boot", () => {
    const since = Date.parse(at(0));
    const scattered = activities(
      launch("i-1", "Cancelled", at(1)),
      launch("i-2", "Cancelled", at(2)),
      launch("i-3", "Successful", at(3)),
      launch("i-4", "Cancelled", at(4)),
    );
    expect(failingStreak(finishedLaunches(scattered, since)).map((l) => l.id)).toEqual(["a-i-4"]);
    const stuck = activities(
      launch("i-1", "Successful", at(1)),
      launch("i-2", "Cancelled", at(2)),
      launch("i-3", "Failed", at(3)),
      launch("i-4", "Cancelled", at(4)),
    );
    expect(failingStreak(finishedLaunches(stuck, since)).map((l) => l.id)).toEqual(["a-i-4", "a-i-3", "a-i-2"]);
  });

  test("EC2 refusing launches for want of capacity in an AZ (or throttling them) is no template that does not boot: told, not counted; a refusal of the template itself counts (review AU)", () => {
    const since = Date.parse(at(0));
    const refused = (instance: string, minute: number, reason: string) => ({
      ...launch(instance, "Failed", at(minute)),
      Description: `Launching a new EC2 instance.  Status Reason: ${reason}`,
      StatusMessage: reason,
    });
    const capacity = (az: string) =>
      `We currently do not have sufficient t3.small capacity in the Availability Zone you requested (${az}). Our system will be working on provisioning additional capacity. Launching EC2 instance failed.`;
    const short = activities(
      launch("i-1", "Successful", at(1)),
      refused("i-2", 2, capacity("ap-northeast-2a")),
      refused("i-3", 3, capacity("ap-northeast-2b")),
      refused("i-4", 4, "InsufficientInstanceCapacity: no capacity. Launching EC2 instance failed."),
      refused("i-5", 5, "Request limit exceeded (RequestLimitExceeded). Launching EC2 instance failed."),
    );
    const launches = finishedLaunches(short, since);
    expect(launches.map((l) => [l.id, l.refused, l.transient])).toEqual([
      ["a-i-5", true, true],
      ["a-i-4", true, true],
      ["a-i-3", true, true],
      ["a-i-2", true, true],
      ["a-i-1", false, false],
    ]);
    expect(failingStreak(launches)).toEqual([]);
    // between abandoned boots they neither count nor break the streak
    const boots = activities(
      launch("i-1", "Cancelled", at(1)),
      refused("i-2", 2, capacity("ap-northeast-2a")),
      launch("i-3", "Cancelled", at(3)),
      launch("i-4", "Cancelled", at(4)),
    );
    expect(failingStreak(finishedLaunches(boots, since)).map((l) => l.id)).toEqual(["a-i-4", "a-i-3", "a-i-1"]);
    // a template EC2 cannot launch at all is refused every time, in every AZ: it counts
    const arch =
      "The architecture 'arm64' of the specified instance type does not match the architecture 'x86_64' of the specified AMI. Launching EC2 instance failed.";
    const broken = activities(refused("i-1", 1, arch), refused("i-2", 2, arch), refused("i-3", 3, arch));
    expect(failingStreak(finishedLaunches(broken, since)).map((l) => [l.id, l.transient])).toEqual([
      ["a-i-3", false],
      ["a-i-2", false],
      ["a-i-1", false],
    ]);
  });

  test(`${FAILED_LAUNCHES} launches in a row that never came into service end the wait: exit 1, each launch, where to look and how to stop it`, async () => {
    const lines: string[] = [];
    const failing = [
      launch("i-1", "Successful", at(1)),
      launch("i-2", "Cancelled", at(2)),
      // EC2 refused it: told once, and counted in the streak (the group launches another)
      launch("i-4", "Failed", at(3)),
      // before the refresh began (10:00): not this refresh's
      launch("i-0", "Cancelled", "2026-11-25T09:58:00Z"),
      launch("i-00", "Cancelled", "2026-11-25T09:59:00Z"),
    ];
    const calls: string[][] = [];
    const run: Runner = async (command, args) => {
      calls.push([command, ...args]);
      if (args.includes("describe-scaling-activities")) {
        // a third failed launch in a row shows on the second poll
        const polls = calls.filter((call) => call.includes("describe-scaling-activities")).length;
        return {
          status: 0,
          stdout: activities(...failing, ...(polls > 1 ? [launch("i-3", "Cancelled", at(4))] : [])),
          stderr: "",
        };
      }
      return { status: 0, stdout: refreshes(refresh("InProgress")), stderr: "" };
    };
    const code = await waitForRefresh({
      region: "ap-northeast-2",
      group: "shop-prod-app-x",
      run,
      intervalMs: 1,
      timeoutMs: 60_000,
      sleep: async () => undefined,
      log: (line) => lines.push(line),
    });
    expect(code).toBe(1);
    expect(calls.filter((call) => call.includes("describe-instance-refreshes"))).toHaveLength(2);
    // told once, though read on both polls
    expect(
      lines.filter((line) => line.includes("i-4: Failed") && line.endsWith("the group tries again)")),
    ).toHaveLength(1);
    const streak = lines.slice(-4, -1);
    expect(streak).toEqual([
      expect.stringContaining("i-3: Cancelled"),
      expect.stringContaining("i-4: Failed"),
      expect.stringContaining("i-2: Cancelled"),
    ]);
    expect(lines.at(-1)).toMatch(
      /^the last 3 servers launched since the refresh began never came into service, and none in between did.*cancel-instance-refresh --region ap-northeast-2 --auto-scaling-group-name shop-prod-app-x.*deploy the previous app\.version/,
    );
  });
});

describe("when AWS answers with an error, and when the watch ends early (review O)", () => {
  const ALARM = "shop-prod-target-5xx-rate";
  /** A stand-in CLI: `answer(args, call)` for each call, a refresh InProgress by default; records the calls. */
  function cli(
    answer: (args: readonly string[], n: number) => { status: number; stdout?: string; stderr?: string } | undefined,
  ) {
    const calls: string[][] = [];
    const run: Runner = async (_command, args) => {
      calls.push([...args]);
      const given = answer(args, calls.length);
      if (given) return { stdout: "", stderr: "", ...given };
      if (args.includes("describe-alarms") && !args.includes("--state-value"))
        return { status: 0, stdout: JSON.stringify({ MetricAlarms: [{ AlarmName: ALARM }] }), stderr: "" };
      if (args.includes("describe-alarms")) return { status: 0, stdout: "{}", stderr: "" };
      if (args.includes("describe-scaling-activities")) return { status: 0, stdout: activities(), stderr: "" };
      return { status: 0, stdout: refreshes(refresh("InProgress")), stderr: "" };
    };
    return { run, calls };
  }
  const slept: number[] = [];
  const base = {
    region: "ap-northeast-2",
    group: "shop-prod-app-x",
    intervalMs: 1000,
    timeoutMs: 60_000,
    alarms: [ALARM],
    sleep: async (ms: number) => {
      slept.push(ms);
    },
  };
  const unwatched =
    "the group's instance refresh may still be running, and no longer watched: a release alarm will not cancel it. " +
    "See it: aws autoscaling describe-instance-refreshes --region ap-northeast-2 --auto-scaling-group-name shop-prod-app-x; " +
    "stop it: aws autoscaling cancel-instance-refresh --region ap-northeast-2 --auto-scaling-group-name shop-prod-app-x";

  test("a throttled call or a dropped connection is tried again, 2, 4, 8 and 16 s apart, and the watch goes on", async () => {
    slept.length = 0;
    let refreshCalls = 0;
    const { run } = cli((args) => {
      if (!args.includes("describe-instance-refreshes")) return undefined;
      refreshCalls++;
      if (refreshCalls === 1) return { status: 254, stderr: "An error occurred (Throttling): Rate exceeded" };
      if (refreshCalls === 2) return { status: 255, stderr: "Could not connect to the endpoint URL" };
      return { status: 0, stdout: refreshes(refresh("Successful")) };
    });
    expect(await waitForRefresh({ ...base, run, alarms: [], log: () => undefined })).toBe(0);
    expect(slept.slice(0, 2)).toEqual([2000, 4000]);
  });

  test("an error that does not pass, or one that lasts, ends the watch saying the refresh may still run and how to see and stop it", async () => {
    const expired = cli((args) =>
      args.includes("describe-scaling-activities")
        ? {
            status: 254,
            stderr: "An error occurred (ExpiredToken): The security token included in the request is expired",
          }
        : undefined,
    );
    await expect(waitForRefresh({ ...base, run: expired.run, log: () => undefined })).rejects.toThrow(
      `aws autoscaling describe-scaling-activities failed: An error occurred (ExpiredToken): The security token included in the request is expired\n${unwatched}`,
    );
    // not tried again: a token that expired stays expired
    expect(expired.calls.filter((c) => c.includes("describe-scaling-activities"))).toHaveLength(1);
    const throttled = cli((args) =>
      args.includes("describe-instance-refreshes") ? { status: 254, stderr: "Rate exceeded" } : undefined,
    );
    await expect(waitForRefresh({ ...base, run: throttled.run, log: () => undefined })).rejects.toThrow(
      `aws autoscaling describe-instance-refreshes failed (tried ${AWS_TRIES} times): Rate exceeded\n${unwatched}`,
    );
  });

  test("what the CLI ends with 255 but never passes (an unknown profile, partial credentials, no region) is not tried again (review DE); no credentials found is, as an instance role's metadata call that timed out says just that (review DG)", async () => {
    for (const stderr of [
      "The config profile (deploy) could not be found",
      "Partial credentials found in env, missing: AWS_SECRET_ACCESS_KEY",
      'You must specify a region. You can also configure your region by running "aws configure".',
    ]) {
      slept.length = 0;
      const denied = cli((args) =>
        args.includes("describe-instance-refreshes") ? { status: 255, stderr } : undefined,
      );
      await expect(waitForRefresh({ ...base, run: denied.run, log: () => undefined })).rejects.toThrow(
        `aws autoscaling describe-instance-refreshes failed: ${stderr}\n${unwatched}`,
      );
      expect(denied.calls.filter((c) => c.includes("describe-instance-refreshes"))).toHaveLength(1);
      expect(slept).toEqual([]);
    }
    slept.length = 0;
    let calls = 0;
    const flaky = cli((args) => {
      if (!args.includes("describe-instance-refreshes")) return undefined;
      calls++;
      return calls === 1
        ? {
            status: 255,
            stderr: 'Unable to locate credentials. You can configure credentials by running "aws configure".',
          }
        : { status: 0, stdout: refreshes(refresh("Successful")) };
    });
    expect(await waitForRefresh({ ...base, run: flaky.run, alarms: [], log: () => undefined })).toBe(0);
    expect(slept[0]).toBe(2000);
  });

  test("an alarm fires and the cancel fails: the error says the refresh still rolls; a refresh that ended meanwhile is said so", async () => {
    const firing = (cancel: { status: number; stderr: string }) =>
      cli((args) => {
        if (args.includes("describe-alarms") && args.includes("--state-value"))
          return {
            status: 0,
            stdout: JSON.stringify({
              MetricAlarms: [{ AlarmName: ALARM, StateUpdatedTimestamp: new Date(Date.now() + 60_000).toISOString() }],
            }),
          };
        return args.includes("cancel-instance-refresh") ? cancel : undefined;
      });
    const denied = firing({ status: 254, stderr: "An error occurred (AccessDenied): not authorized" });
    await expect(waitForRefresh({ ...base, since: new Date(), run: denied.run, log: () => undefined })).rejects.toThrow(
      `aws autoscaling cancel-instance-refresh failed: An error occurred (AccessDenied): not authorized\n${unwatched}`,
    );
    const lines: string[] = [];
    const gone = firing({ status: 254, stderr: "An error occurred (ActiveInstanceRefreshNotFound): none" });
    expect(await waitForRefresh({ ...base, since: new Date(), run: gone.run, log: (l) => lines.push(l) })).toBe(1);
    expect(lines.at(-1)).toMatch(
      /^no refresh was running any more \(ended, or cancelled by a first try whose answer was lost\): servers not yet replaced keep the release they run/,
    );
  });

  test("a release alarm AWS does not have (renamed, another region) is refused before anything is watched", async () => {
    const { run, calls } = cli((args) =>
      args.includes("describe-alarms") && !args.includes("--state-value") ? { status: 0, stdout: "{}" } : undefined,
    );
    await expect(waitForRefresh({ ...base, run, log: () => undefined })).rejects.toThrow(
      `the release alarms ${ALARM} are not in ap-northeast-2: a rollout would go unwatched`,
    );
    expect(calls.some((c) => c.includes("describe-instance-refreshes"))).toBe(false);
  });

  test("giving up at the timeout says the refresh goes on, unwatched, and how to see and stop it", async () => {
    const lines: string[] = [];
    let clock = 0;
    const { run } = cli(() => undefined);
    const code = await waitForRefresh({
      ...base,
      alarms: [],
      run,
      timeoutMs: 3000,
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
      log: (l) => lines.push(l),
    });
    expect(code).toBe(1);
    expect(lines.at(-1)).toBe(`still running after 0 min: giving up waiting. ${unwatched}`);
  });
});

test("the group to watch: none without one; a stack with one whose state has no output, or no release alarms to watch, is an error, not a rollout passed unwatched", () => {
  const prod = { name: "prod", document: shippedStack("prod").doc as Record<string, any> };
  const alarms = releaseAlarms(prod.document);
  const outputs = { app_autoscaling_group: { value: "shop-prod-app-x" } };
  expect(alarms.names.length).toBeGreaterThan(0);
  expect(watchedGroup(prod, outputs, { names: alarms.names, ignored: false })).toBe("shop-prod-app-x");
  expect(() => watchedGroup(prod, {}, { names: alarms.names, ignored: false })).toThrow(
    "stack prod has an Auto Scaling group, but the state's outputs have no app_autoscaling_group",
  );
  expect(() => watchedGroup(prod, outputs, { names: [], ignored: false })).toThrow(
    "stack prod has an Auto Scaling group but no release alarms (names ending -alb-5xx-rate, -target-5xx-rate, " +
      "-app-5xx-rate, -latency-p95, -latency-p99): its rollout would go unwatched. Set ROLLOUT_ALARMS=ignore",
  );
  expect(watchedGroup(prod, outputs, { names: [], ignored: true })).toBe("shop-prod-app-x");
  const dev = { name: "dev", document: shippedStack("dev").doc as Record<string, any> };
  expect(watchedGroup(dev, {}, { names: [], ignored: false })).toBeUndefined();
});

test("without a refresh start or ROLLOUT_SINCE, only launches since the wait began count (not old ones)", async () => {
  const old = [1, 2, 3].map((n) => launch(`i-${n}`, "Cancelled", "2026-11-25T09:00:00Z"));
  let polls = 0;
  const run: Runner = async (_command, args) => {
    if (args.includes("describe-scaling-activities")) return { status: 0, stdout: activities(...old), stderr: "" };
    const status = polls++ < 2 ? "InProgress" : "Successful";
    return { status: 0, stdout: refreshes(refresh(status, { StartTime: undefined })), stderr: "" };
  };
  const code = await waitForRefresh({
    region: "ap-northeast-2",
    group: "g",
    run,
    intervalMs: 1,
    timeoutMs: 60_000,
    sleep: async () => undefined,
    now: () => Date.parse("2026-11-25T10:30:00Z"),
    log: () => undefined,
  });
  expect(code).toBe(0);
});

describe("how long wait-rollout waits", () => {
  const prod = () => shippedStack("prod").resources("aws_autoscaling_group")[0].values;

  test("prod, at its largest (9 servers, 4 at a time): three whole boots with their warmup, health checks and draining, and both checkpoints", () => {
    const group = prod();
    expect([group.max_size, group.instance_refresh.preferences.max_healthy_percentage]).toEqual([9, 150]);
    const boot = group.initial_lifecycle_hook[0].heartbeat_timeout;
    const seconds = rolloutTimeoutSeconds(group);
    expect(seconds).toBe(
      3 * (boot + group.default_instance_warmup + 120) +
        2 * Number(group.instance_refresh.preferences.checkpoint_delay),
    );
    // more than the old fixed hour, which a refresh of boots with long migrations outran
    expect(seconds).toBeGreaterThan(3 * boot);
  });

  test("staging (2 to 4 servers): the size that takes the most batches counts, 3 servers one at a time, not 4 two at a time", () => {
    const group = shippedStack("staging").resources("aws_autoscaling_group")[0].values;
    expect([group.min_size, group.max_size]).toEqual([2, 4]);
    const boot = group.initial_lifecycle_hook[0].heartbeat_timeout;
    const checkpoints = 2 * Number(group.instance_refresh.preferences.checkpoint_delay);
    expect(rolloutTimeoutSeconds(group)).toBe(3 * (boot + group.default_instance_warmup + 120) + checkpoints);
  });

  test("ROLLOUT_TIMEOUT_MINUTES overrides it; a value that is not a positive number is refused, naming the variable; no group, no wait", () => {
    const document = { resource: { aws_autoscaling_group: { fleet: prod() } } };
    expect(rolloutTimeoutMs(undefined, document)).toBe(rolloutTimeoutSeconds(prod()) * 1000);
    expect(rolloutTimeoutMs("90", document)).toBe(90 * 60_000);
    for (const bad of ["an hour", "0", "-5"]) {
      expect(() => rolloutTimeoutMs(bad, document)).toThrow(
        `ROLLOUT_TIMEOUT_MINUTES must be a positive number of minutes (got "${bad}")`,
      );
    }
    expect(rolloutTimeoutMs(undefined, { resource: {} })).toBe(0);
    // a group without whole sizes (a token, or none) is an error, not a wait of the checkpoints alone
    expect(() => rolloutTimeoutSeconds({ ...prod(), max_size: "${var.max}" })).toThrow(
      /no whole min_size and max_size/,
    );
  });
});

describe("wait-rollout reading the deployed stack's outputs", () => {
  const backendRequired = {
    status: 1,
    stdout: "",
    stderr:
      'Error: Backend initialization required, please run "terraform init"\n\nReason: Initial configuration of the requested backend "local"\n\nrun "terraform init" with either the "-reconfigure" or "-migrate-state" flags to use the current configuration.',
  };
  const stackIn = (dir: string) => ({ name: "staging", outdir: path.dirname(dir), dir, document: {} });

  test("in a stack folder Terraform was never initialised in on this machine, it says to run init, not Terraform's advice to migrate (review CV)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "never-initialised-"));
    try {
      const error = stateReadFailed("output", backendRequired, stackIn(dir));
      expect(error).toBeInstanceOf(OpsError);
      expect(error.message).toBe(
        `terraform output failed in ${shown(dir)}: Terraform was never initialised there on this machine (a fresh clone, ` +
          `another runner), so it cannot reach staging's state: terraform -chdir=${shown(dir)} init (npm run plan -- ` +
          `staging runs it), then run this again`,
      );
      // initialised once: a backend that moved since is told as such, with what Terraform said
      fs.mkdirSync(path.join(dir, ".terraform"));
      const moved = stateReadFailed("output", backendRequired, stackIn(dir)).message;
      expect(moved).toContain("Backend initialization required");
      expect(moved).toContain("staging's state backend is not the one Terraform last used");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

import { refreshVerdict, rolloutSince, waitForRefresh, type Runner } from "../../src/ops/rollout";

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
    });
    for (const status of ["Cancelled", "RollbackSuccessful", "RollbackFailed"]) {
      expect(refreshVerdict(refreshes(refresh(status))).state).toBe("failed");
    }
    const older = refresh("Failed", { InstanceRefreshId: "r-0", StartTime: "2026-11-24T10:00:00Z" });
    expect(refreshVerdict(refreshes(older, refresh("Successful"))).state).toBe("done");
    expect(refreshVerdict(refreshes()).state).toBe("done");
  });
});

describe("waitForRefresh", () => {
  /** A runner standing in for the AWS CLI: answers with the next status of a script, and records calls. */
  function scripted(statuses: string[]): { run: Runner; calls: string[][] } {
    const calls: string[][] = [];
    const run: Runner = async (command, args) => {
      calls.push([command, ...args]);
      const status = statuses[Math.min(calls.length - 1, statuses.length - 1)];
      return { status: 0, stdout: refreshes(refresh(status)), stderr: "" };
    };
    return { run, calls };
  }
  const base = { region: "ap-northeast-2", intervalMs: 1000, log: () => undefined, sleep: async () => undefined };

  test("polls the group's refreshes until it succeeds: exit 0", async () => {
    const { run, calls } = scripted(["Pending", "InProgress", "Successful"]);
    expect(await waitForRefresh({ ...base, group: "shop-prod-app-x", run, timeoutMs: 60_000 })).toBe(0);
    expect(calls).toHaveLength(3);
    expect(calls[0]).toEqual(
      expect.arrayContaining(["describe-instance-refreshes", "--auto-scaling-group-name", "shop-prod-app-x"]),
    );
  });

  test("with the deploy's start, an earlier refresh is not this deploy's: none since is nothing to wait for, a newer one counts", () => {
    const earlier = refresh("Failed", { InstanceRefreshId: "r-0", StartTime: "2026-11-24T10:00:00Z" });
    const since = new Date("2026-11-24T11:00:00Z");
    expect(refreshVerdict(refreshes(earlier), since)).toEqual({
      state: "done",
      message: "no instance refresh since 2026-11-24T11:00:00.000Z: nothing to wait for",
    });
    expect(refreshVerdict(refreshes(earlier)).state).toBe("failed"); // without a start, the newest counts
    const ours = refresh("InProgress", { InstanceRefreshId: "r-1", StartTime: "2026-11-24T11:00:07Z" });
    expect(refreshVerdict(refreshes(earlier, ours), since)).toMatchObject({ state: "waiting" });
    expect(refreshVerdict(refreshes(ours, earlier), since).message).toMatch(/^instance refresh r-1 InProgress/);
  });

  test("ROLLOUT_SINCE: unset is no start; an ISO 8601 time is one; anything else is refused, naming the variable and an example", () => {
    expect(rolloutSince(undefined)).toBeUndefined();
    expect(rolloutSince("")).toBeUndefined();
    expect(rolloutSince("2026-12-04T15:30:00Z")?.toISOString()).toBe("2026-12-04T15:30:00.000Z");
    for (const bad of ["yesterday", "1733326200", "2026-13-40T99:00:00Z"]) {
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
    expect(stuck.calls.length).toBe(6); // t = 0 .. 5 s, one poll a second
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
});

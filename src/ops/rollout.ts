import { OpsError } from "./terraform";

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

/** Instance refresh statuses that are still moving. */
const IN_PROGRESS = new Set(["Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"]);

export interface RefreshVerdict {
  /** done: ended well (or nothing to wait for); failed: ended badly; waiting: still running. */
  readonly state: "done" | "failed" | "waiting";
  readonly message: string;
}

/**
 * What the newest instance refresh in `describe-instance-refreshes` JSON output says; with `since`,
 * only a refresh started at or after it counts (one the deploy started, not an earlier one's end).
 */
export function refreshVerdict(describeOutput: string, since?: Date): RefreshVerdict {
  const refreshes = (JSON.parse(describeOutput).InstanceRefreshes ?? []) as Array<Record<string, any>>;
  const started = (refresh: Record<string, any>) => Date.parse(String(refresh.StartTime ?? ""));
  const newest = refreshes
    .filter((refresh) => since === undefined || started(refresh) >= since.getTime())
    .sort((a, b) => (started(b) || 0) - (started(a) || 0))[0];
  if (!newest) {
    const when = since ? ` since ${since.toISOString()}` : "";
    return { state: "done", message: `no instance refresh${when}: nothing to wait for` };
  }
  const progress = newest.PercentageComplete === undefined ? "" : `, ${newest.PercentageComplete}% done`;
  const reason = newest.StatusReason ? `: ${newest.StatusReason}` : "";
  const what = `instance refresh ${newest.InstanceRefreshId} ${newest.Status}${progress}${reason}`;
  if (newest.Status === "Successful") return { state: "done", message: what };
  if (IN_PROGRESS.has(newest.Status)) return { state: "waiting", message: what };
  return { state: "failed", message: what };
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

/** Polls until the newest refresh ends; resolves to the exit code (0 done, 1 failed or timed out). */
export async function waitForRefresh(options: WaitOptions): Promise<number> {
  const { run, log } = options;
  const sleep = options.sleep ?? ((ms: number) => new Promise((resolve) => setTimeout(resolve, ms)));
  const now = options.now ?? Date.now;
  if (!options.group) {
    log("no Auto Scaling group in this environment (not load-balanced): nothing to wait for");
    return 0;
  }
  const deadline = now() + options.timeoutMs;
  let last = "";
  for (;;) {
    const result = await run("aws", [
      "autoscaling",
      "describe-instance-refreshes",
      "--region",
      options.region,
      "--auto-scaling-group-name",
      options.group,
      "--max-records",
      "5",
      "--output",
      "json",
    ]);
    if (result.status !== 0)
      throw new OpsError(`aws autoscaling describe-instance-refreshes failed: ${result.stderr.trim()}`);
    const verdict = refreshVerdict(result.stdout, options.since);
    if (verdict.message !== last) log(verdict.message);
    last = verdict.message;
    if (verdict.state === "done") return 0;
    if (verdict.state === "failed") {
      log(FAILED_REFRESH_HINT);
      return 1;
    }
    if (now() >= deadline) {
      log(`still running after ${Math.round(options.timeoutMs / 60000)} min: giving up waiting (the refresh goes on)`);
      return 1;
    }
    await sleep(options.intervalMs);
  }
}

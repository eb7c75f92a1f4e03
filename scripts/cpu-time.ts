import { spawnSync } from "node:child_process";
import * as fs from "node:fs";

/**
 * CPU time of the processes this process has started and waited for, and of the processes they
 * waited for in turn (Linux's cutime and cstime in /proc/self/stat: user and system time, in clock
 * ticks). `npm run bench` reads it before and after each measured command, so the difference is
 * what the command's whole process tree used, without wrapping the command in anything. Unlike
 * wall time on a shared or throttled machine, it changes little with what else the machine is
 * doing, so it shows what a change to the tests saves. A process that nobody waited for (a daemon
 * left running) is not counted. Undefined where /proc is not there (macOS, Windows).
 */
export function childrenCpuSeconds(): number | undefined {
  if (!fs.existsSync("/proc/self/stat")) return undefined;
  // (before reading: the first call asks getconf, a child of its own, which must not fall between
  // two readings)
  const hz = clockTicksPerSecond();
  let stat: string;
  try {
    stat = fs.readFileSync("/proc/self/stat", "utf8");
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after its last ")"
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields 16 and 17 of proc(5), counted from 1 with pid and comm as 1 and 2: here from 0 at state (3)
  const ticks = Number(fields[16 - 3]) + Number(fields[17 - 3]);
  return Number.isFinite(ticks) ? ticks / hz : undefined;
}

let ticksPerSecond: number | undefined;

/** The kernel's USER_HZ (`getconf CLK_TCK`), 100 on every Linux build in use. */
function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    const answer = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout?.trim());
    ticksPerSecond = Number.isInteger(answer) && answer > 0 ? answer : 100;
  }
  return ticksPerSecond;
}

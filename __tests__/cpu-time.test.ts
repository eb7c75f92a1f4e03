import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { childrenCpuSeconds } from "../scripts/cpu-time";

// `npm run bench` reports the CPU time of each measured command's process tree beside its wall
// time, from the CPU time of the bench's waited-for children (scripts/cpu-time.ts).

const linux = fs.existsSync("/proc/self/stat");
if (!linux) console.info("skipped: the CPU time of child processes is read from /proc, which this system lacks");

/** Work for bash: a loop of 150,000 turns (0.15-0.3 s of CPU, nearly all user time). */
const WORK = "for ((i = 0; i < 150000; i++)); do :; done";
/** Work in the kernel: a copy one byte at a time, 150,000 reads and writes (system time). */
const SYSTEM_WORK = "dd if=/dev/zero of=/dev/null bs=1 count=150000 2>/dev/null";

/**
 * Runs `script` in bash, which then prints its own CPU time and that of the children it waited for
 * (`times`); gives that sum and what childrenCpuSeconds() grew by meanwhile.
 */
function measured(script: string): { reported: number; system: number; counted: number } {
  const before = childrenCpuSeconds()!;
  // (LC_ALL=C: bash prints the times with the locale's decimal mark)
  const run = spawnSync("bash", ["--norc", "-c", `${script}\ntimes`], {
    encoding: "utf8",
    env: { ...process.env, LC_ALL: "C" },
  });
  const counted = childrenCpuSeconds()! - before;
  if (run.status !== 0) throw new Error(`bash --norc -c ${script} failed: ${run.stderr}`);
  const seconds = [...run.stdout.matchAll(/(\d+)m([\d.]+)s/g)].map(([, m, s]) => Number(m) * 60 + Number(s));
  expect(seconds).toHaveLength(4); // own user, own system, children's user, children's system
  return { reported: seconds.reduce((a, b) => a + b, 0), system: seconds[1] + seconds[3], counted };
}

(linux ? describe : describe.skip)("the CPU time of a command's process tree", () => {
  test("is what the command used itself, to the clock tick", () => {
    const { reported, counted } = measured(WORK);
    expect(reported).toBeGreaterThan(0.05);
    expect(Math.abs(counted - reported)).toBeLessThanOrEqual(0.03);
  });

  test("counts a grandchild the child waited for", () => {
    const { reported, counted } = measured(`bash --norc -c '${WORK}'`);
    expect(reported).toBeGreaterThan(0.05);
    expect(Math.abs(counted - reported)).toBeLessThanOrEqual(0.03);
  });

  test("counts system time as well as user time", () => {
    const { reported, system, counted } = measured(SYSTEM_WORK);
    expect(system).toBeGreaterThan(0.1);
    expect(Math.abs(counted - reported)).toBeLessThanOrEqual(0.03);
  });

  test("does not count the time a child only waits", () => {
    expect(measured("sleep 0.3").counted).toBeLessThan(0.1);
  });
});

// The peak-memory probe of `npm run bench` (scripts/bench.ts), apart so that a test can run it.

/**
 * Source of the preload module every measured node process loads through NODE_OPTIONS, so that the
 * whole tree (npm, the cdktf CLI and the app it spawns, tsc, jest and its workers) reports its peak.
 *
 * On Linux it reports VmHWM, the high-water mark of the process's own address space. getrusage's
 * maxRSS is the fallback only: on Linux a process spawned directly by this bench starts with the
 * bench's own peak as its maxRSS (the kernel carries it across fork and exec), which would put a
 * floor of this script's size under the commands it spawns itself.
 */
export const RSS_PROBE_SOURCE = `"use strict";
// Once per process, however many times it is preloaded (a test of it, run by the bench, adds its own).
if (!process.__benchRssProbe) {
  process.__benchRssProbe = true;
  const fs = require("node:fs");
  const report = () => {
    const file = process.env.BENCH_RSS_FILE;
    if (!file) return;
    try {
      let peakKb = process.resourceUsage().maxRSS;
      try {
        const hwm = /^VmHWM:\\s*(\\d+)\\s*kB/m.exec(fs.readFileSync("/proc/self/status", "utf8"));
        if (hwm) peakKb = Number(hwm[1]);
      } catch {}
      fs.appendFileSync(file, process.pid + "\\t" + peakKb + "\\t" + JSON.stringify(process.argv.slice(1).join(" ")) + "\\n");
    } catch {}
  };
  process.on("exit", report);
  // A process ended by SIGTERM (jest replaces a worker over its memory limit so) reports too, then
  // dies of the signal as it would have; one with a SIGTERM handler of its own (an app that drains)
  // is left to it, and reports when it exits.
  const onTerm = () => {
    if (process.listenerCount("SIGTERM") > 1) return;
    report();
    process.removeListener("SIGTERM", onTerm);
    process.kill(process.pid, "SIGTERM");
  };
  process.on("SIGTERM", onTerm);
}
`;

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { RSS_PROBE_SOURCE } from "../scripts/rss-probe";
import { tempDir } from "./helpers";

// `npm run bench` measures the peak memory of every node process of a command through a preload
// probe: also of one ended by SIGTERM (jest replaces a worker over its memory limit so), without
// changing how a process that drains on SIGTERM stops.

const dir = tempDir("rss-probe-");
const probe = path.join(dir, "rss-probe.cjs");
fs.writeFileSync(probe, RSS_PROBE_SOURCE);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs `script` with the probe, sends SIGTERM once it is up; its exit and what the probe recorded. */
async function terminated(script: string) {
  const records = path.join(dir, `records-${Math.random().toString(36).slice(2)}`);
  const child = spawn(process.execPath, ["--require", probe, "-e", script], {
    env: { ...process.env, BENCH_RSS_FILE: records },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  for (let i = 0; i < 600 && !output.includes("up"); i++) await new Promise((r) => setTimeout(r, 10));
  child.kill("SIGTERM");
  // one that does not stop is killed, and the test fails on its exit
  const kill = setTimeout(() => child.kill("SIGKILL"), 5000);
  const exit = await exited.finally(() => clearTimeout(kill));
  const lines = fs.existsSync(records) ? fs.readFileSync(records, "utf8").trim().split("\n") : [];
  return { exit, output, lines, pid: child.pid };
}

test("a process ended by SIGTERM records its peak and still dies of the signal", async () => {
  const { exit, lines, pid } = await terminated('console.log("up"); setInterval(() => {}, 1000);');
  expect(exit).toEqual({ code: null, signal: "SIGTERM" });
  expect(lines).toHaveLength(1);
  const [recordedPid, peakKb] = lines[0].split("\t").map(Number);
  expect(recordedPid).toBe(pid);
  expect(peakKb).toBeGreaterThan(10_000); // a node process holds more than 10 MB
});

test("a process with a SIGTERM handler of its own drains as it would, and records its peak when it exits", async () => {
  const { exit, output, lines } = await terminated(
    'process.on("SIGTERM", () => { console.log("draining"); setTimeout(() => process.exit(0), 100); }); console.log("up"); setInterval(() => {}, 1000);',
  );
  expect(output).toContain("draining");
  expect(exit).toEqual({ code: 0, signal: null });
  expect(lines).toHaveLength(1);
});
